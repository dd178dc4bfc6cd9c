package api_test

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// httpSeries returns the lines of /metrics of the API's request metrics: one a series.
func (e *env) httpSeries() []string {
	e.t.Helper()
	var out []string
	for _, l := range strings.Split(string(e.must(e.do("GET", "/metrics", "", ""), 200).Body), "\n") {
		if strings.HasPrefix(l, "timebank_http_") {
			out = append(out, l)
		}
	}
	return out
}

// TestMetricsLabelsBounded: methods and paths are the client's choice, so they must not
// become label values: 200 requests with made-up methods, to made-up and to real paths,
// without a token, add no series once each kind of label has been seen once.
func TestMetricsLabelsBounded(t *testing.T) {
	e := newEnv(t)
	e.quiet = true // deliberately undocumented requests
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('A' + rng.IntN(26))
		}
		return string(b)
	}
	// Each kind once: a made-up method on a real route and on no route, a real method on no
	// route, a real method in lower case; and the scrape itself.
	e.httpSeries()
	for _, r := range [][2]string{{"BREW", "/v1/policy"}, {"BREW", "/nowhere"}, {"GET", "/nowhere"}, {"get", "/v1/policy"}} {
		e.must(e.do(r[0], r[1], "", ""), 404)
	}
	before := e.httpSeries()
	for i := range 200 {
		method, path := word(20), "/"+word(12)
		switch i % 4 {
		case 1:
			path = "/v1/policy"
		case 2:
			path = "/v1/accounts/resident:r01/" + word(8)
		case 3:
			method = "GET"
		}
		e.must(e.do(method, path, "", ""), 404)
	}
	after := e.httpSeries()
	if len(after) != len(before) {
		t.Errorf("%d series of HTTP metrics before the made-up requests, %d after", len(before), len(after))
	}
	label := regexp.MustCompile(`(method|route)="([^"]*)"`)
	known := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"OPTIONS": true, "other": true}
	for _, r := range e.srv.Routes() {
		known[r.Path] = true
	}
	known["unmatched"] = true
	for _, l := range after {
		for _, m := range label.FindAllStringSubmatch(l, -1) {
			if !known[m[2]] {
				t.Fatalf("%s label %q in %s", m[1], m[2], l)
			}
		}
	}
	if !strings.Contains(strings.Join(after, "\n"), `timebank_http_requests_total{method="other",route="unmatched",status="404"} 101`) {
		t.Errorf("made-up requests not counted under method other, route unmatched:\n%s", strings.Join(after, "\n"))
	}
}
