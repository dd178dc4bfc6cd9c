package api_test

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/timebank/timebank/api"
)

// TestQueryThatDoesNotParse: a read whose query names a parameter but cannot be read (a bad
// %-escape, a ';', which Go no longer takes as a separator) or names it twice answers 400
// invalid_field. url.Values dropped such a pair, or kept the first of two, so the read
// answered as if the client had asked for something else: after_seq=3;limit=1 was the log's
// first page of 100, and /v1/export?after_seq=4% the whole log.
func TestQueryThatDoesNotParse(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "1", ledgerHours(1), ledgerHours(1)), 201)
	for _, target := range []string{
		"/v1/entries?after_seq=%zz&limit=1",
		"/v1/entries?after_seq=3;limit=1",
		"/v1/entries?limit=1&after_seq=3%",
		"/v1/entries?after_seq=3&after_seq=1",
		"/v1/entries?limit=1&limit=500",
		"/v1/accounts/resident:r01/entries?after_seq=1;limit=1",
		"/v1/accounts/resident:r01/entries?limit=2&limit=1",
		"/v1/export?after_seq=4%",
		"/v1/export?after_seq=4&after_seq=0",
		"/v1/proofs/inclusion?seq=2&tree_size=3;",
		"/v1/proofs/inclusion?seq=2&seq=3",
		"/v1/proofs/consistency?old_size=2&new_size=%G3",
		"/v1/proofs/consistency?old_size=2&old_size=3",
	} {
		r := e.do("GET", target, "auditor", "")
		if r.Status != http.StatusBadRequest || r.code() != "invalid_field" {
			t.Errorf("GET %s: got %.200s, want 400 invalid_field", target, r)
		}
	}
	// What parses is read as before: an escaped digit is the digit, an unknown parameter is
	// left alone.
	e.must(e.do("GET", "/v1/entries?after_seq=%33&limit=1&x=1", "auditor", ""), 200)
}

// TestHeadAnswersAsGet: every GET route answers HEAD with GET's status and Content-Type and
// no body (RFC 9110 §9.3.2: a server must support GET and HEAD). HEAD /healthz, a monitor's
// usual probe, answered 404 not_found "no such resource for this method" with Allow: GET.
func TestHeadAnswersAsGet(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	id := e.hold("resident", "station:s01", "HOURS", "1.00", 60)
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	send := func(method, target, who string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+target, nil)
		if who != "" {
			req.Header.Set("Authorization", "Bearer "+e.tok[who])
		}
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		return res, body
	}
	targets := map[string]string{
		"/v1/policy":               "/v1/policy",
		"/v1/tokens":               "/v1/tokens",
		"/v1/accounts/:id":         "/v1/accounts/resident:r01",
		"/v1/accounts/:id/entries": "/v1/accounts/resident:r01/entries",
		"/v1/entries":              "/v1/entries?limit=2",
		"/v1/entries/:seq":         "/v1/entries/1",
		"/v1/holds/:id":            "/v1/holds/" + strconv.FormatUint(id, 10),
		"/v1/checkpoint":           "/v1/checkpoint",
		"/v1/checkpoint/key":       "/v1/checkpoint/key",
		"/v1/proofs/inclusion":     "/v1/proofs/inclusion?seq=1",
		"/v1/proofs/consistency":   "/v1/proofs/consistency?old_size=1",
		"/v1/export":               "/v1/export",
		"/v1/backup":               "/v1/backup",
		"/healthz":                 "/healthz",
		"/metrics":                 "/metrics",
		"/openapi.yaml":            "/openapi.yaml",
	}
	for _, r := range e.srv.Routes() {
		if r.Method != http.MethodGet {
			continue
		}
		target, ok := targets[r.Path]
		if !ok {
			t.Errorf("no target for GET %s", r.Path)
			continue
		}
		who := ""
		if len(r.Roles) > 0 {
			who = "admin"
		}
		get, _ := send(http.MethodGet, target, who)
		head, body := send(http.MethodHead, target, who)
		if head.StatusCode != get.StatusCode || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || len(body) != 0 {
			t.Errorf("HEAD %s: %d %q with %d bytes; GET: %d %q", target, head.StatusCode, head.Header.Get("Content-Type"),
				len(body), get.StatusCode, get.Header.Get("Content-Type"))
		}
	}
	// HEAD is authenticated as GET is; a route with no GET still has no HEAD.
	if head, _ := send(http.MethodHead, "/v1/policy", ""); head.StatusCode != http.StatusUnauthorized {
		t.Errorf("HEAD /v1/policy without a token: %d, want 401", head.StatusCode)
	}
	if head, _ := send(http.MethodHead, "/v1/credits", "admin"); head.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD /v1/credits: %d, want 404", head.StatusCode)
	}
}

// TestContentEncoding: a body that says it is compressed (Content-Encoding other than
// identity) is 415 unsupported_media_type (RFC 9110 §8.4.1): the server reads bodies as
// they come. It was read as plain JSON whatever it said it was: a gzip body answered
// "not valid UTF-8", and one that merely claimed gzip was taken as written.
func TestContentEncoding(t *testing.T) {
	e := newEnv(t)
	before := e.led.TreeSize()
	for _, ce := range []string{"gzip", "br", "deflate", "identity, gzip", "x-unknown"} {
		for _, path := range []string{"/v1/accounts", "/v1/tokens"} {
			body := `{"id":"resident:enc1"}`
			if path == "/v1/tokens" {
				body = `{"role":"auditor"}`
			}
			r := e.do("POST", path, "admin", body, "Content-Encoding", ce, "Idempotency-Key", "enc-"+ce)
			if r.Status != http.StatusUnsupportedMediaType || r.code() != "unsupported_media_type" {
				t.Errorf("%s with Content-Encoding %q: got %.200s, want 415", path, ce, r)
			}
		}
	}
	if got := e.led.TreeSize(); got != before {
		t.Errorf("refused writes appended %d entries", got-before)
	}
	for i, ce := range []string{"identity", "Identity", ""} {
		e.must(e.do("POST", "/v1/accounts", "admin", `{"id":"resident:enc`+strconv.Itoa(i+2)+`"}`,
			"Content-Encoding", ce, "Idempotency-Key", "id-"+strconv.Itoa(i)), 201)
	}
}

// TestRateLimitedAnswersAreDocumented: the rate limiter answers 429 rate_limited on every
// route but /healthz and /metrics, and openapi.yaml must allow that answer wherever it can
// come (checked by e.do against the document). /openapi.yaml described a 200 only.
func TestRateLimitedAnswersAreDocumented(t *testing.T) {
	e := newEnv(t, envOptions{options: api.Options{RateLimit: 0.001, RateBurst: 1}, noSeed: true})
	e.must(e.do("GET", "/v1/policy", "admin", ""), http.StatusOK) // the burst
	for _, r := range e.srv.Routes() {
		if r.Path == "/healthz" || r.Path == "/metrics" {
			continue
		}
		path := strings.NewReplacer(":id", "1", ":seq", "1").Replace(r.Path)
		if strings.HasPrefix(r.Path, "/v1/accounts/:id") {
			path = strings.Replace(r.Path, ":id", "resident:r01", 1)
		}
		if got := e.do(r.Method, path, "admin", ""); got.Status != http.StatusTooManyRequests {
			t.Errorf("%s %s: %s, want 429", r.Method, path, got)
		}
	}
}

// TestMetricsFormatsAreDocumented: /metrics answers in the format the scraper's Accept
// header asks for (Prometheus' text, or its delimited protobuf, which a Prometheus with
// native histograms asks for first); openapi.yaml must allow each (e.do checks).
func TestMetricsFormatsAreDocumented(t *testing.T) {
	e := newEnv(t, envOptions{noSeed: true})
	for _, accept := range []string{"", "text/plain",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
		"application/openmetrics-text; version=1.0.0"} {
		e.must(e.do("GET", "/metrics", "", "", "Accept", accept), http.StatusOK)
	}
}

// TestRetryAfterAtTheSmallestRates: a 429's Retry-After is 1/RateLimit seconds, rounded up,
// and never more than 1/api.MinRateLimit, the smallest rate served (serve refuses a smaller
// --rate-limit). A tiny rate used to promise a wait of 10^300 seconds, a number no client
// parses, or "+Inf", which is no delay at all, for a limiter that forgets an address after
// three minutes of silence anyway.
func TestRetryAfterAtTheSmallestRates(t *testing.T) {
	for rate, want := range map[float64]string{
		2:                           "1",
		0.3:                         "4",
		0.01:                        "100",
		0.0099:                      "100",
		1e-300:                      "100",
		math.SmallestNonzeroFloat64: "100",
	} {
		e := newEnv(t, envOptions{options: api.Options{RateLimit: rate, RateBurst: 1}, noSeed: true})
		e.must(e.do("GET", "/v1/policy", "admin", ""), http.StatusOK) // the burst
		got := e.do("GET", "/v1/policy", "admin", "")
		if got.Status != http.StatusTooManyRequests || got.Header.Get("Retry-After") != want {
			t.Errorf("rate %g: %d, Retry-After %q; want 429, %s", rate, got.Status, got.Header.Get("Retry-After"), want)
		}
	}
}
