package api_test

import (
	"net/http"
	"testing"
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
