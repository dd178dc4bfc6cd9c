package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
)

// The world of FuzzRouter: one server over one store, made once per fuzz worker process
// (the fuzz function runs its inputs one after the other in it), with fixture accounts,
// funds, holds and a token for every role, so that valid requests of every kind succeed
// and mutated ones reach the rules behind the decoder. The state moves on as inputs are
// accepted; every assertion holds whatever the state (see router_fuzz_check_test.go).

// fuzzWorld is what the fuzz function needs between inputs.
type fuzzWorld struct {
	e      *env
	probe  *logProbe
	routes []*echo.Route // the registered routes, sorted: an input names one by index

	adminActor string            // the admin token's actor, "admin:tok_…"
	secrets    map[string]string // by who: the bearer secret sent
	actors     map[string]string // by who: the actor its writes carry

	holdA, holdB   uint64 // open holds of resident:r01: to outlet:o01 (POINTS), to station:s01 (HOURS)
	creditA        uint64 // a credit of station:s01 to resident:r02 (admin may reverse it)
	creditB        uint64 // another, for station:s01 to reverse itself
	revokedTokenID string

	policy string            // the policy in force after setup, as GET /v1/policy answers it
	bodies map[string]string // validBodies, once made

	lastKey  string        // the Idempotency-Key of the previous request (key mode "repeat")
	advanced time.Duration // how far inputs have moved the clock, at most maxAdvance
}

// maxAdvance bounds how far inputs move the clock: past a station's 7-day reversal window
// and many hold lifetimes, well inside the 30-day backdate window of the seeds' sessions.
const maxAdvance = 8 * 24 * time.Hour

// logProbe is the server's log: it keeps the route and status of the last request line, and
// every record at level Error (an internal error, a panic and its stack, a stream cut).
type logProbe struct {
	mu     sync.Mutex
	route  string
	status int64
	errors []string
}

func (p *logProbe) Enabled(context.Context, slog.Level) bool { return true }
func (p *logProbe) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *logProbe) WithGroup(string) slog.Handler            { return p }

func (p *logProbe) Handle(_ context.Context, r slog.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Message == "request" {
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "route":
				p.route = a.Value.String()
			case "status":
				p.status = a.Value.Int64()
			}
			return true
		})
	}
	if r.Level >= slog.LevelError {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
			return true
		})
		p.errors = append(p.errors, b.String())
	}
	return nil
}

// take returns what the log got since the last call, and forgets it.
func (p *logProbe) take() (route string, status int64, errors []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	route, status, errors = p.route, p.status, p.errors
	p.route, p.status, p.errors = "", 0, nil
	return route, status, errors
}

// newFuzzWorld builds the world on tb (the *testing.F of the fuzz target, or a test's t).
func newFuzzWorld(tb testing.TB) *fuzzWorld {
	tb.Helper()
	probe := &logProbe{}
	e := newEnv(tb, envOptions{options: api.Options{Logger: slog.New(probe)}})
	e.quiet = true // the fuzz function validates answers itself, with openapi.yaml among its checks
	// The HEAD routes (GET's handlers) are left out, so that the seeds' route numbers keep
	// naming the routes they were written for; an odd method reaches them.
	w := &fuzzWorld{e: e, probe: probe, routes: slices.DeleteFunc(e.srv.Echo().Routes(),
		func(r *echo.Route) bool { return r.Method == http.MethodHead })}
	slices.SortFunc(w.routes, func(a, b *echo.Route) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	w.setup()
	w.policy = string(e.must(e.do("GET", "/v1/policy", "admin", ""), http.StatusOK).Body)
	if _, _, errs := probe.take(); len(errs) > 0 {
		tb.Fatalf("the setup logged errors: %v", errs)
	}
	return w
}

// setup makes the fixtures beyond env.seed: a frozen resident with a token, a family link,
// hours and points, a funded pool, two open holds, credits to reverse, a revoked token.
func (w *fuzzWorld) setup() {
	e := w.e
	e.must(e.write("POST", "/v1/accounts", "admin", `{"id":"resident:f01"}`), http.StatusCreated)
	e.tok["frozen"] = e.newToken("resident", "resident:f01")
	e.must(e.write("POST", "/v1/accounts/resident:f01/freeze", "admin", `{"reason":"moved away"}`), http.StatusCreated)
	e.must(e.write("POST", "/v1/links", "admin", `{"a":"resident:r01","b":"resident:r02","relation":"spouse"}`), http.StatusCreated)
	day := 24 * time.Hour
	e.must(e.credit("station", "resident:r01", "8", 2*day, 8*time.Hour), http.StatusCreated)
	e.must(e.credit("station", "resident:r01", "8", 3*day, 8*time.Hour), http.StatusCreated)
	w.creditA = e.must(e.credit("station", "resident:r02", "6", 2*day, 6*time.Hour), http.StatusCreated).seqOf()
	w.creditB = e.must(e.credit("station", "resident:r02", "2", 4*day, 2*time.Hour), http.StatusCreated).seqOf()
	e.must(e.write("POST", "/v1/donations", "resident", `{"pool":"pool:public","asset":"HOURS","amount":"2"}`), http.StatusCreated)
	e.must(e.write("POST", "/v1/donations", "resident", `{"pool":"pool:public","asset":"POINTS","amount":"20"}`), http.StatusCreated)
	w.holdA = e.hold("resident", "outlet:o01", "POINTS", "10", 86400)
	w.holdB = e.hold("resident", "station:s01", "HOURS", "1", 86400)

	tok, secret, err := e.led.CreateToken(ledger.RoleResident, "resident:r03", "lost phone")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.led.RevokeToken(tok.ID); err != nil {
		e.t.Fatal(err)
	}
	w.revokedTokenID, e.tok["revoked"] = tok.ID, secret

	tokens, err := e.led.ListTokens()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, t := range tokens {
		if t.Role == ledger.RoleAdmin {
			w.adminActor = "admin:" + t.ID
			break
		}
	}
	w.secrets = map[string]string{}
	w.actors = map[string]string{"admin": w.adminActor}
	for who, secret := range e.tok {
		w.secrets[who] = secret
	}
	for _, f := range fixtures {
		if f.principal != "" {
			w.actors[f.principal] = f.account
		}
	}
	w.actors["frozen"] = "resident:f01"
}

// routeIndex is the index of a registered route, for seeds.
func (w *fuzzWorld) routeIndex(method, path string) uint8 {
	for i, r := range w.routes {
		if r.Method == method && r.Path == path {
			return uint8(i)
		}
	}
	w.e.t.Fatalf("no route %s %s", method, path)
	return 0
}

// pathValues are the values a path parameter takes from the world (pathMode < pathFromPool),
// by route family: existing, missing and malformed ids, encoded forms.
func (w *fuzzWorld) pathValues(route string) []string {
	switch {
	case strings.HasPrefix(route, "/v1/accounts/"):
		return []string{"resident:r01", "resident:r02", "resident:r03", "station:s01", "station:s02", "outlet:o01",
			"pool:public", "resident:f01", "issuer:HOURS", "issuer:POINTS", "resident:nobody", "resident%3Ar01",
			"resident%253Ar01", "RESIDENT:R01", "resident:", ":", "resident", "resident:r01%2Fx",
			"resident:11010519491231002x", "resident:13812345678", "resident:%00", "resident:%ff"}
	case strings.HasPrefix(route, "/v1/holds/"):
		return []string{itoa(w.holdA), itoa(w.holdB), "0", "1", "999999", "18446744073709551615",
			"18446744073709551616", "0001", "-1", "1e3", "+5", "%31"}
	case strings.HasPrefix(route, "/v1/tokens/"):
		return []string{freshToken, w.revokedTokenID, "tok_0000000000000000", "tb_not-an-id", strings.Repeat("t", 65), "%74ok_"}
	case strings.HasPrefix(route, "/v1/entries/"):
		return []string{"1", itoa(w.creditA), latestSeq, "0", "18446744073709551615", "18446744073709551616", "01", "-1", "1.0"}
	}
	return []string{"x"}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// Special path values, resolved when the request is made.
const (
	freshToken = "<fresh token>" // the id of a token made for this request, so a DELETE succeeds
	latestSeq  = "<latest seq>"  // the ledger's last seq
)
