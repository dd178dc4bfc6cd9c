package ledger

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"time"
	_ "time/tzdata" // the policy timezone must load on a machine without zoneinfo
)

// AssetSpec is an asset's fixed scale (decimal places).
type AssetSpec struct {
	Scale int `json:"scale"`
}

// Assets maps asset codes to their specs; fixed at genesis.
type Assets map[string]AssetSpec

// Scale returns the scale of asset and whether the asset exists.
func (a Assets) Scale(asset string) (int, bool) {
	s, ok := a[asset]
	return s.Scale, ok
}

// Codes returns the asset codes in sorted order.
func (a Assets) Codes() []string {
	codes := make([]string, 0, len(a))
	for c := range a {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}

// CategoryPolicy overrides the credit policy for one activity category.
type CategoryPolicy struct {
	PointsPerHour string `json:"points_per_hour"`
}

// CreditPolicy bounds credits. Amounts are HOURS amount strings; rates are decimals.
type CreditPolicy struct {
	MaxHoursPerEntry string                    `json:"max_hours_per_entry"`
	MaxHoursPerDay   string                    `json:"max_hours_per_day"`
	BackdateDays     int64                     `json:"backdate_days"`
	PointsPerHour    string                    `json:"points_per_hour"`
	Categories       map[string]CategoryPolicy `json:"categories"`
}

// LimitPolicy is the upper limit of one kind's balance of one asset.
type LimitPolicy struct {
	Upper string `json:"upper"`
}

// ConvertPolicy sets the hours → points conversion rate; "0" disables conversion.
type ConvertPolicy struct {
	PointsPerHour string `json:"points_per_hour"`
}

// HoldPolicy bounds hold lifetimes.
type HoldPolicy struct {
	DefaultTTLSeconds int64 `json:"default_ttl_seconds"`
	MaxTTLSeconds     int64 `json:"max_ttl_seconds"`
}

// ReversePolicy bounds what stations may reverse.
type ReversePolicy struct {
	StationWindowDays int64 `json:"station_window_days"`
}

// Transfer modes of policy.transfer.
const (
	TransferNone   = "none"
	TransferFamily = "family"
	TransferAny    = "any"
)

// Policy is the policy document of SPEC §3. A Policy from outside must pass Compile before
// the rules use it; the compiled figures live in unexported fields.
type Policy struct {
	Timezone string                          `json:"timezone"`
	Assets   Assets                          `json:"assets"`
	Credit   CreditPolicy                    `json:"credit"`
	Limits   map[Kind]map[string]LimitPolicy `json:"limits"`
	Transfer map[string]string               `json:"transfer"`
	Convert  ConvertPolicy                   `json:"convert"`
	Hold     HoldPolicy                      `json:"hold"`
	Reverse  ReversePolicy                   `json:"reverse"`

	c compiledPolicy
}

// withEmptyMaps returns p with its nil maps made empty (the maps it shares with p are not
// changed). The canonical form of an empty map is `{}` (docs/FORMAT.md), but encoding/json
// decodes a `null` to a nil map and the codec writes a nil map back as `null`: without this,
// replay accepted a policy entry with `"limits":null` as well as with `"limits":{}`, two
// encodings of one policy, the first of which no server writes (the API refuses a null).
// Assets and transfer are never empty in a valid policy.
func (p Policy) withEmptyMaps() Policy {
	if p.Credit.Categories == nil {
		p.Credit.Categories = map[string]CategoryPolicy{}
	}
	limits := make(map[Kind]map[string]LimitPolicy, len(p.Limits))
	for kind, byAsset := range p.Limits {
		if byAsset == nil {
			byAsset = map[string]LimitPolicy{}
		}
		limits[kind] = byAsset
	}
	p.Limits = limits
	return p
}

// compiledPolicy holds the policy's figures in minor units, checked by Compile.
type compiledPolicy struct {
	ok                  bool
	loc                 *time.Location
	maxPerEntry         int64 // HOURS minor units
	maxPerDay           int64
	backdateMicros      int64
	pointsPerHour       Rate
	categories          map[string]Rate
	upper               map[Kind]map[string]int64
	convert             Rate
	stationWindowMicros int64
}

// Policy limits, so that no figure can overflow the arithmetic of the rules.
const (
	maxBackdateDays   = 3650
	maxTTLSecondsCap  = 30 * 86400
	maxWindowDays     = 3650
	maxCategories     = 100
	maxCategoryLength = 64
)

const microsPerSecond = int64(1_000_000)
const microsPerDay = 86400 * microsPerSecond

// DefaultPolicy returns the policy of SPEC §3, compiled.
func DefaultPolicy() *Policy {
	p := &Policy{
		Timezone: "Asia/Shanghai",
		Assets:   Assets{AssetHours: {Scale: 2}, AssetPoints: {Scale: 0}},
		Credit: CreditPolicy{
			MaxHoursPerEntry: "12", MaxHoursPerDay: "12", BackdateDays: 30, PointsPerHour: "10",
			Categories: map[string]CategoryPolicy{"elderly-care": {PointsPerHour: "15"}},
		},
		Limits:   map[Kind]map[string]LimitPolicy{KindResident: {AssetHours: {Upper: "1500"}}},
		Transfer: map[string]string{AssetHours: TransferFamily, AssetPoints: TransferNone},
		Convert:  ConvertPolicy{PointsPerHour: "10"},
		Hold:     HoldPolicy{DefaultTTLSeconds: 900, MaxTTLSeconds: 86400},
		Reverse:  ReversePolicy{StationWindowDays: 7},
	}
	if err := p.Compile(nil); err != nil {
		panic("ledger: default policy invalid: " + err.Error())
	}
	return p
}

// Compile checks p and computes its figures. genesis is the ledger's asset table (nil for
// the genesis policy itself): the assets and their scales may never change. Every failure is
// *Error invalid_policy naming the field: the first faulty one in a fixed order (maps in
// key order), so that the same document is always refused the same way.
func (p *Policy) Compile(genesis Assets) error {
	c := compiledPolicy{}
	if err := p.compileAssets(genesis); err != nil {
		return err
	}
	loc, err := loadZone(p.Timezone)
	if err != nil {
		return err
	}
	c.loc = loc
	if err := p.compileCredit(&c); err != nil {
		return err
	}
	if err := p.compileLimits(&c); err != nil {
		return err
	}
	if err := p.compileTransfer(); err != nil {
		return err
	}
	if c.convert, err = p.rate("convert.points_per_hour", p.Convert.PointsPerHour); err != nil {
		return err
	}
	h := p.Hold
	if h.MaxTTLSeconds < 1 || h.MaxTTLSeconds > maxTTLSecondsCap {
		return badPolicy("hold.max_ttl_seconds", "hold.max_ttl_seconds must be 1 to %d", maxTTLSecondsCap)
	}
	if h.DefaultTTLSeconds < 1 || h.DefaultTTLSeconds > h.MaxTTLSeconds {
		return badPolicy("hold.default_ttl_seconds", "hold.default_ttl_seconds must be 1 to hold.max_ttl_seconds")
	}
	if w := p.Reverse.StationWindowDays; w < 0 || w > maxWindowDays {
		return badPolicy("reverse.station_window_days", "reverse.station_window_days must be 0 to %d", maxWindowDays)
	}
	c.stationWindowMicros = p.Reverse.StationWindowDays * microsPerDay
	c.ok = true
	p.c = c
	return nil
}

// zoneName is the shape of an IANA zone name (Area/Location, Area/Region/Location) or UTC.
// It keeps out the names a host's zoneinfo has beyond the IANA database: localtime (the
// host's own zone), posixrules, Factory, and the posix/ and right/ copies (right/ counts
// leap seconds). Those would make the rules depend on the machine that replays them.
var zoneName = regexp.MustCompile(`^(UTC|[A-Z][A-Za-z]+(/[A-Z][A-Za-z0-9_+-]*){1,2})$`)

// loadZone loads an IANA time zone. Go reads the host's zoneinfo first and its own embedded
// copy (time/tzdata) when the host has none.
func loadZone(name string) (*time.Location, error) {
	bad := badPolicy("timezone", "timezone %q is not an IANA time zone name such as Asia/Shanghai", truncate(name, 64))
	if !zoneName.MatchString(name) {
		return nil, bad
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, bad
	}
	return loc, nil
}

func (p *Policy) compileAssets(genesis Assets) error {
	if genesis == nil {
		if len(p.Assets) != 2 {
			return badPolicy("assets", "assets must be exactly HOURS and POINTS")
		}
		for _, code := range []string{AssetHours, AssetPoints} {
			s, ok := p.Assets[code]
			if !ok {
				return badPolicy("assets", "assets must be exactly HOURS and POINTS")
			}
			if s.Scale < 0 || s.Scale > MaxScale {
				return badPolicy("assets."+code+".scale", "the scale of %s must be 0 to %d", code, MaxScale)
			}
		}
		return nil
	}
	if len(p.Assets) != len(genesis) {
		return badPolicy("assets", "assets and their scales are fixed at genesis")
	}
	for _, code := range genesis.Codes() {
		if p.Assets[code] != genesis[code] {
			return badPolicy("assets."+code, "assets and their scales are fixed at genesis")
		}
	}
	return nil
}

func (p *Policy) compileCredit(c *compiledPolicy) error {
	hs := p.Assets[AssetHours].Scale
	cr := p.Credit
	var ok bool
	if c.maxPerEntry, ok = parseDecimal(cr.MaxHoursPerEntry, hs); !ok || c.maxPerEntry <= 0 {
		return badPolicy("credit.max_hours_per_entry", "credit.max_hours_per_entry must be a positive HOURS amount")
	}
	if c.maxPerDay, ok = parseDecimal(cr.MaxHoursPerDay, hs); !ok || c.maxPerDay <= 0 {
		return badPolicy("credit.max_hours_per_day", "credit.max_hours_per_day must be a positive HOURS amount")
	}
	if cr.BackdateDays < 0 || cr.BackdateDays > maxBackdateDays {
		return badPolicy("credit.backdate_days", "credit.backdate_days must be 0 to %d", maxBackdateDays)
	}
	c.backdateMicros = cr.BackdateDays * microsPerDay
	var err error
	if c.pointsPerHour, err = p.rate("credit.points_per_hour", cr.PointsPerHour); err != nil {
		return err
	}
	if len(cr.Categories) > maxCategories {
		return badPolicy("credit.categories", "at most %d categories", maxCategories)
	}
	c.categories = make(map[string]Rate, len(cr.Categories))
	for _, name := range slices.Sorted(maps.Keys(cr.Categories)) {
		cat := cr.Categories[name]
		if !validCategory(name) {
			return badPolicy("credit.categories", "category %q must match ^[a-z0-9][a-z0-9._-]{0,63}$", name)
		}
		if c.categories[name], err = p.rate("credit.categories."+name+".points_per_hour", cat.PointsPerHour); err != nil {
			return err
		}
	}
	return nil
}

func (p *Policy) compileLimits(c *compiledPolicy) error {
	c.upper = map[Kind]map[string]int64{}
	for _, kind := range slices.Sorted(maps.Keys(p.Limits)) {
		byAsset := p.Limits[kind]
		switch kind {
		case KindResident, KindStation, KindOutlet, KindPool:
		default:
			return badPolicy("limits", "limits may name resident, station, outlet or pool, not %q", kind)
		}
		c.upper[kind] = map[string]int64{}
		for _, asset := range slices.Sorted(maps.Keys(byAsset)) {
			lim := byAsset[asset]
			scale, ok := p.Assets.Scale(asset)
			if !ok {
				return badPolicy("limits."+string(kind), "unknown asset %q", asset)
			}
			v, ok := parseDecimal(lim.Upper, scale)
			if !ok {
				return badPolicy("limits."+string(kind)+"."+asset+".upper", "the upper limit must be an amount at the scale of %s", asset)
			}
			c.upper[kind][asset] = v
		}
	}
	return nil
}

func (p *Policy) compileTransfer() error {
	if len(p.Transfer) != len(p.Assets) {
		return badPolicy("transfer", "transfer must name a mode for each asset")
	}
	for _, asset := range slices.Sorted(maps.Keys(p.Transfer)) {
		mode := p.Transfer[asset]
		if _, ok := p.Assets[asset]; !ok {
			return badPolicy("transfer", "unknown asset %q", asset)
		}
		if mode != TransferNone && mode != TransferFamily && mode != TransferAny {
			return badPolicy("transfer."+asset, "transfer mode must be none, family or any")
		}
	}
	return nil
}

func (p *Policy) rate(field, s string) (Rate, error) {
	r, ok := ParseRate(s)
	if !ok {
		return Rate{}, badPolicy(field, "%s must be a decimal ≥ 0 with at most %d decimal places", field, RateScale)
	}
	return r, nil
}

func badPolicy(field, format string, args ...any) *Error {
	return Errorf(CodeInvalidPolicy, "The policy is not valid: "+format+".", args...).With("field", field)
}

func validCategory(s string) bool { return validName(s) }

// mustCompiled guards the rules against an unchecked policy: a programmer error.
func (p *Policy) mustCompiled() *compiledPolicy {
	if !p.c.ok {
		panic(fmt.Sprintf("ledger: policy used before Compile (%p)", p))
	}
	return &p.c
}

// Location is the policy's time zone, for local calendar days.
func (p *Policy) Location() *time.Location { return p.mustCompiled().loc }

// UpperLimit returns the upper balance limit of kind for asset, if any.
func (p *Policy) UpperLimit(kind Kind, asset string) (int64, bool) {
	v, ok := p.mustCompiled().upper[kind][asset]
	return v, ok
}

// PointsPerHour returns the credit points rate of category (or the default).
func (p *Policy) PointsPerHour(category string) Rate {
	c := p.mustCompiled()
	if r, ok := c.categories[category]; ok {
		return r
	}
	return c.pointsPerHour
}
