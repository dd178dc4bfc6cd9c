package api

import (
	"context"
	"strconv"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/timebank/timebank/ledger"
)

func TestOpenAPILoads(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIDescribesTheLimits: openapi.yaml tells clients the limits the server enforces
// (SPEC §7: memo ≤ 200 characters, reason ≤ 500), so that a client validating against it
// is not refused for text the document allowed; and it allows no null where a whole
// policy document refuses one (decision 0005).
func TestOpenAPIDescribesTheLimits(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		t.Fatal(err)
	}
	body := func(method, path string) *openapi3.Schema {
		op := doc.Paths.Find(path).GetOperation(method)
		return op.RequestBody.Value.Content.Get("application/json").Schema.Value
	}
	prop := func(s *openapi3.Schema, names ...string) *openapi3.Schema {
		for _, n := range names {
			r := s.Properties[n]
			if r == nil {
				t.Fatalf("no property %v", names)
			}
			s = r.Value
		}
		return s
	}
	text := []struct {
		name     string
		s        *openapi3.Schema
		min, max uint64
	}{
		{"credit memo", prop(body("POST", "/v1/credits"), "memo"), 0, ledger.MaxMemoChars},
		{"activity.id", prop(body("POST", "/v1/credits"), "activity", "id"), 1, ledger.MaxActivityIDChars},
		{"redemption memo", prop(body("POST", "/v1/redemptions"), "memo"), 0, ledger.MaxMemoChars},
		{"transfer memo", prop(body("POST", "/v1/transfers"), "memo"), 0, ledger.MaxMemoChars},
		{"grant memo", prop(body("POST", "/v1/grants"), "memo"), 1, ledger.MaxMemoChars},
		{"freeze reason", prop(body("POST", "/v1/accounts/{id}/freeze"), "reason"), 1, ledger.MaxReasonChars},
		{"reversal reason", prop(body("POST", "/v1/reversals"), "reason"), 1, ledger.MaxReasonChars},
		{"token label", prop(body("POST", "/v1/tokens"), "label"), 0, maxLabelChars},
	}
	for _, c := range text {
		if c.s.MaxLength == nil || *c.s.MaxLength != c.max || c.s.MinLength != c.min {
			t.Errorf("%s: openapi.yaml says length %d to %s, the server takes %d to %d", c.name, c.s.MinLength, maxText(c.s.MaxLength), c.min, c.max)
		}
	}
	policy := body("PUT", "/v1/policy")
	for _, names := range [][]string{{"limits"}, {"transfer"}, {"credit", "categories"}} {
		if prop(policy, names...).Nullable {
			t.Errorf("policy %v is nullable in openapi.yaml; the server refuses null", names)
		}
	}
}

func maxText(n *uint64) string {
	if n == nil {
		return "any"
	}
	return strconv.FormatUint(*n, 10)
}
