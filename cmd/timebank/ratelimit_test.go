package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestVerifyURLWaitsOutRateLimit: timebank verify --url against a server run with
// --rate-limit whose burst is spent (by the run before, say) waits out each 429's
// Retry-After and verifies, as docs/OPERATIONS.md says: its first request, which checked
// the token before the verification began, used to give up at once (exit 3).
func TestVerifyURLWaitsOutRateLimit(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	var mu sync.Mutex
	refused := map[string]bool{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !refused[r.URL.String()]
		refused[r.URL.String()] = true
		mu.Unlock()
		if first { // every request is refused once, as a rate limiter past its burst does
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"rate_limited","message":"Too many requests.","details":{}}}`))
			return
		}
		req, _ := http.NewRequest(r.Method, srv.url+r.URL.String(), nil)
		req.Header = r.Header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	defer proxy.Close()
	if status, stdout, stderr := runCLI(t, "verify", "--url", proxy.URL, "--token", srv.admin); status != 0 {
		t.Fatalf("verify --url of a rate-limited server: status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
}
