package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCancelledWriteIsUnavailable: a write whose client left before the ledger took it is
// not the server's fault: it answers 503 unavailable (retry with the same key), not 500
// internal, and writes nothing; the retry writes it once.
func TestCancelledWriteIsUnavailable(t *testing.T) {
	e := newEnv(t)
	size := e.led.TreeSize()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/accounts", strings.NewReader(`{"id":"resident:late"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.tok["admin"])
	req.Header.Set("Idempotency-Key", "late-1")
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	var body struct{ Error struct{ Code string } }
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 503 || body.Error.Code != "unavailable" {
		t.Fatalf("a cancelled write: %d %s, want 503 unavailable", rec.Code, rec.Body)
	}
	if e.led.TreeSize() != size {
		t.Fatalf("a cancelled write was written: tree size %d, want %d", e.led.TreeSize(), size)
	}
	e.must(e.do("POST", "/v1/accounts", "admin", `{"id":"resident:late"}`, "Idempotency-Key", "late-1"), 201)
}
