package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// rateLimited is a proxy to target that refuses every request once with 429 and
// Retry-After: retryAfter, as a rate limiter past its burst does, and passes it on when it
// comes again.
func rateLimited(t *testing.T, target, retryAfter string) string {
	t.Helper()
	var mu sync.Mutex
	refused := map[string]bool{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !refused[r.Method+" "+r.URL.String()]
		refused[r.Method+" "+r.URL.String()] = true
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", retryAfter)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"rate_limited","message":"Too many requests.","details":{}}}`))
			return
		}
		req, _ := http.NewRequest(r.Method, target+r.URL.String(), r.Body)
		req.Header = r.Header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	t.Cleanup(proxy.Close)
	return proxy.URL
}

// TestVerifyURLWaitsOutRateLimit: timebank verify --url against a server run with
// --rate-limit whose burst is spent (by the run before, say) waits out each 429's
// Retry-After and verifies, as docs/OPERATIONS.md says: its first request, which checked
// the token before the verification began, used to give up at once (exit 3).
func TestVerifyURLWaitsOutRateLimit(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	proxy := rateLimited(t, srv.url, "0")
	if status, stdout, stderr := runCLI(t, "verify", "--url", proxy, "--token", srv.admin); status != 0 {
		t.Fatalf("verify --url of a rate-limited server: status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
}

// TestStreamsWaitOutRateLimit: backup and export --url wait out a 429's Retry-After as
// verify --url does, and get the whole answer; they used to fail at once. A Retry-After
// past their header wait (a minute) fails at once, naming the rate limit, and leaves no
// output file.
func TestStreamsWaitOutRateLimit(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	for _, cmd := range []string{"backup", "export"} {
		want := fetch(t, srv.url, srv.admin, "/v1/"+cmd)
		out := filepath.Join(t.TempDir(), "out")
		status, _, stderr := runCLI(t, cmd, "--url", rateLimited(t, srv.url, "0"), "--token", srv.admin, "--out", out)
		if got, _ := os.ReadFile(out); status != 0 || !bytes.Equal(got, want) {
			t.Errorf("%s of a rate-limited server: status %d, %d bytes written, want %d\nstderr: %s", cmd, status, len(got), len(want), stderr)
		}
		out = filepath.Join(t.TempDir(), "out")
		status, _, stderr = runCLIGuarded(t, cmd+" told to come back in an hour", cmd, "--url", rateLimited(t, srv.url, "3600"), "--token", srv.admin, "--out", out)
		if _, err := os.Stat(out); status != exitFailed || !strings.Contains(stderr, "429 rate_limited") || err == nil {
			t.Errorf("%s told to come back in an hour: status %d, %s left: %v\nstderr: %s", cmd, status, out, err == nil, stderr)
		}
	}
}

// TestTokenCommandsWaitOutRateLimit: token create, list and revoke against a server run
// with --rate-limit whose burst is spent wait out each 429's Retry-After, as verify, export
// and backup do; they gave up at once (exit 1). A wait past a minute still fails at once,
// and the refused create made no token.
func TestTokenCommandsWaitOutRateLimit(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	status, stdout, stderr := runCLI(t, "token", "create", "--url", rateLimited(t, srv.url, "0"), "--token", srv.admin,
		"--role", "auditor", "--label", "rate-limited")
	if status != 0 || !strings.Contains(stdout, `"token": "tb_`) {
		t.Fatalf("token create through a rate limit: status %d\n%s%s", status, stdout, stderr)
	}
	var made struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &made); err != nil || made.ID == "" {
		t.Fatalf("token create printed %q: %v", stdout, err)
	}
	status, stdout, stderr = runCLI(t, "token", "list", "--url", rateLimited(t, srv.url, "0"), "--token", srv.admin)
	if status != 0 || !strings.Contains(stdout, made.ID) {
		t.Fatalf("token list through a rate limit: status %d\n%s%s", status, stdout, stderr)
	}
	status, stdout, stderr = runCLI(t, "token", "revoke", "--url", rateLimited(t, srv.url, "0"), "--token", srv.admin, made.ID)
	if status != 0 || !strings.Contains(stdout, "revoked "+made.ID) {
		t.Fatalf("token revoke through a rate limit: status %d\n%s%s", status, stdout, stderr)
	}
	before := fetch(t, srv.url, srv.admin, "/v1/tokens")
	status, _, stderr = runCLIGuarded(t, "token create told to come back in an hour",
		"token", "create", "--url", rateLimited(t, srv.url, "3600"), "--token", srv.admin, "--role", "auditor")
	if status != exitFailed || !strings.Contains(stderr, "rate_limited") {
		t.Fatalf("token create told to come back in an hour: status %d\n%s", status, stderr)
	}
	if after := fetch(t, srv.url, srv.admin, "/v1/tokens"); !bytes.Equal(before, after) {
		t.Fatalf("a refused token create changed the token list:\n%s\n%s", before, after)
	}
}
