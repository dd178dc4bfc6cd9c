package api_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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

// TestEscapedNumbersInPaths: %31 is the digit 1 (RFC 3986 §2.3: an escaped unreserved
// character is the character), so /v1/entries/%31 is entry 1 and /v1/holds/%31%30 hold 10,
// as /v1/holds/%31%30/settle already was and /v1/accounts/resident%3Ar01 an account.
// Decoded once: %2531 is the text "%31", not a number.
func TestEscapedNumbersInPaths(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	id := e.hold("resident", "station:s01", "HOURS", "1.00", 60)
	escape := func(n uint64) string {
		var b strings.Builder
		for _, d := range strconv.FormatUint(n, 10) {
			fmt.Fprintf(&b, "%%%X", d)
		}
		return b.String()
	}
	for _, c := range []struct{ plain, escaped string }{
		{"/v1/entries/1", "/v1/entries/" + escape(1)},
		{fmt.Sprintf("/v1/entries/%d", id), "/v1/entries/" + escape(id)},
		{fmt.Sprintf("/v1/holds/%d", id), "/v1/holds/" + escape(id)},
	} {
		want := e.must(e.do("GET", c.plain, "admin", ""), 200)
		if got := e.do("GET", c.escaped, "admin", ""); got.Status != 200 || !bytes.Equal(got.Body, want.Body) {
			t.Errorf("GET %s: %s, want the answer of %s", c.escaped, got, c.plain)
		}
	}
	for _, path := range []string{"/v1/entries/%2531", "/v1/holds/%2531"} {
		if r := e.do("GET", path, "admin", ""); r.code() != "invalid_field" {
			t.Errorf("GET %s: %s, want invalid_field (decoded once)", path, r)
		}
	}
}
