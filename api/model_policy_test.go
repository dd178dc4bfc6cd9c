package api_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"pgregory.net/rapid"
)

// The model's policy (SPEC §3, "Policy document"): the numbers the rules read, as the
// decimal strings the document holds, and what they mean in minor units. The model
// keeps the strings (so that PUT /v1/policy sends exactly what it believes) and parses
// them with its own small parser, not the server's.

// mPolicy is the part of the policy the model varies; the rest stays at SPEC's defaults.
type mPolicy struct {
	Timezone         string               // the local days of the daily cap
	EntryCap, DayCap string               // HOURS
	BackdateDays     int                  //
	PointsPerHour    string               // the credit rate of categories without their own
	Categories       map[string]string    // category → its credit rate
	Limits           map[[2]string]string // (kind, asset) → upper limit; SPEC's default: resident HOURS 1500
	Transfer         map[string]string    // asset → none, family, any
	ConvertRate      string               // convert.points_per_hour
	DefaultTTL       int64                // seconds
	MaxTTL           int64                // seconds
	WindowDays       int                  // reverse.station_window_days
	HoursScale       int                  // 2 at genesis; another value is an invalid policy
}

// defaultPolicy is SPEC §3's default policy document.
func defaultPolicy() mPolicy {
	return mPolicy{Timezone: "Asia/Shanghai", EntryCap: "12", DayCap: "12", BackdateDays: 30, PointsPerHour: "10",
		Categories: map[string]string{"elderly-care": "15"}, Limits: map[[2]string]string{{"resident", "HOURS"}: "1500"},
		Transfer: map[string]string{"HOURS": "family", "POINTS": "none"}, ConvertRate: "10",
		DefaultTTL: 900, MaxTTL: 86400, WindowDays: 7, HoursScale: 2}
}

// doc is the whole policy document as PUT /v1/policy takes it.
func (p mPolicy) doc() map[string]any {
	cats := map[string]any{}
	for c, r := range p.Categories {
		cats[c] = map[string]any{"points_per_hour": r}
	}
	return map[string]any{
		"timezone": p.Timezone,
		"assets":   map[string]any{"HOURS": map[string]any{"scale": p.HoursScale}, "POINTS": map[string]any{"scale": 0}},
		"credit": map[string]any{"max_hours_per_entry": p.EntryCap, "max_hours_per_day": p.DayCap,
			"backdate_days": p.BackdateDays, "points_per_hour": p.PointsPerHour, "categories": cats},
		"limits":   p.limitsDoc(),
		"transfer": map[string]any{"HOURS": p.Transfer["HOURS"], "POINTS": p.Transfer["POINTS"]},
		"convert":  map[string]any{"points_per_hour": p.ConvertRate},
		"hold":     map[string]any{"default_ttl_seconds": p.DefaultTTL, "max_ttl_seconds": p.MaxTTL},
		"reverse":  map[string]any{"station_window_days": p.WindowDays},
	}
}

// drawPolicy changes a few members of p: caps, rates, limits, modes, windows. One draw in
// ten changes the HOURS scale, which SPEC fixes at genesis (400 invalid_policy).
func drawPolicy(t *rapid.T, p mPolicy) mPolicy {
	q := p
	q.Categories = map[string]string{"elderly-care": rapid.SampledFrom([]string{"15", "0", "2.5"}).Draw(t, "pol_care")}
	q.Transfer = map[string]string{
		"HOURS":  rapid.SampledFrom([]string{"family", "any", "none"}).Draw(t, "pol_xfer_hours"),
		"POINTS": rapid.SampledFrom([]string{"none", "family", "any"}).Draw(t, "pol_xfer_points"),
	}
	// New York moves its clocks on 2026-03-08, a week after the tests' start: a 23-hour day.
	q.Timezone = rapid.SampledFrom([]string{"Asia/Shanghai", "UTC", "America/New_York"}).Draw(t, "pol_tz")
	q.MaxTTL = rapid.SampledFrom([]int64{86400, 600}).Draw(t, "pol_max_ttl")
	q.EntryCap = rapid.SampledFrom([]string{"12", "4", "2.5"}).Draw(t, "pol_entry_cap")
	q.DayCap = rapid.SampledFrom([]string{"12", "5", "8.25"}).Draw(t, "pol_day_cap")
	q.BackdateDays = rapid.SampledFrom([]int{30, 2}).Draw(t, "pol_backdate")
	q.PointsPerHour = rapid.SampledFrom([]string{"10", "7", "0.5"}).Draw(t, "pol_pph")
	q.Limits = map[[2]string]string{{"resident", "HOURS"}: rapid.SampledFrom([]string{"1500", "20", "6"}).Draw(t, "pol_upper")}
	for _, l := range [][2]string{{"resident", "POINTS"}, {"pool", "HOURS"}, {"outlet", "POINTS"}} {
		if rapid.IntRange(0, 3).Draw(t, "pol_limit_"+l[0]+"_"+l[1]) == 0 {
			q.Limits[l] = rapid.SampledFrom([]string{"5", "150"}).Draw(t, "pol_upper_"+l[0]+"_"+l[1])
		}
	}
	q.ConvertRate = rapid.SampledFrom([]string{"10", "0", "2.5", "3"}).Draw(t, "pol_convert")
	q.DefaultTTL = rapid.SampledFrom([]int64{900, 60}).Draw(t, "pol_ttl")
	q.WindowDays = rapid.SampledFrom([]int{7, 1}).Draw(t, "pol_window")
	if rapid.IntRange(0, 9).Draw(t, "pol_bad") == 0 {
		q.HoursScale = 3
	}
	return q
}

// Minor units. Rates are kept in hundredths (a rate "2.5" is 250), so that every amount
// the rules compute is an exact integer product before one division.

// minor parses a plain decimal of at most scale fractional digits into minor units; ok is
// false for anything else (the model's own reading of SPEC §2's syntax, > 0 not required).
func minor(s string, scale int) (int64, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > scale || whole == "" || len(whole) > 12 || strings.Contains(s, ".") && frac == "" {
		return 0, false
	}
	if len(whole) > 1 && whole[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(whole+frac+strings.Repeat("0", scale-len(frac)), 10, 64)
	if err != nil || strings.ContainsAny(s, "+-") {
		return 0, false
	}
	return n, true
}

// mustMinor is minor for the model's own constants.
func mustMinor(s string, scale int) int64 {
	n, ok := minor(s, scale)
	if !ok {
		panic("model: bad decimal " + s)
	}
	return n
}

// scaleOf is each asset's scale (fixed at genesis).
func scaleOf(asset string) int {
	if asset == "HOURS" {
		return 2
	}
	return 0
}

// fmtMinor formats minor units at scale as the API does: "2.50", "-3.00", "10".
func fmtMinor(n int64, scale int) string {
	if scale == 0 {
		return strconv.FormatInt(n, 10)
	}
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	p := int64(1)
	for range scale {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, n/p, scale, n%p)
}

// Policy readings, in minor units.

func (p mPolicy) entryCap() int64 { return mustMinor(p.EntryCap, 2) }
func (p mPolicy) dayCap() int64   { return mustMinor(p.DayCap, 2) }

// upper is the upper limit of kind for asset in minor units, and whether there is one.
func (p mPolicy) upper(kind, asset string) (int64, bool) {
	l, ok := p.Limits[[2]string{kind, asset}]
	if !ok {
		return 0, false
	}
	return mustMinor(l, scaleOf(asset)), true
}

func (p mPolicy) limitsDoc() map[string]any {
	doc := map[string]any{}
	for l, upper := range p.Limits {
		if doc[l[0]] == nil {
			doc[l[0]] = map[string]any{}
		}
		doc[l[0]].(map[string]any)[l[1]] = map[string]any{"upper": upper}
	}
	return doc
}

// creditRate is the points per hour of a category, in hundredths.
func (p mPolicy) creditRate(category string) int64 {
	if r, ok := p.Categories[category]; ok {
		return mustMinor(r, 2)
	}
	return mustMinor(p.PointsPerHour, 2)
}

// location is the policy's time zone.
func (p mPolicy) location() *time.Location {
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		panic("model: " + err.Error())
	}
	return loc
}

func (p mPolicy) convertRate() int64 { return mustMinor(p.ConvertRate, 2) }
func (p mPolicy) window() time.Duration {
	return time.Duration(p.WindowDays) * 24 * time.Hour
}
func (p mPolicy) backdate() time.Duration {
	return time.Duration(p.BackdateDays) * 24 * time.Hour
}

// canon is a JSON value's canonical text (sorted keys, no spaces): two bodies are "the
// same" for idempotency when their canon is (SPEC §3).
func canon(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
