package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// authCase is one route of the matrix: a request with a valid shape, and the roles that pass
// the route's role check. A principal that passes may still get 404 (not its object) or a
// 4xx of the rules, never 401 or 403; one that does not pass gets 403.
type authCase struct {
	method, path string
	body         func(e *env, who string) string
	write        bool // sends an Idempotency-Key
	roles        string
}

const everyone = "admin auditor station outlet resident"

func fixed(s string) func(*env, string) string { return func(*env, string) string { return s } }

var authMatrix = []authCase{
	{"POST", "/v1/accounts", func(e *env, who string) string { return fmt.Sprintf(`{"id":"resident:m-%s-%d"}`, who, e.keyN.Add(1)) }, true, "admin station"},
	{"POST", "/v1/accounts/resident:r03/freeze", fixed(`{"reason":"matrix"}`), true, "admin"},
	{"POST", "/v1/accounts/resident:r03/unfreeze", fixed(`{"reason":"matrix"}`), true, "admin"},
	{"POST", "/v1/links", fixed(`{"a":"resident:r01","b":"resident:r02","relation":"spouse"}`), true, "admin"},
	{"POST", "/v1/credits", func(e *env, who string) string {
		end := e.clk.Now().Add(-ledgerHours(int(e.keyN.Add(1)) * 3))
		b := e.creditBody("resident:r01", "1", end.Add(-ledgerHours(1)), end)
		return strings.Replace(b, `{`, `{"station":"station:s01",`, 1)
	}, true, "admin station"},
	{"POST", "/v1/redemptions", fixed(`{"payee":"outlet:o01","asset":"POINTS","amount":"1"}`), true, "resident"},
	{"POST", "/v1/holds", fixed(`{"payee":"outlet:o01","asset":"POINTS","amount":"1"}`), true, "resident"},
	{"POST", "/v1/holds/999999/settle", fixed(`{"amount":"1"}`), true, "admin station outlet resident"},
	{"POST", "/v1/holds/999999/void", fixed(`{}`), true, "admin station outlet resident"},
	{"POST", "/v1/transfers", fixed(`{"to":"resident:r02","asset":"HOURS","amount":"1"}`), true, "resident"},
	{"POST", "/v1/donations", fixed(`{"pool":"pool:public","asset":"HOURS","amount":"1"}`), true, "resident"},
	{"POST", "/v1/grants", fixed(`{"pool":"pool:public","to":"resident:r01","asset":"HOURS","amount":"1","memo":"m"}`), true, "admin"},
	{"POST", "/v1/conversions", fixed(`{"hours":"1"}`), true, "resident"},
	{"POST", "/v1/reversals", fixed(`{"seq":999999,"reason":"matrix"}`), true, "admin station"},
	{"PUT", "/v1/policy", func(e *env, _ string) string { return e.policyWith(`"backdate_days":30`, `"backdate_days":30`) }, true, "admin"},
	{"GET", "/v1/policy", nil, false, everyone},
	{"POST", "/v1/tokens", fixed(`{"role":"auditor","label":"matrix"}`), false, "admin"},
	{"GET", "/v1/tokens", nil, false, "admin"},
	{"DELETE", "/v1/tokens/tok_0000000000000000", nil, false, "admin"},
	{"GET", "/v1/accounts/resident:r01", nil, false, everyone},
	{"GET", "/v1/accounts/resident:r01/entries", nil, false, everyone},
	{"GET", "/v1/entries", nil, false, "admin auditor"},
	{"GET", "/v1/entries/2", nil, false, everyone},
	{"GET", "/v1/holds/999999", nil, false, everyone},
	{"GET", "/v1/checkpoint", nil, false, everyone},
	{"GET", "/v1/checkpoint/key", nil, false, everyone},
	{"GET", "/v1/proofs/inclusion?seq=1", nil, false, everyone},
	{"GET", "/v1/proofs/consistency?old_size=1", nil, false, everyone},
	{"GET", "/v1/export", nil, false, "admin auditor"},
	{"GET", "/v1/backup", nil, false, "admin"},
	{"GET", "/healthz", nil, false, "public"},
	{"GET", "/metrics", nil, false, "public"},
	{"GET", "/openapi.yaml", nil, false, "public"},
}

// routeOf turns a concrete path of the matrix into Echo's pattern.
func routeOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		switch {
		case strings.Contains(p, ":") || (i > 0 && parts[i-1] == "holds" && p != "") || strings.HasPrefix(p, "tok_"):
			parts[i] = ":id"
		case i > 0 && parts[i-1] == "entries" && p != "":
			parts[i] = ":seq"
		}
	}
	return strings.Join(parts, "/")
}

// TestAuthorizationMatrix sends every route × every principal. A route the router has and
// the matrix lacks fails the test, so a new route cannot ship without its roles.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	// r01 gets hours and points so that the allowed writes pass their role checks and more.
	e.must(e.credit("station", "resident:r01", "10", ledgerHours(1), ledgerHours(10)), 201)
	inMatrix := map[string]bool{}
	for _, c := range authMatrix {
		inMatrix[c.method+" "+routeOf(c.path)] = true
	}
	// A HEAD route runs its GET's handler (TestHeadAnswersAsGet): the GET's row covers it.
	routes := 0
	for _, r := range e.srv.Echo().Routes() {
		if r.Method == http.MethodHead {
			if !inMatrix[http.MethodGet+" "+r.Path] {
				t.Errorf("route %s %s has no GET in the authorization matrix", r.Method, r.Path)
			}
			continue
		}
		routes++
		if !inMatrix[r.Method+" "+r.Path] {
			t.Errorf("route %s %s is not in the authorization matrix", r.Method, r.Path)
		}
	}
	if len(inMatrix) != routes {
		t.Errorf("matrix has %d routes, the router %d", len(inMatrix), routes)
	}
	for _, c := range authMatrix {
		for _, who := range append(strings.Fields(everyone), "", "bogus") {
			body := ""
			if c.body != nil {
				body = c.body(e, who)
			}
			var r *resp
			if who == "bogus" {
				r = e.do(c.method, c.path, "raw:Bearer tb_not-a-token", body, "Idempotency-Key", "m")
			} else if c.write {
				r = e.write(c.method, c.path, who, body)
			} else {
				r = e.do(c.method, c.path, who, body)
			}
			allowed := c.roles == "public" || strings.Contains(" "+c.roles+" ", " "+who+" ")
			switch {
			case c.roles == "public":
				if r.Status != http.StatusOK {
					t.Errorf("%s %s as %q: public route answered %s", c.method, c.path, who, r)
				}
			case who == "" || who == "bogus":
				if r.Status != http.StatusUnauthorized || r.code() != "unauthenticated" {
					t.Errorf("%s %s as %q: want 401 unauthenticated, got %s", c.method, c.path, who, r)
				}
			case allowed:
				if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden || r.Status >= 500 {
					t.Errorf("%s %s as %s: allowed role refused: %s", c.method, c.path, who, r)
				}
			default:
				if r.Status != http.StatusForbidden || r.code() != "forbidden" {
					t.Errorf("%s %s as %s: want 403 forbidden, got %s", c.method, c.path, who, r)
				}
			}
		}
	}
}

// TestVisibility: objects a principal may not see answer 404 exactly as missing ones.
func TestVisibility(t *testing.T) {
	e := newEnv(t)
	credit := e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201).seqOf()
	id := e.hold("resident", "station:s01", "HOURS", "1.00", 0)
	// An admin's reversal of a station's credit is party to what the credit was party to.
	credit2 := e.must(e.credit("station", "resident:r01", "1", ledgerHours(5), ledgerHours(1)), 201).seqOf()
	rev := e.must(e.write("POST", "/v1/reversals", "admin", fmt.Sprintf(`{"seq":%d,"reason":"entered twice"}`, credit2)), 201).seqOf()
	missing := e.do("GET", "/v1/accounts/resident:nobody", "admin", "")
	cases := []struct {
		who, path string
		status    int
	}{
		{"resident", "/v1/accounts/resident:r01", 200},
		{"resident2", "/v1/accounts/resident:r01", 404},
		{"station", "/v1/accounts/resident:r01", 404},
		{"resident2", "/v1/accounts/resident:r01/entries", 404},
		{"resident", fmt.Sprintf("/v1/entries/%d", credit), 200},
		{"station", fmt.Sprintf("/v1/entries/%d", credit), 200},
		{"station2", fmt.Sprintf("/v1/entries/%d", credit), 404},
		{"resident2", fmt.Sprintf("/v1/entries/%d", credit), 404},
		{"outlet", fmt.Sprintf("/v1/entries/%d", credit), 404},
		{"station", fmt.Sprintf("/v1/entries/%d", rev), 200},
		{"station2", fmt.Sprintf("/v1/entries/%d", rev), 404},
		{"resident2", fmt.Sprintf("/v1/proofs/inclusion?seq=%d", credit), 404},
		{"resident", fmt.Sprintf("/v1/proofs/inclusion?seq=%d", credit), 200},
		{"resident", fmt.Sprintf("/v1/holds/%d", id), 200},
		{"station", fmt.Sprintf("/v1/holds/%d", id), 200},
		{"auditor", fmt.Sprintf("/v1/holds/%d", id), 200},
		{"resident2", fmt.Sprintf("/v1/holds/%d", id), 404},
		{"station2", fmt.Sprintf("/v1/holds/%d", id), 404},
	}
	for _, c := range cases {
		r := e.do("GET", c.path, c.who, "")
		if r.Status != c.status {
			t.Errorf("GET %s as %s: want %d, got %s", c.path, c.who, c.status, r)
		}
		if c.status == 404 && !sameNotFound(r, missing) {
			t.Errorf("GET %s as %s: 404 differs from a missing object's: %s vs %s", c.path, c.who, r.Body, missing.Body)
		}
	}
	// Writes on invisible holds: 404 too; on a visible hold by the wrong party: 403.
	if r := e.write("POST", fmt.Sprintf("/v1/holds/%d/settle", id), "station2", `{"amount":"1"}`); r.Status != 404 {
		t.Errorf("settle by a stranger station: want 404, got %s", r)
	}
	if r := e.write("POST", fmt.Sprintf("/v1/holds/%d/void", id), "resident2", `{}`); r.Status != 404 {
		t.Errorf("void by a stranger resident: want 404, got %s", r)
	}
	if r := e.write("POST", fmt.Sprintf("/v1/holds/%d/settle", id), "resident", `{"amount":"1"}`); r.Status != 403 {
		t.Errorf("settle by the hold's resident: want 403, got %s", r)
	}
	if r := e.write("POST", "/v1/reversals", "station2", fmt.Sprintf(`{"seq":%d,"reason":"not mine"}`, credit)); r.Status != 404 {
		t.Errorf("reversal of another station's credit: want 404, got %s", r)
	}
}

// sameNotFound reports whether two 404 answers have the same code (messages may name the
// kind of object, never whether it exists).
func sameNotFound(a, b *resp) bool { return a.code() == "not_found" && b.code() == "not_found" }
