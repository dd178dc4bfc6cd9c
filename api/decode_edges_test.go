package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/timebank/timebank/api"
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

// TestManyKeysAnswerTheirCode: 64 KiB of distinct keys, sent without a token, answers the
// shape's code. What it costs (microseconds, where a quadratic duplicate check took tens of
// milliseconds) is measured by BenchmarkHostileManyKeys, not timed here: a timed test fails
// on a busy machine.
func TestManyKeysAnswerTheirCode(t *testing.T) {
	e := newEnv(t)
	e.quiet = true
	cases := []struct{ method, path, body, code string }{
		{"POST", "/v1/redemptions", api.ManyKeys(`{`, `0`), "unknown_field"},
		{"PUT", "/v1/policy", api.ManyKeys(`{"credit":{"categories":{`, `{}`), "invalid_policy"},
		{"POST", "/v1/redemptions", api.ManyKeys(`{"payee":"outlet:o01","asset":"POINTS","amount":{`, `0`), "invalid_amount"},
	}
	for _, c := range cases {
		if r := e.write(c.method, c.path, "", c.body); r.code() != c.code {
			t.Fatalf("%s %.40s…: want %s, got %.300s", c.path, c.body, c.code, r)
		}
	}
}

// TestMapKeyLimit: a map-typed field holds at most 256 keys, which no valid policy reaches
// (it may name 100 categories).
func TestMapKeyLimit(t *testing.T) {
	e := newEnv(t)
	categories := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"c%d":{"points_per_hour":"1"}`, i)
		}
		return b.String()
	}
	for n, want := range map[int]string{101: "at most 100 categories", 257: "more than 256 keys"} {
		r := e.write("PUT", "/v1/policy", "admin", e.policyWith(`"elderly-care":{"points_per_hour":"15"}`, categories(n)))
		if msg, field := r.errorOf(); r.code() != "invalid_policy" || field != "credit.categories" || !strings.Contains(msg, want) {
			t.Errorf("%d categories: want invalid_policy naming credit.categories (%s), got %s", n, want, r)
		}
	}
	e.must(e.write("PUT", "/v1/policy", "admin", e.policyWith(`"elderly-care":{"points_per_hour":"15"}`, categories(100))), 201)
}

// TestLoneSurrogates: a \u escape of half a UTF-16 surrogate pair would be stored as
// U+FFFD, so the entry would not hold what was sent; it is refused. A whole pair is text.
func TestLoneSurrogates(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	redeem := func(memo string) string {
		return `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":"` + memo + `"}`
	}
	for _, memo := range []string{`\ud800`, `\uDBFF`, `\udc00`, `a\ud800b`, `\ud800\u0041`, `\ud800\ud800`, `\ude00\ud83d`, `\udc00\udfff`, `x\\\ud800`} {
		r := e.write("POST", "/v1/redemptions", "resident", redeem(memo))
		if msg, field := r.errorOf(); r.code() != "malformed_json" || field != "memo" || !strings.Contains(msg, "memo") {
			t.Errorf("memo %s: want malformed_json naming memo, got %s", memo, r)
		}
	}
	if r := e.write("POST", "/v1/redemptions", "", redeem(`\ud800`)); r.code() != "malformed_json" {
		t.Errorf("without a token: want malformed_json, got %s", r)
	}
	r := e.must(e.write("POST", "/v1/redemptions", "resident", redeem(`\ud83d\ude00 \\ud800`)), 201)
	var entry struct{ Body struct{ Memo string } }
	r.decode(&entry)
	if entry.Body.Memo != "😀 \\ud800" {
		t.Errorf("memo stored as %q", entry.Body.Memo)
	}
}

// TestContentTypeCharset: JSON is UTF-8; a body that says it is anything else is refused.
func TestContentTypeCharset(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json; charset=latin1", "application/json; charset=iso-8859-1",
		"application/json;charset=utf-16", "application/json; charset=utf8", "application/json; charset=",
		`application/json; charset="utf-8"x`, `application/json; charset=""`, "application/json; charset=utf-8; charset=latin1",
		"application/json; version=2", "application/json; charset=utf-8; version=2"} {
		for _, path := range []string{"/v1/accounts", "/v1/tokens"} {
			body := `{"id":"resident:x1"}`
			if path == "/v1/tokens" {
				body = `{"role":"auditor"}`
			}
			r := e.do("POST", path, "admin", body, "Content-Type", ct, "Idempotency-Key", "k")
			if r.Status != 415 || r.code() != "unsupported_media_type" {
				t.Errorf("%s with Content-Type %q: want 415, got %s", path, ct, r)
			}
		}
	}
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
		`application/json; charset="utf-8"`, "Application/JSON; Charset=Utf-8", "application/json;"} {
		e.must(e.do("POST", "/v1/accounts", "admin", `{"id":"resident:c`+string(rune('0'+i))+`"}`,
			"Content-Type", ct, "Idempotency-Key", "ct-"+string(rune('0'+i))), 201)
	}
}

// TestTypeMismatchMessages: a wrongly typed value is answered with a sentence a clerk can
// act on, naming the field as the body does.
func TestTypeMismatchMessages(t *testing.T) {
	e := newEnv(t)
	hold := func(ttl string) string {
		return `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":` + ttl + `}`
	}
	redeem := func(amount string) string {
		return `{"payee":"outlet:o01","asset":"POINTS","amount":` + amount + `}`
	}
	cases := []struct{ method, path, who, body, code, msg string }{
		{"POST", "/v1/holds", "resident", hold(`1.5`), "invalid_field", "ttl_seconds must be a whole number of seconds in plain digits, not 1.5."},
		{"POST", "/v1/holds", "resident", hold(`1e2`), "invalid_field", "ttl_seconds must be a whole number of seconds in plain digits, not 1e2."},
		{"POST", "/v1/holds", "resident", hold(`"60"`), "invalid_field", "ttl_seconds must be a whole number of seconds in plain digits, not text in quotes."},
		{"POST", "/v1/holds", "resident", hold(`99999999999999999999`), "invalid_field", "ttl_seconds must be a whole number of seconds no larger than 9223372036854775807, not 99999999999999999999."},
		{"POST", "/v1/reversals", "admin", `{"seq":-1,"reason":"x"}`, "invalid_field", "seq must be a whole number from 0 up, not -1."},
		{"POST", "/v1/reversals", "admin", `{"seq":true,"reason":"x"}`, "invalid_field", "seq must be a whole number in plain digits, not true or false."},
		{"POST", "/v1/redemptions", "resident", redeem(`[]`), "invalid_amount", `amount must be a string such as "2.50", not an array.`},
		{"POST", "/v1/redemptions", "resident", redeem(`{}`), "invalid_amount", `amount must be a string such as "2.50", not an object.`},
		{"POST", "/v1/redemptions", "resident", redeem(`10`), "invalid_amount", `amount must be a string such as "2.50", not a number.`},
		{"POST", "/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":7}`, "invalid_field", "memo must be text in double quotes, not a number."},
		{"POST", "/v1/credits", "station", `{"volunteer":"resident:r01","hours":"1","activity":"visit"}`, "invalid_field", "activity must be a JSON object {…}, not text in quotes."},
		{"PUT", "/v1/policy", "admin", e.policyWith(`"max_hours_per_entry":"12"`, `"max_hours_per_entry":12`), "invalid_policy",
			"The policy is not valid: credit.max_hours_per_entry must be text in double quotes, not a number."},
		{"PUT", "/v1/policy", "admin", e.policyWith(`"max_ttl_seconds":86400`, `"max_ttl_seconds":1.5`), "invalid_policy",
			"The policy is not valid: hold.max_ttl_seconds must be a whole number of seconds in plain digits, not 1.5."},
		{"PUT", "/v1/policy", "admin", e.policyWith(`"backdate_days":30`, `"backdate_days":"30"`), "invalid_policy",
			"The policy is not valid: credit.backdate_days must be a whole number of days in plain digits, not text in quotes."},
		{"PUT", "/v1/policy", "admin", e.policyWith(`"upper":"1500"`, `"upper":1500`), "invalid_policy", // map keys in the path
			"The policy is not valid: limits.resident.HOURS.upper must be text in double quotes, not a number."},
	}
	for _, c := range cases {
		r := e.write(c.method, c.path, c.who, c.body)
		if msg, _ := r.errorOf(); r.code() != c.code || msg != c.msg {
			t.Errorf("%s: want %s %q, got %s", c.body, c.code, c.msg, r)
		}
	}
}

// TestPolicyIsWholeDocument: PUT /v1/policy takes the whole document (SPEC §3). A member left
// out would decode as zero: no upper limits, no backdating, no reversal window for stations.
func TestPolicyIsWholeDocument(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ old, new, field string }{
		{`,"limits":{"resident":{"HOURS":{"upper":"1500"}}}`, ``, "limits"},
		{`"backdate_days":30,`, ``, "credit.backdate_days"},
		{`{"points_per_hour":"15"}`, `{}`, "credit.categories.elderly-care.points_per_hour"},
		{`{"upper":"1500"}`, `{}`, "limits.resident.HOURS.upper"},
		{`,"reverse":{"station_window_days":7}`, ``, "reverse"},
		{`{"station_window_days":7}`, `{}`, "reverse.station_window_days"},
		{`{"resident":{"HOURS":{"upper":"1500"}}}`, `null`, "limits"},
		{`"backdate_days":30`, `"backdate_days":null`, "credit.backdate_days"},
	} {
		r := e.write("PUT", "/v1/policy", "admin", e.policyWith(c.old, c.new))
		if r.code() != "invalid_policy" || !strings.Contains(string(r.Body), `"field":"`+c.field+`"`) {
			t.Errorf("policy without %s: want invalid_policy naming it, got %.300s", c.field, r)
		}
	}
	// What GET /v1/policy answers is a whole document, and an empty map is one.
	e.must(e.write("PUT", "/v1/policy", "admin", e.policyWith(`{"resident":{"HOURS":{"upper":"1500"}}}`, `{}`)), 201)
	e.must(e.write("PUT", "/v1/policy", "admin", e.policyWith(`"timezone"`, `"timezone"`)), 201)
}

// TestSettleAmountMessage: a settle's amount is shape-checked before the hold (and so its
// asset's scale) is known; the message must not name a scale no asset has.
func TestSettleAmountMessage(t *testing.T) {
	e := newEnv(t)
	r := e.write("POST", "/v1/holds/5/settle", "station", `{"amount":"1.2.3"}`)
	msg, _ := r.errorOf()
	if r.code() != "invalid_amount" || !strings.Contains(msg, "at the scale of the hold's asset") || strings.Contains(msg, "6 decimal") {
		t.Fatalf("settle amount 1.2.3: %s", r)
	}
}
