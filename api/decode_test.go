package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStrictDecoding: every way a body can be wrong answers its 4xx code, never 5xx.
func TestStrictDecoding(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	redeem := func(amount string) string {
		return `{"payee":"outlet:o01","asset":"POINTS","amount":` + amount + `}`
	}
	cases := []struct {
		name, path, body, code string
	}{
		{"unknown field", "/v1/redemptions", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","tip":"1"}`, "unknown_field"},
		{"unknown nested field", "/v1/credits", `{"volunteer":"resident:r01","hours":"1","activity":{"id":"a","category":"x","started_at":"2026-03-02T09:00:00+08:00","ended_at":"2026-03-02T10:00:00+08:00","room":"3"}}`, "unknown_field"},
		{"duplicate key", "/v1/redemptions", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","amount":"9"}`, "malformed_json"},
		{"duplicate nested key", "/v1/credits", `{"volunteer":"resident:r01","hours":"1","activity":{"id":"a","id":"b","category":"x","started_at":"2026-03-02T09:00:00+08:00","ended_at":"2026-03-02T10:00:00+08:00"}}`, "malformed_json"},
		{"trailing data", "/v1/redemptions", redeem(`"1"`) + ` x`, "malformed_json"},
		{"second object", "/v1/redemptions", redeem(`"1"`) + `{}`, "malformed_json"},
		{"invalid utf-8", "/v1/redemptions", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":"` + "\xff\xfe" + `"}`, "malformed_json"},
		{"syntax error", "/v1/redemptions", `{"payee":"outlet:o01",}`, "malformed_json"},
		{"array", "/v1/redemptions", `[]`, "malformed_json"},
		{"string", "/v1/redemptions", `"x"`, "malformed_json"},
		{"deep nesting", "/v1/redemptions", `{"memo":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, "malformed_json"},
		{"number amount", "/v1/redemptions", redeem(`10`), "invalid_amount"},
		{"exponent amount", "/v1/redemptions", redeem(`1e3`), "invalid_amount"},
		{"null amount", "/v1/redemptions", redeem(`null`), "invalid_amount"},
		{"string exponent", "/v1/redemptions", redeem(`"1e3"`), "invalid_amount"},
		{"negative", "/v1/redemptions", redeem(`"-1"`), "invalid_amount"},
		{"plus", "/v1/redemptions", redeem(`"+1"`), "invalid_amount"},
		{"leading dot", "/v1/redemptions", redeem(`".5"`), "invalid_amount"},
		{"trailing dot", "/v1/redemptions", redeem(`"1."`), "invalid_amount"},
		{"NaN", "/v1/redemptions", redeem(`"NaN"`), "invalid_amount"},
		{"comma", "/v1/redemptions", redeem(`"1,5"`), "invalid_amount"},
		{"zero", "/v1/redemptions", redeem(`"0"`), "invalid_amount"},
		{"leading zero", "/v1/redemptions", redeem(`"01"`), "invalid_amount"},
		{"over scale", "/v1/redemptions", redeem(`"1.5"`), "invalid_amount"},
		{"13 digits", "/v1/redemptions", redeem(`"1234567890123"`), "invalid_amount"},
		{"huge digits", "/v1/redemptions", redeem(`"` + strings.Repeat("9", 60000) + `"`), "invalid_amount"},
		{"hours number", "/v1/conversions", `{"hours":1}`, "invalid_amount"},
		{"unknown asset", "/v1/redemptions", `{"payee":"outlet:o01","asset":"GOLD","amount":"1"}`, "invalid_field"},
		{"ttl as string", "/v1/holds", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":"60"}`, "invalid_field"},
		{"ttl negative", "/v1/holds", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":-1}`, "invalid_field"},
		{"seq as string", "/v1/reversals", `{"seq":"5","reason":"x"}`, "invalid_field"},
		{"seq 1e3", "/v1/reversals", `{"seq":1e3,"reason":"x"}`, "invalid_field"},
		{"memo too long", "/v1/redemptions", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":"` + strings.Repeat("é", 201) + `"}`, "invalid_field"},
		{"memo bidi override", "/v1/redemptions", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":"abc\u202edcba"}`, "invalid_field"},
		{"label bidi isolate", "/v1/tokens", "{\"role\":\"auditor\",\"label\":\"a\u2066b\"}", "invalid_field"},
		{"memo control char", "/v1/redemptions", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":"a\nb"}`, "invalid_field"},
		{"reason too long", "/v1/reversals", `{"seq":2,"reason":"` + strings.Repeat("x", 501) + `"}`, "invalid_field"},
		{"payee not an id", "/v1/redemptions", `{"payee":"shop","asset":"POINTS","amount":"1"}`, "invalid_account"},
		{"payee phone number", "/v1/redemptions", `{"payee":"outlet:13912345678","asset":"POINTS","amount":"1"}`, "invalid_account"},
		{"account in freeze body", "/v1/accounts/resident:r02/freeze", `{"account":"resident:r03","reason":"x"}`, "unknown_field"},
		{"grant without memo", "/v1/grants", `{"pool":"pool:public","to":"resident:r01","asset":"HOURS","amount":"1"}`, "invalid_field"},
		{"freeze without reason", "/v1/accounts/resident:r02/freeze", `{}`, "invalid_field"},
		{"unfreeze with empty reason", "/v1/accounts/resident:r02/unfreeze", `{"reason":""}`, "invalid_field"},
		{"hold_id in settle body", "/v1/holds/5/settle", `{"hold_id":6,"amount":"1"}`, "unknown_field"},
		// A field of the path is refused in the body whatever its value: a zero or null
		// one was once taken as absent, so the same key passed or failed by its value.
		{"hold_id 0 in settle body", "/v1/holds/5/settle", `{"hold_id":0,"amount":"1"}`, "unknown_field"},
		{"hold_id null in void body", "/v1/holds/5/void", `{"hold_id":null}`, "unknown_field"},
		{"empty account in freeze body", "/v1/accounts/resident:r02/freeze", `{"account":"","reason":"x"}`, "unknown_field"},
		{"hold id not a number", "/v1/holds/abc/void", `{}`, "invalid_field"},
		{"policy wrong type", "/v1/policy", `{"timezone":3}`, "invalid_policy"},
	}
	for _, c := range cases {
		method := "POST"
		if c.path == "/v1/policy" {
			method = "PUT"
		}
		who := "resident"
		switch {
		case strings.HasPrefix(c.path, "/v1/credits"), strings.Contains(c.path, "/settle"):
			who = "station"
		case strings.HasPrefix(c.path, "/v1/reversals"), strings.HasPrefix(c.path, "/v1/accounts"), c.path == "/v1/policy":
			who = "admin"
		}
		r := e.write(method, c.path, who, c.body)
		if r.code() != c.code {
			t.Errorf("%s: want %s, got %.300s", c.name, c.code, r)
		}
	}
	if r := e.do("POST", "/v1/redemptions", "resident", "", "Content-Type", "application/json", "Idempotency-Key", "e"); r.code() != "malformed_json" {
		t.Errorf("empty body: want malformed_json, got %s", r)
	}
	// The same without a token: the request's own shape answers first (SPEC §3).
	if r := e.write("POST", "/v1/redemptions", "", redeem(`"1e3"`)); r.code() != "invalid_amount" {
		t.Errorf("bad shape without token: want invalid_amount, got %s", r)
	}
	if r := e.do("POST", "/v1/redemptions", "", redeem(`"1"`), "Content-Type", "text/plain"); r.Status != 415 {
		t.Errorf("wrong media type without token: want 415, got %s", r)
	}
	// A valid 200-character memo in a 3-byte script passes.
	ok := `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":"` + strings.Repeat("时", 200) + `"}`
	e.must(e.write("POST", "/v1/redemptions", "resident", ok), 201)
}

func TestMediaTypeAndSize(t *testing.T) {
	e := newEnv(t)
	body := `{"id":"resident:x1"}`
	for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "application/jsonx"} {
		r := e.do("POST", "/v1/accounts", "admin", body, "Content-Type", ct, "Idempotency-Key", "k")
		if r.Status != 415 || r.code() != "unsupported_media_type" {
			t.Errorf("Content-Type %q: want 415, got %s", ct, r)
		}
	}
	e.must(e.do("POST", "/v1/accounts", "admin", body, "Content-Type", "application/json; charset=utf-8", "Idempotency-Key", "k"), 201)
	// A chunked body (no Content-Length) over the limit is cut at 64 KiB: 413.
	big := `{"id":"resident:x2","pad":"` + strings.Repeat("x", 65<<10) + `"}`
	req := httptest.NewRequest("POST", "/v1/accounts", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "k2")
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 65 KiB body: want 413, got %d %s", rec.Code, rec.Body)
	}
	// Just under the limit is read and accepted.
	under := `{"id":"resident:x3"` + strings.Repeat(" ", 64<<10-20) + `}`
	e.must(e.write("POST", "/v1/accounts", "admin", under), 201)
}

func TestIdempotencyKeyHeader(t *testing.T) {
	e := newEnv(t)
	for _, key := range []string{"", strings.Repeat("k", 129), "clé", "a\tb"} {
		r := e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`, "Idempotency-Key", key)
		if r.code() != "missing_idempotency_key" {
			t.Errorf("key %q: want missing_idempotency_key, got %s", key, r)
		}
	}
	e.must(e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`, "Idempotency-Key", strings.Repeat("k", 128)), 201)
	// Tokens are not entries: no key needed, one sent is ignored.
	e.must(e.do("POST", "/v1/tokens", "admin", `{"role":"auditor"}`), 201)
	e.must(e.do("POST", "/v1/tokens", "admin", `{"role":"auditor"}`, "Idempotency-Key", "same"), 201)
	e.must(e.do("POST", "/v1/tokens", "admin", `{"role":"auditor"}`, "Idempotency-Key", "same"), 201)
}

// TestRepeatedCredentialHeaders: a request with two Idempotency-Key headers, or two
// Authorization headers, is ambiguous: which key, which token, acts? The first used to win
// silently, so a retry whose client (or a proxy) put the headers in the other order was
// taken as a new request (409 account_exists instead of its replay), and a request
// carrying two tokens acted as whichever came first. Both are refused now, and leave no
// trace.
func TestRepeatedCredentialHeaders(t *testing.T) {
	e := newEnv(t)
	send := func(method, path, body string, header http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header = header
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	auth := "Bearer " + adminSecret
	rec := send("POST", "/v1/accounts", `{"id":"resident:twice"}`, http.Header{
		"Content-Type": {"application/json"}, "Authorization": {auth}, "Idempotency-Key": {"k-a", "k-b"}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "missing_idempotency_key") {
		t.Fatalf("two Idempotency-Key headers: %d %s, want 400 missing_idempotency_key", rec.Code, rec.Body)
	}
	e.must(e.do("GET", "/v1/accounts/resident:twice", "admin", ""), 404)
	for _, second := range []string{auth, "Bearer tb_not_a_token"} {
		rec = send("GET", "/v1/accounts/issuer:HOURS", "", http.Header{"Authorization": {auth, second}})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("two Authorization headers (%q second): %d %s, want 401", second, rec.Code, rec.Body)
		}
	}
	// One of each is as before.
	rec = send("POST", "/v1/accounts", `{"id":"resident:twice"}`, http.Header{
		"Content-Type": {"application/json"}, "Authorization": {auth}, "Idempotency-Key": {"k-a"}})
	if rec.Code != http.StatusCreated {
		t.Fatalf("one of each: %d %s", rec.Code, rec.Body)
	}
}
