package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// The tests run the real router over a real store in t.TempDir(), with a clock they move.

const adminSecret = "tb_test-admin-secret"

// t0 is the tests' start time: 12:00 in Shanghai, the policy's time zone.
var t0 = time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one server over one fresh store, with fixture accounts and a token per role.
type env struct {
	t     testing.TB
	clk   *clock
	led   *store.Ledger
	srv   *api.Server
	tok   map[string]string // by principal name: admin, auditor, station, station2, outlet, resident, resident2
	keyN  atomic.Int64
	quiet bool // skip OpenAPI validation (deliberately undocumented requests)
}

type envOptions struct {
	wrap    func(ledger.Service) ledger.Service
	options api.Options
	noSeed  bool
}

func newEnv(t testing.TB, o ...envOptions) *env {
	t.Helper()
	var opt envOptions
	if len(o) > 0 {
		opt = o[0]
	}
	clk := &clock{t: t0}
	led, err := store.Open(t.TempDir(), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	if err := led.EnsureAdminToken(adminSecret); err != nil {
		t.Fatal(err)
	}
	var svc ledger.Service = led
	if opt.wrap != nil {
		svc = opt.wrap(led)
	}
	opts := opt.options
	opts.Now = clk.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &env{t: t, clk: clk, led: led, srv: api.New(svc, opts), tok: map[string]string{"admin": adminSecret}}
	if !opt.noSeed {
		e.seed()
	}
	return e
}

// Fixture accounts and the principal names of their tokens.
var fixtures = []struct{ account, principal string }{
	{"station:s01", "station"}, {"station:s02", "station2"}, {"outlet:o01", "outlet"},
	{"resident:r01", "resident"}, {"resident:r02", "resident2"}, {"resident:r03", ""}, {"pool:public", ""},
}

func (e *env) seed() {
	e.t.Helper()
	for _, f := range fixtures {
		e.must(e.write("POST", "/v1/accounts", "admin", `{"id":"`+f.account+`"}`), http.StatusCreated)
		if f.principal != "" {
			role := strings.SplitN(f.account, ":", 2)[0]
			e.tok[f.principal] = e.newToken(role, f.account)
		}
	}
	e.tok["auditor"] = e.newToken("auditor", "")
}

func (e *env) newToken(role, account string) string {
	body := `{"role":"` + role + `"}`
	if account != "" {
		body = `{"role":"` + role + `","account":"` + account + `"}`
	}
	r := e.must(e.do("POST", "/v1/tokens", "admin", body), http.StatusCreated)
	var out struct{ Token string }
	r.decode(&out)
	return out.Token
}

// resp is an answer of the server.
type resp struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

func (r *resp) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// code returns the error code of an error answer ("" otherwise).
func (r *resp) code() string {
	var e struct{ Error struct{ Code string } }
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

func (r *resp) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

func (e *env) must(r *resp, status int) *resp {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("want %d, got %s", status, r)
	}
	return r
}

// write sends an entry-creating write with a fresh Idempotency-Key.
func (e *env) write(method, path, who, body string) *resp {
	e.t.Helper()
	return e.do(method, path, who, body, "Idempotency-Key", fmt.Sprintf("k-%d", e.keyN.Add(1)))
}

// do sends one request through the full Echo stack. who names a token (or is a raw
// "Bearer …" header value when it starts with "raw:"); "" sends none. A body is sent as
// application/json unless headers set Content-Type. The answer is checked against
// openapi.yaml.
func (e *env) do(method, path, who, body string, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(who, "raw:"):
		req.Header.Set("Authorization", strings.TrimPrefix(who, "raw:"))
	case who != "":
		tok, ok := e.tok[who]
		if !ok {
			e.t.Fatalf("no token %q", who)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	r := &resp{t: e.t, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if !e.quiet {
		validateResponse(e.t, req, r)
	}
	return r
}

var (
	oaOnce   sync.Once
	oaRouter routers.Router
	oaErr    error
)

func init() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/yaml", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/vnd.google.protobuf", openapi3filter.FileBodyDecoder)
}

// validateResponse checks a real answer against openapi.yaml: status documented, headers,
// content type and body schema. Requests to paths the document does not have (404 tests)
// have nothing to be checked against.
func validateResponse(t testing.TB, req *http.Request, r *resp) {
	t.Helper()
	oaOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
		if err != nil {
			oaErr = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: "/"}}
		oaRouter, oaErr = gorillamux.NewRouter(doc)
	})
	if oaErr != nil {
		t.Fatalf("openapi.yaml: %v", oaErr)
	}
	route, params, err := oaRouter.FindRoute(req)
	if err != nil {
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Status, Header: r.Header,
		Body: io.NopCloser(bytes.NewReader(r.Body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s answered %d, which openapi.yaml does not allow: %v\nbody: %.400s", req.Method, req.URL, r.Status, err, r.Body)
	}
}

// Credit helpers: sessions are placed relative to the clock.

func (e *env) creditBody(volunteer, hours string, start, end time.Time) string {
	return fmt.Sprintf(`{"volunteer":%q,"hours":%q,"activity":{"id":"act-%d","category":"elderly-care","started_at":%q,"ended_at":%q}}`,
		volunteer, hours, e.keyN.Add(1), start.Format(time.RFC3339), end.Format(time.RFC3339))
}

// credit credits volunteer hours for a session that ended endAgo before now and lasted dur.
func (e *env) credit(who, volunteer, hours string, endAgo, dur time.Duration) *resp {
	e.t.Helper()
	end := e.clk.Now().Add(-endAgo)
	return e.write("POST", "/v1/credits", who, e.creditBody(volunteer, hours, end.Add(-dur), end))
}

// seqOf returns the seq of an entry answer.
func (r *resp) seqOf() uint64 {
	var out struct{ Seq uint64 }
	r.decode(&out)
	return out.Seq
}

// failing wraps the store to inject what a healthy store never does.
type failing struct {
	ledger.Service
	submitErr error
	healthErr error
	entered   chan struct{} // closed when Submit is entered, if set
	release   chan struct{} // Submit waits for it, if set
	// streamErr, if set, fails Export and Backup after they wrote streamPrefix.
	streamErr    error
	streamPrefix string
}

func (f *failing) Submit(ctx context.Context, req ledger.Request) (*ledger.Entry, bool, error) {
	if f.entered != nil {
		close(f.entered)
		f.entered = nil
	}
	if f.release != nil {
		<-f.release
	}
	if f.submitErr != nil {
		return nil, false, f.submitErr
	}
	return f.Service.Submit(ctx, req)
}

func (f *failing) Export(ctx context.Context, afterSeq uint64, w io.Writer) error {
	if f.streamErr != nil {
		io.WriteString(w, f.streamPrefix)
		return f.streamErr
	}
	return f.Service.Export(ctx, afterSeq, w)
}

func (f *failing) Backup(w io.Writer) (int64, error) {
	if f.streamErr != nil {
		n, _ := io.WriteString(w, f.streamPrefix)
		return int64(n), f.streamErr
	}
	return f.Service.Backup(w)
}

func (f *failing) Healthy() error {
	if f.healthErr != nil {
		return f.healthErr
	}
	return f.Service.Healthy()
}

func ledgerHours(n int) time.Duration { return time.Duration(n) * time.Hour }
