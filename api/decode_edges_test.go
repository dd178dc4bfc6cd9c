package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Tests of the strict decoder's edges that an audit found open: case-folded field names,
// quadratic key checks, lone surrogates, charsets, and the wording of type mismatches.

// errorOf returns the message and details.field of an error answer.
func (r *resp) errorOf() (message, field string) {
	var e struct {
		Error struct {
			Message string
			Details struct{ Field string }
		}
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Message, e.Error.Details.Field
}

// TestExactFieldNames: encoding/json matches keys to fields case-insensitively, even by
// Unicode folding; the API takes a key only if it is a field's JSON name byte for byte, so
// no second spelling of payee can override the first.
func TestExactFieldNames(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	activity := `"id":"a","category":"elderly-care","started_at":"2026-03-02T09:00:00+08:00","ended_at":"2026-03-02T10:00:00+08:00"`
	cases := []struct {
		path, who, body, field string
	}{
		{"/v1/redemptions", "resident", `{"payee":"outlet:o01","PAYEE":"station:s01","asset":"POINTS","amount":"1"}`, "PAYEE"},
		{"/v1/redemptions", "resident", `{"Payee":"station:s01","asset":"POINTS","amount":"1"}`, "Payee"},
		{"/v1/redemptions", "", `{"Payee":"station:s01","asset":"POINTS","amount":"1"}`, "Payee"}, // shape before auth
		{"/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","mEmO":"x"}`, "mEmO"},
		{"/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","MEMO":"x"}`, "MEMO"},
		{"/v1/reversals", "admin", `{"seq":2,"reaſon":"x"}`, "reaſon"}, // U+017F folds to s
		{"/v1/credits", "station", `{"volunteer":"resident:r01","hours":"1","activity":{` + strings.Replace(activity, `"id"`, `"ID"`, 1) + `}}`, "activity.ID"},
		{"/v1/credits", "station", `{"volunteer":"resident:r01","hours":"1","activity":{` + strings.Replace(activity, `"category"`, `"Category"`, 1) + `}}`, "activity.Category"},
		{"/v1/tokens", "admin", `{"Role":"auditor"}`, "Role"},
	}
	for _, c := range cases {
		r := e.write("POST", c.path, c.who, c.body)
		if msg, field := r.errorOf(); r.code() != "unknown_field" || field != c.field || !strings.Contains(msg, `"`+c.field+`"`) {
			t.Errorf("%s %s: want unknown_field naming %s, got %s", c.path, c.body, c.field, r)
		}
	}
	policy := e.policyWith(`"Asia/Shanghai"`, `"Asia/Shanghai"`)
	for _, c := range []struct{ old, new, field string }{
		{`"timezone"`, `"Timezone"`, "Timezone"},
		{`{"points_per_hour":"15"}`, `{"Points_per_hour":"15"}`, "credit.categories.elderly-care.Points_per_hour"},
		{`"hold":{"default_ttl_seconds"`, `"hold":{"Default_TTL_Seconds"`, "hold.Default_TTL_Seconds"},
		{`{"HOURS":{"upper"`, `{"HOURS":{"Upper"`, "limits.resident.HOURS.Upper"},
	} {
		body := strings.Replace(policy, c.old, c.new, 1)
		if body == policy {
			t.Fatalf("policy has no %s: %s", c.old, policy)
		}
		r := e.write("PUT", "/v1/policy", "admin", body)
		if _, field := r.errorOf(); r.code() != "unknown_field" || field != c.field {
			t.Errorf("policy with %s: want unknown_field naming %s, got %s", c.new, c.field, r)
		}
	}
	// Keys of map-typed policy fields are data: any key, but each once.
	dup := strings.Replace(policy, `"transfer":{"HOURS":"family"`, `"transfer":{"HOURS":"family","HOURS":"any"`, 1)
	if r := e.write("PUT", "/v1/policy", "admin", dup); r.code() != "malformed_json" {
		t.Errorf("a map key twice: want malformed_json, got %s", r)
	}
	e.must(e.write("PUT", "/v1/policy", "admin", policy), 201)
	// Nothing was paid to station:s01.
	var acct struct {
		Balances map[string]struct{ Balance string }
	}
	e.must(e.do("GET", "/v1/accounts/station:s01", "admin", ""), 200).decode(&acct)
	if b := acct.Balances["POINTS"].Balance; b != "" && b != "0" {
		t.Errorf("station:s01 was paid %s POINTS", b)
	}
}
