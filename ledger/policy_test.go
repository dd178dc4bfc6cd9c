package ledger

import "testing"

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
