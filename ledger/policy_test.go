package ledger

import (
	"strings"
	"testing"
)

// TestPolicyErrorsAreDeterministic: a policy with two faults in one of its maps (categories,
// limits, transfer modes, assets) is refused naming the same field every time. The checks
// walked the maps in Go's random order, so the same PUT /v1/policy answered with one
// field, then another (STYLE.md: no map iteration order inside the rules).
func TestPolicyErrorsAreDeterministic(t *testing.T) {
	cases := map[string]func(p *Policy){
		"two bad categories": func(p *Policy) {
			p.Credit.Categories = map[string]CategoryPolicy{"a-care": {PointsPerHour: "x"}, "b-care": {PointsPerHour: "y"}}
		},
		"two bad limits": func(p *Policy) {
			p.Limits = map[Kind]map[string]LimitPolicy{
				KindResident: {AssetHours: {Upper: "1.234"}, AssetPoints: {Upper: "1.5"}},
				KindStation:  {AssetHours: {Upper: "-1"}},
			}
		},
		"two bad transfer modes": func(p *Policy) {
			p.Transfer = map[string]string{AssetHours: "kin", AssetPoints: "all"}
		},
		"two changed scales": func(p *Policy) {
			p.Assets = Assets{AssetHours: {Scale: 3}, AssetPoints: {Scale: 1}}
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			first := ""
			for i := 0; i < 100; i++ {
				p := *DefaultPolicy()
				change(&p)
				err := p.Compile(DefaultPolicy().Assets)
				e, ok := err.(*Error)
				if !ok || e.Code != CodeInvalidPolicy {
					t.Fatalf("got %v, want invalid_policy", err)
				}
				if got := e.Message + " (" + e.Details["field"].(string) + ")"; first == "" {
					first = got
				} else if got != first {
					t.Fatalf("the same policy is refused as %q, then as %q", first, got)
				}
			}
		})
	}
}

// TestPolicyRefusesOutOfRange: each figure SPEC §3's policy holds is refused outside its
// range, naming its field (invalid_policy), for a later policy and for genesis alike.
func TestPolicyRefusesOutOfRange(t *testing.T) {
	cases := []struct {
		name    string
		genesis bool
		change  func(p *Policy)
		field   string
	}{
		{"max_hours_per_entry 0", false, func(p *Policy) { p.Credit.MaxHoursPerEntry = "0" }, "credit.max_hours_per_entry"},
		{"max_hours_per_day 0", false, func(p *Policy) { p.Credit.MaxHoursPerDay = "0.00" }, "credit.max_hours_per_day"},
		{"backdate_days too many", false, func(p *Policy) { p.Credit.BackdateDays = maxBackdateDays + 1 }, "credit.backdate_days"},
		{"backdate_days negative", false, func(p *Policy) { p.Credit.BackdateDays = -1 }, "credit.backdate_days"},
		{"category name", false, func(p *Policy) { p.Credit.Categories = map[string]CategoryPolicy{"Elderly Care": {PointsPerHour: "1"}} }, "credit.categories"},
		{"limit on an issuer", false, func(p *Policy) {
			p.Limits = map[Kind]map[string]LimitPolicy{KindIssuer: {AssetHours: {Upper: "1"}}}
		}, "limits"},
		{"transfer mode missing", false, func(p *Policy) { p.Transfer = map[string]string{AssetHours: TransferAny} }, "transfer"},
		{"transfer mode unknown", false, func(p *Policy) { p.Transfer = map[string]string{AssetHours: TransferAny, AssetPoints: "all"} }, "transfer.POINTS"},
		{"max_ttl_seconds too long", false, func(p *Policy) { p.Hold.MaxTTLSeconds = maxTTLSecondsCap + 1 }, "hold.max_ttl_seconds"},
		{"default_ttl_seconds above max", false, func(p *Policy) { p.Hold.DefaultTTLSeconds = p.Hold.MaxTTLSeconds + 1 }, "hold.default_ttl_seconds"},
		{"station_window_days negative", false, func(p *Policy) { p.Reverse.StationWindowDays = -1 }, "reverse.station_window_days"},
		{"station_window_days too many", false, func(p *Policy) { p.Reverse.StationWindowDays = maxWindowDays + 1 }, "reverse.station_window_days"},
		{"an asset added", false, func(p *Policy) {
			p.Assets = Assets{AssetHours: {Scale: 2}, AssetPoints: {Scale: 0}, "GOLD": {Scale: 0}}
			p.Transfer = map[string]string{AssetHours: TransferAny, AssetPoints: TransferAny, "GOLD": TransferAny}
		}, "assets"},
		{"genesis with a third asset", true, func(p *Policy) {
			p.Assets = Assets{AssetHours: {Scale: 2}, AssetPoints: {Scale: 0}, "GOLD": {Scale: 0}}
			p.Transfer = map[string]string{AssetHours: TransferAny, AssetPoints: TransferAny, "GOLD": TransferAny}
		}, "assets"},
		{"genesis scale too large", true, func(p *Policy) { p.Assets = Assets{AssetHours: {Scale: MaxScale + 1}, AssetPoints: {Scale: 0}} }, "assets.HOURS.scale"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := *DefaultPolicy()
			c.change(&p)
			genesis := DefaultPolicy().Assets
			if c.genesis {
				genesis = nil
			}
			err := p.Compile(genesis)
			e, ok := err.(*Error)
			if !ok || e.Code != CodeInvalidPolicy || e.Details["field"] != c.field {
				t.Fatalf("got %v, want invalid_policy naming %s", err, c.field)
			}
		})
	}
}

// TestPolicyEntryWritesEmptyMapsAsObjects: a policy whose maps of categories and limits are
// nil (what encoding/json makes of a `null`) is logged with `{}` for them, the only form
// docs/FORMAT.md gives an empty map, and the request's own maps are left as they were.
func TestPolicyEntryWritesEmptyMapsAsObjects(t *testing.T) {
	b := newBook(t)
	pol := *DefaultPolicy()
	pol.Credit.Categories = nil
	pol.Limits = map[Kind]map[string]LimitPolicy{KindPool: nil}
	e, err := b.try(admin, &PolicyBody{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := EncodeEntry(e, pol.Assets)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"categories":{}`, `"limits":{"pool":{}}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the policy entry has no %s:\n%s", want, raw)
		}
	}
	if pol.Limits[KindPool] != nil {
		t.Errorf("the request's map of limits was changed: %v", pol.Limits)
	}
}
