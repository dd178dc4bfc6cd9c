package api_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/timebank/timebank/api"
)

// TestAfterTheLastSeq: after_seq=18446744073709551615 (2^64−1, the largest the API takes)
// has nothing after it. It used to wrap to 0: both paged routes answered the log's first
// page, and the export, already answering 200, logged the healthy ledger as corrupt.
func TestAfterTheLastSeq(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, envOptions{options: api.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}})
	e.must(e.credit("station", "resident:r01", "1", ledgerHours(1), ledgerHours(1)), 201)
	const last = "18446744073709551615"
	for _, path := range []string{"/v1/entries", "/v1/accounts/resident:r01/entries", "/v1/accounts/issuer:HOURS/entries"} {
		r := e.must(e.do("GET", path+"?after_seq="+last, "auditor", ""), 200)
		if string(bytes.TrimSpace(r.Body)) != `{"entries":[],"next_after_seq":null}` {
			t.Errorf("%s after_seq=%s: %s", path, last, r.Body)
		}
	}
	if r := e.must(e.do("GET", "/v1/export?after_seq="+last, "auditor", ""), 200); len(r.Body) != 0 {
		t.Errorf("export after_seq=%s: %q", last, r.Body)
	}
	if bytes.Contains(logs.Bytes(), []byte(`"level":"ERROR"`)) {
		t.Errorf("reads after the last seq logged an error:\n%s", logs.Bytes())
	}
}
