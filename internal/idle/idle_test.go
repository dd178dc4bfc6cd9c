package idle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestSameServer: a redirect within the server named is followed; one to another scheme,
// host or port (where Go's client would send the Authorization on) is refused.
func TestSameServer(t *testing.T) {
	first, _ := http.NewRequest(http.MethodGet, "https://ledger.example:8443/v1/export", nil)
	for to, ok := range map[string]bool{
		"https://ledger.example:8443/v1/export?after_seq=0": true,
		"https://LEDGER.example:8443/v2/export":             true,
		"http://ledger.example:8443/v1/export":              false,
		"https://ledger.example:9999/v1/export":             false,
		"https://ledger.example/v1/export":                  false,
		"https://evil.ledger.example:8443/v1/export":        false,
		"file:///etc/passwd":                                false,
	} {
		req, _ := http.NewRequest(http.MethodGet, to, nil)
		if err := SameServer(req, []*http.Request{first}); (err == nil) != ok {
			t.Errorf("redirect to %s: %v, want followed %v", to, err, ok)
		}
	}
}

func TestRedacted(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:8080":                  "http://127.0.0.1:8080",
		"https://ops:pw@ledger.example/base":     "https://ops:xxxxx@ledger.example/base",
		"https://ops@ledger.example":             "https://ops@ledger.example",
		"https://ops:p:w@ledger.example?next=@x": "https://ops:xxxxx@ledger.example?next=@x",
		"http://ops:pw@127.0.0.1:80a":            "http://ops:xxxxx@127.0.0.1:80a",
		"ops:pw@127.0.0.1:8080":                  "ops:xxxxx@127.0.0.1:8080",
		"http://host/path@x:y":                   "http://host/path@x:y",
		// Found by mutation testing: an empty scheme, a fragment, an @ in the password.
		"://ops:pw@127.0.0.1:8080": "://ops:xxxxx@127.0.0.1:8080",
		"http://host#a:b@c":        "http://host#a:b@c",
		"https://ops:p@w@host":     "https://ops:xxxxx@host",
	} {
		if got := Redacted(raw); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestRetryWait: a 429's Retry-After in whole seconds, at least MinRetryWait and at most a
// day; a second when it says none or what cannot be used (found by mutation testing: no test
// read RetryWait's bounds).
func TestRetryWait(t *testing.T) {
	for header, want := range map[string]time.Duration{
		"":                    time.Second,
		"soon":                time.Second,
		"-5":                  time.Second,
		"0":                   MinRetryWait,
		"3":                   3 * time.Second,
		"86400":               24 * time.Hour,
		"999999999999":        24 * time.Hour,
		"9223372036854775807": 24 * time.Hour,
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Retry-After", header)
		}
		if got := RetryWait(h); got != want {
			t.Errorf("Retry-After %q: RetryWait %v, want %v", header, got, want)
		}
	}
}

// rateLimited answers 429 with Retry-After retryAfter and a body naming its count to the
// first refusals requests, then 200 "ok"; it counts the requests it had.
func rateLimited(t *testing.T, refusals int, retryAfter string) (string, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := n.Add(1); int(k) <= refusals {
			w.Header().Set("Retry-After", retryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, "refusal %d", k)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// cancelAt429 is a transport that cancels a context once it has a 429 answer, whole.
type cancelAt429 struct{ cancel context.CancelFunc }

func (c cancelAt429) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && res.StatusCode == http.StatusTooManyRequests {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(b))
		c.cancel()
	}
	return res, err
}

// TestDoRetry: DoRetry asks again after each 429 whose wait fits within its limit, and
// returns the first other answer; a 429 whose wait does not fit, or one that came as the
// request's context ended, is returned at once, its body readable (found by mutation
// testing: none of this had a test of its own).
func TestDoRetry(t *testing.T) {
	read := func(t *testing.T, res *http.Response, err error, status int, body string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if res.StatusCode != status || string(b) != body || err != nil {
			t.Fatalf("got %d %q (%v), want %d %q", res.StatusCode, b, err, status, body)
		}
	}
	t.Run("waits", func(t *testing.T) {
		url, n := rateLimited(t, 2, "0")
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		res, err := DoRetry(http.DefaultClient, req, time.Minute, time.Minute)
		read(t, res, err, http.StatusOK, "ok")
		if n.Load() != 3 {
			t.Errorf("%d requests, want 3", n.Load())
		}
	})
	t.Run("wait past the limit", func(t *testing.T) {
		url, n := rateLimited(t, 1, "3600")
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		var res *http.Response
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			res, err = DoRetry(http.DefaultClient, req, time.Minute, time.Minute)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second): // a hang guard
			t.Fatal("DoRetry waits out a Retry-After of an hour, past its limit of a minute")
		}
		read(t, res, err, http.StatusTooManyRequests, "refusal 1")
		if n.Load() != 1 {
			t.Errorf("%d requests, want 1", n.Load())
		}
	})
	t.Run("context ended while waiting", func(t *testing.T) {
		url, n := rateLimited(t, 1, "3600")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := DoRetry(&http.Client{Transport: cancelAt429{cancel}}, req, time.Minute, 2*time.Hour)
		read(t, res, err, http.StatusTooManyRequests, "refusal 1")
		if n.Load() != 1 {
			t.Errorf("%d requests, want 1", n.Load())
		}
	})
}
