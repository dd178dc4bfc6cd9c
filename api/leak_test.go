package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNoGoroutinesLeftAfterClose: once the HTTP server and the store are closed, after
// writes, reads, token changes and streams (export, backup) ran side by side, every
// goroutine they started has ended (the sequencer, handlers, streams, the store's
// compressor). The count is polled: goroutines that are ending may take a moment.
func TestNoGoroutinesLeftAfterClose(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t)
	ts := httptest.NewServer(e.srv.Handler())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				var req *http.Request
				switch g % 4 {
				case 0:
					req, _ = http.NewRequest("POST", ts.URL+"/v1/accounts", strings.NewReader(fmt.Sprintf(`{"id":"resident:g%d-%d"}`, g, i)))
					req.Header.Set("Idempotency-Key", fmt.Sprintf("k%d-%d", g, i))
				case 1:
					req, _ = http.NewRequest("POST", ts.URL+"/v1/tokens", strings.NewReader(`{"role":"auditor"}`))
				case 2:
					req, _ = http.NewRequest("GET", ts.URL+"/v1/export", nil)
				case 3:
					req, _ = http.NewRequest("GET", ts.URL+"/v1/backup", nil)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+adminSecret)
				res, err := ts.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 300 {
					t.Errorf("%s %s: %d", req.Method, req.URL.Path, res.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	ts.Close()
	if err := e.led.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after the server and the store closed:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
