package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/timebank/timebank/api"
)

// The seed corpus of FuzzRouter: a valid request for every route and every entry type,
// then hostile bodies, paths, queries, methods, tokens, media types and keys. TestRouterSeeds
// runs them in order on a world of their own and checks what each must answer.

// seed is one input of the corpus. A valid seed answers 2xx when the seeds are run in order
// on a fresh world; a hostile one answers code, when set, else anything but 2xx.
type seed struct {
	name  string
	in    fuzzInput
	valid bool
	code  string
}

// call is the input of a request to the registered route method path by who, with the
// path parameter value (a w.pathValues entry, "" for none), query and body.
func (w *fuzzWorld) call(method, path, who, value, query, body string) fuzzInput {
	in := fuzzInput{Route: w.routeIndex(method, path), Who: whoIndex(w.e.t, who), Query: query, Body: []byte(body)}
	if value != "" {
		i := slices.Index(w.pathValues(path), value)
		if i < 0 {
			w.e.t.Fatalf("%s is not a path value of %s", value, path)
		}
		in.PathMode = uint8(i)
	}
	return in
}

// methodSel is the Method selector of oddMethods' method m.
func methodSel(m string) uint8 {
	i := slices.Index(oddMethods, m)
	n := len(oddMethods)
	return uint8(oddMethod + ((i-oddMethod)%n+n)%n)
}

func whoIndex(tb testing.TB, who string) uint8 {
	i := slices.Index(whoModes, who)
	if i < 0 {
		tb.Fatalf("no who mode %q", who)
	}
	return uint8(i)
}

// seeds returns the whole corpus, valid requests first.
func (w *fuzzWorld) seeds() []seed {
	out := w.validSeeds()
	out = append(out, w.bodySeeds()...)
	out = append(out, w.policySeeds()...)
	return append(out, w.requestSeeds()...)
}

// validBodies returns the body of the first valid seed of each route, by "METHOD /path".
func (w *fuzzWorld) validBodies() map[string]string {
	if w.bodies == nil {
		w.bodies = map[string]string{}
		for _, s := range w.validSeeds() {
			r := w.routes[s.in.Route]
			if key := r.Method + " " + r.Path; w.bodies[key] == "" && len(s.in.Body) > 0 {
				w.bodies[key] = string(s.in.Body)
			}
		}
	}
	return w.bodies
}

// Valid bodies of the world's fixtures (times relative to t0, 2026-03-02T04:00Z).
const (
	creditStation = `{"volunteer":"resident:r03","hours":"2","activity":{"id":"visit-0917","category":"elderly-care",` +
		`"started_at":"2026-03-01T01:00:00Z","ended_at":"2026-03-01T03:00:00Z"},"memo":"tea and talk"}`
	creditAdmin = `{"station":"station:s02","volunteer":"resident:r03","hours":"1.50","activity":{"id":"walk-12",` +
		`"category":"escort","started_at":"2026-02-27T09:00:00+08:00","ended_at":"2026-02-27T11:00:00+08:00"}}`
	redemption = `{"payee":"outlet:o01","asset":"POINTS","amount":"5","memo":"tea"}`
)

func (w *fuzzWorld) validSeeds() []seed {
	v := func(name string, in fuzzInput) seed { return seed{name: name, in: in, valid: true} }
	post := func(path, who, value, body string) fuzzInput { return w.call("POST", path, who, value, "", body) }
	get := func(path, who, value, query string) fuzzInput { return w.call("GET", path, who, value, query, "") }
	holdA, holdB := w.pathValues("/v1/holds/:id")[0], w.pathValues("/v1/holds/:id")[1]
	return []seed{
		v("open", post("/v1/accounts", "admin", "", `{"id":"resident:n01"}`)),
		v("open by station", post("/v1/accounts", "station", "", `{"id":"resident:n02"}`)),
		v("link", post("/v1/links", "admin", "", `{"a":"resident:r01","b":"resident:r03","relation":"sibling"}`)),
		v("credit", post("/v1/credits", "station", "", creditStation)),
		v("credit by admin", post("/v1/credits", "admin", "", creditAdmin)),
		v("freeze", post("/v1/accounts/:id/freeze", "admin", "resident:r03", `{"reason":"audit"}`)),
		v("unfreeze", post("/v1/accounts/:id/unfreeze", "admin", "resident:r03", `{"reason":"audit done"}`)),
		v("redemption", post("/v1/redemptions", "resident", "", redemption)),
		v("hold", post("/v1/holds", "resident", "", `{"payee":"outlet:o01","asset":"HOURS","amount":"0.50","ttl_seconds":600}`)),
		v("settle", post("/v1/holds/:id/settle", "outlet", holdA, `{"amount":"4"}`)),
		v("settle read by its payee", get("/v1/entries/:seq", "outlet", latestSeq, "")),
		v("void", post("/v1/holds/:id/void", "resident", holdB, `{}`)),
		v("transfer", post("/v1/transfers", "resident", "", `{"to":"resident:r02","asset":"HOURS","amount":"1.25","memo":"for mum"}`)),
		v("donation", post("/v1/donations", "resident", "", `{"pool":"pool:public","asset":"POINTS","amount":"3"}`)),
		v("grant", post("/v1/grants", "admin", "", `{"pool":"pool:public","to":"resident:r02","asset":"HOURS","amount":"0.50","memo":"winter help"}`)),
		v("conversion", post("/v1/conversions", "resident", "", `{"hours":"1"}`)),
		v("reversal", post("/v1/reversals", "admin", "", `{"seq":`+itoa(w.creditA)+`,"reason":"entered twice"}`)),
		v("reversal by station", post("/v1/reversals", "station", "", `{"seq":`+itoa(w.creditB)+`,"reason":"wrong volunteer"}`)),
		v("policy", w.call("PUT", "/v1/policy", "admin", "", "", w.policy)),
		v("get policy", get("/v1/policy", "resident", "", "")),
		v("token", post("/v1/tokens", "admin", "", `{"role":"outlet","account":"outlet:o01","label":"till 2"}`)),
		v("tokens", get("/v1/tokens", "admin", "", "")),
		v("revoke", w.call("DELETE", "/v1/tokens/:id", "admin", freshToken, "", "")),
		v("account", get("/v1/accounts/:id", "resident", "resident:r01", "")),
		v("account escaped", get("/v1/accounts/:id", "auditor", "resident%3Ar01", "")),
		v("issuer", get("/v1/accounts/:id", "admin", "issuer:HOURS", "")),
		v("statement", get("/v1/accounts/:id/entries", "resident", "resident:r01", "after_seq=0&limit=3")),
		v("entries", get("/v1/entries", "auditor", "", "after_seq=1&limit=5")),
		v("entry", get("/v1/entries/:seq", "admin", "1", "")),
		v("entry of a party", get("/v1/entries/:seq", "station", itoa(w.creditA), "")),
		v("hold read", get("/v1/holds/:id", "resident", holdA, "")),
		v("checkpoint", get("/v1/checkpoint", "station", "", "")),
		v("checkpoint key", get("/v1/checkpoint/key", "outlet", "", "")),
		v("inclusion", get("/v1/proofs/inclusion", "admin", "", "seq=2&tree_size=3")),
		v("consistency", get("/v1/proofs/consistency", "auditor", "", "old_size=2&new_size=5")),
		v("export", get("/v1/export", "auditor", "", "after_seq=10")),
		v("backup", get("/v1/backup", "admin", "", "")),
		v("healthz", get("/healthz", whoNone, "", "")),
		v("metrics", get("/metrics", whoNone, "", "")),
		v("openapi", get("/openapi.yaml", whoNone, "", "")),
	}
}

// bodySeeds are hostile bodies of entry writes: numbers, nesting, keys, text, syntax.
func (w *fuzzWorld) bodySeeds() []seed {
	red := func(name, code, body string) seed {
		return seed{name: name, in: w.call("POST", "/v1/redemptions", "resident", "", "", body), code: code}
	}
	amount := func(a string) string { return `{"payee":"outlet:o01","asset":"POINTS","amount":` + a + `}` }
	memo := func(m string) string {
		return `{"payee":"outlet:o01","asset":"POINTS","amount":"1","memo":"` + m + `"}`
	}
	out := []seed{
		red("huge amount", "invalid_amount", amount(`"999999999999999999999999999"`)),
		red("amount as number", "invalid_amount", amount(`5`)),
		red("amount 1e999", "invalid_amount", amount(`1e999`)),
		red("amount exponent", "invalid_amount", amount(`"1e3"`)),
		red("amount negative", "invalid_amount", amount(`"-1"`)),
		red("amount zero", "invalid_amount", amount(`"0"`)),
		red("amount half", "invalid_amount", amount(`".5"`)),
		red("amount NaN", "invalid_amount", amount(`"NaN"`)),
		red("amount fullwidth", "invalid_amount", amount(`"１"`)),
		red("amount NUL", "invalid_amount", amount(`"5\u0000"`)),
		red("amount 60000 digits", "invalid_amount", amount(`"`+strings.Repeat("9", 60000)+`"`)),
		red("amount object", "invalid_amount", amount(`{"a":1}`)),
		red("memo NUL", "invalid_field", memo(`a\u0000b`)),
		red("raw NUL byte", "malformed_json", memo("a\x00b")),
		red("memo bidi", "invalid_field", memo(`\u202e`)),
		red("memo 201", "invalid_field", memo(strings.Repeat("x", 201))),
		red("memo 9000 bytes", "invalid_field", memo(strings.Repeat("x", 9000))),
		red("memo invalid UTF-8", "malformed_json", memo("\xff\xfe")),
		red("memo overlong UTF-8", "malformed_json", memo("\xc0\xaf")),
		red("memo CESU surrogate", "malformed_json", memo("\xed\xa0\x80")),
		red("memo lone high surrogate", "malformed_json", memo(`\ud800`)),
		red("memo lone low surrogate", "malformed_json", memo(`\udfff x`)),
		red("memo reversed pair", "malformed_json", memo(`\udc00\ud800`)),
		red("key lone surrogate", "malformed_json", `{"\ud800":1}`),
		red("key invalid UTF-8", "malformed_json", "{\"\xffpayee\":1}"),
		red("duplicate key", "malformed_json", `{"payee":"outlet:o01","asset":"POINTS","amount":"5","amount":"6"}`),
		red("case-folded key", "unknown_field", `{"Payee":"outlet:o01","asset":"POINTS","amount":"5"}`),
		red("case-folded duplicate", "unknown_field", `{"payee":"outlet:o01","asset":"POINTS","amount":"5","AMOUNT":"6"}`),
		red("long s key", "unknown_field", `{"payee":"outlet:o01","aſſet":"POINTS","amount":"5"}`),
		red("escaped key", "unknown_field", `{"p\u0061yee":"outlet:o01","asset":"POINTS","amount":"5"}`),
		red("unknown key", "unknown_field", `{"payee":"outlet:o01","asset":"POINTS","amount":"5","from":"resident:r02"}`),
		red("deep nesting", "malformed_json", `{"memo":`+strings.Repeat("[", 60000)),
		red("deep objects", "malformed_json", `{"memo":`+strings.Repeat(`{"a":`, 20)+`1`+strings.Repeat(`}`, 21)),
		red("many keys", "unknown_field", api.ManyKeys(`{`, `0`)),
		red("many keys in a string's place", "invalid_amount", api.ManyKeys(`{"payee":"outlet:o01","asset":"POINTS","amount":{`, `0`)),
		red("trailing object", "malformed_json", redemption+`{}`),
		red("trailing garbage", "malformed_json", redemption+` x`),
		red("BOM", "malformed_json", "\xef\xbb\xbf"+redemption),
		red("null", "malformed_json", `null`),
		red("array", "malformed_json", `[]`),
		red("string", "malformed_json", `"x"`),
		red("empty", "malformed_json", ``),
		red("blank", "malformed_json", " \n\t "),
		red("unclosed", "malformed_json", `{"payee":"outlet:o01`),
		red("payee issuer", "invalid_account", `{"payee":"issuer:HOURS","asset":"POINTS","amount":"5"}`),
		red("payee identity number", "invalid_account", `{"payee":"outlet:11010519491231002x","asset":"POINTS","amount":"5"}`),
		red("payee self", "invalid_field", `{"payee":"resident:r01","asset":"POINTS","amount":"5"}`),
		red("unknown asset", "invalid_field", `{"payee":"outlet:o01","asset":"GOLD","amount":"5"}`),
		{name: "emoji memo", in: w.call("POST", "/v1/redemptions", "resident", "", "", memo(`\ud83d\ude00 时间银行`)), valid: true},
	}
	return append(out, w.otherBodySeeds()...)
}

// otherBodySeeds are hostile bodies of the other write kinds.
func (w *fuzzWorld) otherBodySeeds() []seed {
	s := func(name, code, method, path, who, value, body string) seed {
		return seed{name: name, in: w.call(method, path, who, value, "", body), code: code}
	}
	credit := func(hours, start, end string) string {
		return `{"volunteer":"resident:r01","hours":"` + hours + `","activity":{"id":"a","category":"elderly-care",` +
			`"started_at":"` + start + `","ended_at":"` + end + `"}}`
	}
	return []seed{
		s("hold ttl 1e400", "invalid_field", "POST", "/v1/holds", "resident", "", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":1e400}`),
		s("hold ttl overflow", "invalid_field", "POST", "/v1/holds", "resident", "", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":99999999999999999999}`),
		s("hold ttl negative", "invalid_field", "POST", "/v1/holds", "resident", "", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":-1}`),
		s("hold ttl fraction", "invalid_field", "POST", "/v1/holds", "resident", "", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":1.5}`),
		s("reversal seq 2^64", "invalid_field", "POST", "/v1/reversals", "admin", "", `{"seq":18446744073709551616,"reason":"x"}`),
		s("reversal seq string", "invalid_field", "POST", "/v1/reversals", "admin", "", `{"seq":"5","reason":"x"}`),
		s("reversal genesis", "not_reversible", "POST", "/v1/reversals", "admin", "", `{"seq":1,"reason":"x"}`),
		s("reversal reason 501", "invalid_field", "POST", "/v1/reversals", "admin", "", `{"seq":5,"reason":"`+strings.Repeat("r", 501)+`"}`),
		s("reversal folded reason", "unknown_field", "POST", "/v1/reversals", "admin", "", `{"seq":5,"reaſon":"x"}`),
		s("settle hold_id in body", "unknown_field", "POST", "/v1/holds/:id/settle", "outlet", "0", `{"hold_id":5,"amount":"1"}`),
		s("settle hold 2^64", "invalid_field", "POST", "/v1/holds/:id/settle", "outlet", "18446744073709551616", `{"amount":"1"}`),
		s("void missing hold", "not_found", "POST", "/v1/holds/:id/void", "admin", "999999", `{}`),
		s("freeze account in body", "unknown_field", "POST", "/v1/accounts/:id/freeze", "admin", "resident:r02", `{"account":"resident:r01","reason":"x"}`),
		s("freeze issuer", "invalid_account", "POST", "/v1/accounts/:id/freeze", "admin", "issuer:HOURS", `{"reason":"x"}`),
		s("link self", "invalid_field", "POST", "/v1/links", "admin", "", `{"a":"resident:r01","b":"resident:r01","relation":"spouse"}`),
		s("link cousin", "invalid_field", "POST", "/v1/links", "admin", "", `{"a":"resident:r01","b":"resident:r02","relation":"cousin"}`),
		s("open issuer", "invalid_account", "POST", "/v1/accounts", "admin", "", `{"id":"issuer:GOLD"}`),
		s("open mobile number", "invalid_account", "POST", "/v1/accounts", "admin", "", `{"id":"resident:13812345678"}`),
		s("open existing", "account_exists", "POST", "/v1/accounts", "admin", "", `{"id":"resident:r01"}`),
		s("open station by station", "forbidden", "POST", "/v1/accounts", "station", "", `{"id":"station:s09"}`),
		s("credit ends first", "invalid_time", "POST", "/v1/credits", "station", "", credit("1", "2026-03-01T03:00:00Z", "2026-03-01T01:00:00Z")),
		s("credit nanoseconds", "invalid_time", "POST", "/v1/credits", "station", "", credit("1", "2026-03-01T01:00:00.000000001Z", "2026-03-01T03:00:00Z")),
		s("credit February 30", "invalid_time", "POST", "/v1/credits", "station", "", credit("1", "2026-02-30T01:00:00Z", "2026-03-01T03:00:00Z")),
		s("credit year 1", "invalid_time", "POST", "/v1/credits", "station", "", credit("1", "0001-01-01T00:00:00Z", "2026-03-01T03:00:00Z")),
		s("credit over duration", "duration_exceeded", "POST", "/v1/credits", "station", "", credit("3", "2026-02-20T01:00:00Z", "2026-02-20T03:00:00Z")),
		s("credit future", "future_time", "POST", "/v1/credits", "station", "", credit("1", "2026-03-02T04:00:00Z", "2026-03-02T05:00:00Z")),
		s("credit backdated", "backdate_window_exceeded", "POST", "/v1/credits", "station", "", credit("1", "2025-01-01T01:00:00Z", "2025-01-01T03:00:00Z")),
		s("credit entry cap", "entry_cap_exceeded", "POST", "/v1/credits", "station", "", credit("13", "2026-02-10T00:00:00Z", "2026-02-11T00:00:00Z")),
		s("credit hours 3 decimals", "invalid_amount", "POST", "/v1/credits", "station", "", credit("0.001", "2026-02-10T00:00:00Z", "2026-02-10T01:00:00Z")),
		s("credit as other station", "forbidden", "POST", "/v1/credits", "station", "", `{"station":"station:s02",`+credit("1", "2026-02-12T01:00:00Z", "2026-02-12T02:00:00Z")[1:]),
		s("credit by admin without station", "invalid_field", "POST", "/v1/credits", "admin", "", credit("1", "2026-02-12T01:00:00Z", "2026-02-12T02:00:00Z")),
		s("conversion inexact", "inexact_conversion", "POST", "/v1/conversions", "resident", "", `{"hours":"0.01"}`),
		s("transfer POINTS", "transfer_not_allowed", "POST", "/v1/transfers", "resident", "", `{"to":"resident:r02","asset":"POINTS","amount":"1"}`),
		s("transfer too much", "insufficient_balance", "POST", "/v1/transfers", "resident", "", `{"to":"resident:r02","asset":"HOURS","amount":"999999999999"}`),
		s("grant without memo", "invalid_field", "POST", "/v1/grants", "admin", "", `{"pool":"pool:public","to":"resident:r02","asset":"HOURS","amount":"1"}`),
		s("token for a missing account", "unknown_account", "POST", "/v1/tokens", "admin", "", `{"role":"resident","account":"resident:ghost"}`),
		s("token of no role", "invalid_field", "POST", "/v1/tokens", "admin", "", `{"role":"root"}`),
		s("admin token bound to an account", "invalid_field", "POST", "/v1/tokens", "admin", "", `{"role":"admin","account":"resident:r01"}`),
		s("reversal seq -1", "invalid_field", "POST", "/v1/reversals", "admin", "", `{"seq":-1,"reason":"x"}`),
		s("hold ttl -2^66", "invalid_field", "POST", "/v1/holds", "resident", "", `{"payee":"outlet:o01","asset":"POINTS","amount":"1","ttl_seconds":-99999999999999999999}`),
		s("credit naming a resident as station", "invalid_field", "POST", "/v1/credits", "admin", "", `{"station":"resident:r02",`+credit("1", "2026-02-12T01:00:00Z", "2026-02-12T02:00:00Z")[1:]),
		s("settle amount of 40 digits", "invalid_amount", "POST", "/v1/holds/:id/settle", "outlet", "999999", `{"amount":"`+strings.Repeat("1", 40)+`"}`),
	}
}

// policySeeds are hostile policies.
func (w *fuzzWorld) policySeeds() []seed {
	p := func(name, code, body string) seed {
		return seed{name: name, in: w.call("PUT", "/v1/policy", "admin", "", "", body), code: code}
	}
	k64 := strings.Repeat("\x01", 64) // the longest map key, quoted four times as long
	with := func(old, new string) string {
		if !strings.Contains(w.policy, old) {
			w.e.t.Fatalf("the policy has no %s: %s", old, w.policy)
		}
		return strings.Replace(w.policy, old, new, 1)
	}
	return []seed{
		p("scale changed", "invalid_policy", with(`"scale":2`, `"scale":3`)),
		p("timezone of Mars", "invalid_policy", with(`"Asia/Shanghai"`, `"Mars/Olympus_Mons"`)),
		p("null member", "invalid_policy", with(`"hold":{`, `"hold":null,"x":{`)),
		p("missing member", "invalid_policy", `{"timezone":"UTC"}`),
		p("negative backdate", "invalid_policy", with(`"backdate_days":30`, `"backdate_days":-1`)),
		p("backdate 2^63", "invalid_policy", with(`"backdate_days":30`, `"backdate_days":9223372036854775808`)),
		p("cap as number", "invalid_policy", with(`"max_hours_per_entry":"12"`, `"max_hours_per_entry":12`)),
		p("unknown member", "unknown_field", with(`"timezone"`, `"zone":"UTC","timezone"`)),
		p("many categories", "invalid_policy", api.ManyKeys(`{"credit":{"categories":{`, `{"points_per_hour":"1"}`)),
		p("empty category", "invalid_policy", with(`"categories":{`, `"categories":{"x":{},`)),
		p("duplicate category", "malformed_json", with(`"categories":{`, `"categories":{"x":{"points_per_hour":"1"},"x":{"points_per_hour":"2"},`)),
		p("escaped category", "unknown_field", with(`"categories":{`, `"categories":{"\u0078":{"points_per_hour":"1"},`)),
		p("control-byte keys", "unknown_field", `{"limits":{"`+k64+`":{"`+k64+`":{"`+k64+`":1}}}}`),
		p("deep timezone", "malformed_json", with(`"timezone":"Asia/Shanghai"`, `"timezone":`+strings.Repeat(`{"y":`, 20)+`1`+strings.Repeat(`}`, 20))),
	}
}

// requestSeeds bend the request around a valid body: methods, paths, queries, tokens,
// media types, keys, framing.
func (w *fuzzWorld) requestSeeds() []seed {
	red := func() fuzzInput { return w.call("POST", "/v1/redemptions", "resident", "", "", redemption) }
	with := func(in fuzzInput, f func(*fuzzInput)) fuzzInput { f(&in); return in }
	raw := func(method, target string) fuzzInput {
		return fuzzInput{Route: rawRoute, Method: methodSel(method), Param: target}
	}
	method := func(m string, in fuzzInput) fuzzInput {
		in.Method = methodSel(m)
		return in
	}
	policy := func(who string) fuzzInput { return w.call("GET", "/v1/policy", who, "", "", "") }
	out := []seed{
		{name: "PATCH", in: method("PATCH", red()), code: "not_found"},
		{name: "OPTIONS", in: method("OPTIONS", red())},
		{name: "HEAD", in: method("HEAD", policy("admin"))},
		{name: "TRACE", in: method("TRACE", policy("admin")), code: "not_found"},
		{name: "lower-case get", in: method("get", policy("admin")), code: "not_found"},
		{name: "CONNECT", in: method("CONNECT", policy("admin")), code: "not_found"},
		{name: "upper-case path", in: raw("GET", "/V1/POLICY"), code: "not_found"},
		{name: "double slash", in: raw("GET", "//v1//policy"), code: "not_found"},
		{name: "trailing slash", in: raw("GET", "/v1/policy/"), code: "not_found"},
		{name: "dot segments", in: raw("GET", "/v1/accounts/resident:r01/../../policy"), code: "not_found"},
		{name: "bad escape", in: raw("GET", "/v1/accounts/%zz")},
		{name: "encoded NUL", in: raw("GET", "/v1/accounts/resident:r01%00"), code: "invalid_account"},
		{name: "asterisk", in: raw("OPTIONS", "*")},
		{name: "absolute form", in: raw("GET", "http://evil.example/v1/policy"), valid: true},
		{name: "long path", in: raw("GET", "/v1/accounts/resident:"+strings.Repeat("a", 10000)), code: "invalid_account"},
		{name: "extra segment", in: raw("POST", "/v1/holds/1/settle/now"), code: "not_found"},
		{name: "empty seq", in: raw("GET", "/v1/entries/")},
		{name: "limit 0", in: w.call("GET", "/v1/entries", "admin", "", "limit=0", ""), code: "invalid_field"},
		{name: "limit 501", in: w.call("GET", "/v1/entries", "admin", "", "limit=501", ""), code: "invalid_field"},
		{name: "limit 1e2", in: w.call("GET", "/v1/entries", "admin", "", "limit=1e2", ""), code: "invalid_field"},
		{name: "after_seq 2^64", in: w.call("GET", "/v1/entries", "admin", "", "after_seq=18446744073709551616", ""), code: "invalid_field"},
		{name: "after_seq -1", in: w.call("GET", "/v1/accounts/:id/entries", "admin", "resident:r01", "after_seq=-1", ""), code: "invalid_field"},
		{name: "bad query escape", in: w.call("GET", "/v1/entries", "admin", "", "limit=%zz&after_seq=%", "")},
		{name: "inclusion past size", in: w.call("GET", "/v1/proofs/inclusion", "admin", "", "seq=3&tree_size=2", ""), code: "invalid_field"},
		{name: "inclusion beyond", in: w.call("GET", "/v1/proofs/inclusion", "admin", "", "seq=1&tree_size=18446744073709551615", ""), code: "invalid_field"},
		{name: "consistency past the log", in: w.call("GET", "/v1/proofs/consistency", "admin", "", "old_size=999999", ""), code: "invalid_field"},
		{name: "consistency backwards", in: w.call("GET", "/v1/proofs/consistency", "admin", "", "old_size=5&new_size=2", ""), code: "invalid_field"},
		{name: "export 2^64", in: w.call("GET", "/v1/export", "auditor", "", "after_seq=18446744073709551616", ""), code: "invalid_field"},
		{name: "entry 2^64-1", in: w.call("GET", "/v1/entries/:seq", "admin", "18446744073709551615", "", ""), code: "not_found"},
		{name: "entry 2^64", in: w.call("GET", "/v1/entries/:seq", "admin", "18446744073709551616", "", ""), code: "invalid_field"},
		{name: "hold of another", in: w.call("GET", "/v1/holds/:id", "resident2", w.pathValues("/v1/holds/:id")[0], "", ""), code: "not_found"},
		{name: "account of another", in: w.call("GET", "/v1/accounts/:id", "resident", "resident:r02", "", ""), code: "not_found"},
		{name: "revoke by secret", in: w.call("DELETE", "/v1/tokens/:id", "admin", "tb_not-an-id", "", ""), code: "invalid_field"},
		{name: "revoked token id", in: w.call("DELETE", "/v1/tokens/:id", "admin", w.revokedTokenID, "", "")},
	}
	return append(out, w.headerSeeds(red, with)...)
}

// headerSeeds bend the headers: tokens, media types, keys, framing, structured bodies.
func (w *fuzzWorld) headerSeeds(red func() fuzzInput, with func(fuzzInput, func(*fuzzInput)) fuzzInput) []seed {
	who := func(mode, hdr string) fuzzInput {
		return with(w.call("GET", "/v1/policy", mode, "", "", ""), func(in *fuzzInput) { in.Hdr = hdr })
	}
	ct := func(i int, hdr string) fuzzInput {
		return with(red(), func(in *fuzzInput) { in.CType, in.Hdr = uint8(i), hdr })
	}
	key := func(mode uint8, k string) fuzzInput {
		return with(red(), func(in *fuzzInput) { in.KeyMode, in.Key = mode, k })
	}
	flags := func(f uint8, in fuzzInput) fuzzInput { in.Flags = f; return in }
	structured := func(method, path, who, value string, field uint8, hdr string) fuzzInput {
		in := w.call(method, path, who, value, "", "")
		in.Flags, in.Field, in.Hdr = flagStructured, field, hdr
		return in
	}
	out := []seed{
		{name: "no token", in: who(whoNone, ""), code: "unauthenticated"},
		{name: "wrong token", in: who(whoWrong, ""), code: "unauthenticated"},
		{name: "revoked token", in: who("revoked", ""), code: "unauthenticated"},
		{name: "frozen resident writes", in: with(red(), func(in *fuzzInput) { in.Who = whoIndex(w.e.t, "frozen") }), code: "account_frozen"},
		{name: "auditor writes", in: with(red(), func(in *fuzzInput) { in.Who = whoIndex(w.e.t, "auditor") }), code: "forbidden"},
		{name: "bearer alone", in: who(whoRaw, "Bearer"), code: "unauthenticated"},
		{name: "long secret", in: who(whoBearer, strings.Repeat("s", 300)), code: "unauthenticated"},
		{name: "non-ASCII secret", in: who(whoBearer, "tb_\xc3\xa9"), code: "unauthenticated"},
		{name: "lower-case scheme", in: who(whoLower, ""), valid: true},
		{name: "basic scheme", in: who(whoBasic, ""), code: "unauthenticated"},
		{name: "padded secret", in: who(whoSpaces, ""), valid: true},
		{name: "two tokens", in: who(whoTwice, ""), code: "unauthenticated"},
		{name: "latin1", in: ct(slices.Index(contentTypes, "application/json; charset=latin1"), ""), code: "unsupported_media_type"},
		{name: "text/plain", in: ct(slices.Index(contentTypes, "text/plain"), ""), code: "unsupported_media_type"},
		{name: "no content type", in: ct(slices.Index(contentTypes, ctNone), ""), code: "unsupported_media_type"},
		{name: "quoted charset", in: ct(slices.Index(contentTypes, `application/json; charset="utf-8"`), ""), valid: true},
		{name: "repeated charset", in: ct(slices.Index(contentTypes, "application/json; charset=utf-8; charset=latin1"), ""), code: "unsupported_media_type"},
		{name: "raw content type", in: ct(slices.Index(contentTypes, ctHdr), `application/json; charset=utf-8; q="`), code: "unsupported_media_type"},
		{name: "long media parameter", in: ct(slices.Index(contentTypes, ctHdr), "application/json; charset="+strings.Repeat("u", 100)), code: "unsupported_media_type"},
		{name: "two content types", in: ct(slices.Index(contentTypes, ctTwice), ""), valid: true},
		{name: "no key", in: key(keyAbsent, ""), code: "missing_idempotency_key"},
		{name: "empty key", in: key(keyEmpty, ""), code: "missing_idempotency_key"},
		{name: "key of 128", in: key(keyMax, ""), valid: true},
		{name: "key of 129", in: key(keyTooLong, ""), code: "missing_idempotency_key"},
		{name: "non-ASCII key", in: key(keyRaw, "clé"), code: "missing_idempotency_key"},
		{name: "padded key", in: key(keyRaw, "  k-padded  "), valid: true},
		{name: "fixed key", in: key(keyFixed, ""), valid: true},
		{name: "fixed key replayed", in: key(keyFixed, ""), valid: true},
		{name: "fixed key reused", in: with(key(keyFixed, ""), func(in *fuzzInput) { in.Body = []byte(strings.Replace(redemption, `"5"`, `"6"`, 1)) }), code: "idempotency_key_reused"},
		{name: "repeated key", in: key(keyRepeat, ""), valid: true},
		{name: "two keys", in: key(keyTwice, "second"), code: "missing_idempotency_key"},
		{name: "chunked", in: flags(flagChunked, red()), valid: true},
		{name: "at the limit", in: flags(flagPadToLimit, red()), valid: true},
		{name: "over the limit", in: flags(flagPadOver, red()), code: "body_too_large"},
		{name: "over the limit, chunked", in: flags(flagPadOver|flagChunked, red()), code: "body_too_large"},
		{name: "no body", in: flags(flagNoBody, red()), code: "malformed_json"},
		{name: "client gone", in: flags(flagCutBody, red()), code: "malformed_json"},
		{name: "ten minutes on", in: flags(flagTick, red()), valid: true},
		{name: "structured amount", in: structured("POST", "/v1/redemptions", "resident", "", 0, "1e3"), code: "invalid_amount"},
		{name: "structured key", in: structured("POST", "/v1/transfers", "resident", "", replaceKey, "Amount"), code: "unknown_field"},
		{name: "structured credit", in: structured("POST", "/v1/credits", "station", "", 2, "2026-02-28T25:00:00Z"), code: "invalid_time"},
		{name: "structured policy", in: structured("PUT", "/v1/policy", "admin", "", 7, "[]"), code: "invalid_policy"},
		{name: "structured settle", in: structured("POST", "/v1/holds/:id/settle", "outlet", w.pathValues("/v1/holds/:id")[0], 0, "abc"), code: "invalid_amount"},
	}
	return out
}

// TestRouterSeeds runs FuzzRouter's corpus in order on a world of its own: every check of
// the fuzz target holds, every valid seed answers 2xx, every hostile seed with a code
// answers it, and the valid seeds reach every registered route and every write kind.
func TestRouterSeeds(t *testing.T) {
	w := newFuzzWorld(t)
	reached := map[string]bool{}
	for _, s := range w.seeds() {
		rec, ok := w.exchange(t, s.in)
		switch {
		case s.valid && (!ok || rec.Code < 200 || rec.Code > 299):
			t.Errorf("%s: a valid request, answered %v", s.name, rec)
		case s.code != "" && (!ok || (&resp{t: t, Body: rec.Body.Bytes()}).code() != s.code):
			t.Errorf("%s: want %s, got %v", s.name, s.code, rec)
		}
		if s.valid && s.in.Route < rawRoute && s.in.Method < oddMethod {
			r := w.routes[s.in.Route]
			reached[r.Method+" "+r.Path] = true
		}
	}
	writes := 0
	for _, r := range w.e.srv.Routes() {
		key := r.Method + " " + r.Path
		if !reached[key] {
			t.Errorf("no valid seed reaches %s", key)
		}
		_, isWrite := writeTypes[key]
		if wantWrite := r.Method != http.MethodGet && r.Method != http.MethodDelete && r.Path != "/v1/tokens"; isWrite != wantWrite {
			t.Errorf("%s: writeTypes has it %v, want %v", key, isWrite, wantWrite)
		}
		if isWrite {
			writes++
		}
	}
	if writes != len(writeTypes) {
		t.Errorf("writeTypes names %d routes, the router has %d of them", len(writeTypes), writes)
	}
}
