package api_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

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

// signedTree fetches the checkpoint and key as an auditor does and returns the tree size
// and root the note signs; the origin line must be the ledger's name.
func (e *env) signedTree() (int64, tlog.Hash) {
	e.t.Helper()
	vkey := strings.TrimSpace(string(e.must(e.do("GET", "/v1/checkpoint/key", "outlet", ""), 200).Body))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := note.Open(e.must(e.do("GET", "/v1/checkpoint", "outlet", ""), 200).Body, note.VerifierList(v))
	if err != nil {
		e.t.Fatalf("checkpoint: %v", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	size, err := strconv.ParseInt(lines[1], 10, 64)
	root, err2 := tlog.ParseHash(lines[2])
	if len(lines) != 4 || lines[0] != "timebank" || lines[3] != "" || err != nil || err2 != nil || v.Name() != "timebank" {
		e.t.Fatalf("checkpoint text %q (key %s)", n.Text, vkey)
	}
	return size, root
}

// hashes decodes standard-base64 hashes.
func hashes(t *testing.T, b64 []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(b64))
	for i, s := range b64 {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != len(out[i]) {
			t.Fatalf("hash %q is not standard base64 of 32 bytes", s)
		}
		copy(out[i][:], b)
	}
	return out
}

// TestProofsAgainstSignedCheckpoints checks the proofs as an auditor holding two signed
// checkpoints does: the consistency proof from every older size, the older checkpoint's
// included, passes tlog.CheckTree against the newer root, and each entry's inclusion proof
// at the older size passes tlog.CheckRecord against the older root. The tree grows past a
// power of two (16), where a proof of the wrong sizes or order stops checking.
func TestProofsAgainstSignedCheckpoints(t *testing.T) {
	e := newEnv(t)
	oldSize, oldRoot := e.signedTree()
	e.links(11)
	newSize, newRoot := e.signedTree()
	if oldSize >= 16 || newSize <= 16 {
		t.Fatalf("sizes %d and %d do not straddle 16", oldSize, newSize)
	}
	type proofJSON struct {
		Seq      int64  `json:"seq"`
		TreeSize int64  `json:"tree_size"`
		OldSize  int64  `json:"old_size"`
		NewSize  int64  `json:"new_size"`
		LeafHash string `json:"leaf_hash"`
		Proof    []string
	}
	for o := int64(1); o <= newSize; o++ {
		var p proofJSON
		e.must(e.do("GET", fmt.Sprintf("/v1/proofs/consistency?old_size=%d&new_size=%d", o, newSize), "resident", ""), 200).decode(&p)
		root := oldRoot
		if o != oldSize {
			var err error
			if root, err = e.led.TreeHash(uint64(o)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tlog.CheckTree(hashes(t, p.Proof), newSize, newRoot, o, root); err != nil || p.OldSize != o || p.NewSize != newSize {
			t.Errorf("consistency %d→%d: %+v does not check: %v", o, newSize, p, err)
		}
	}
	for seq := int64(1); seq <= oldSize; seq++ {
		var p proofJSON
		e.must(e.do("GET", fmt.Sprintf("/v1/proofs/inclusion?seq=%d&tree_size=%d", seq, oldSize), "auditor", ""), 200).decode(&p)
		leaf := hashes(t, []string{p.LeafHash})[0]
		if err := tlog.CheckRecord(hashes(t, p.Proof), oldSize, oldRoot, seq-1, leaf); err != nil || p.Seq != seq || p.TreeSize != oldSize {
			t.Errorf("inclusion of %d in %d: %+v does not check: %v", seq, oldSize, p, err)
		}
	}
}

// TestProofSizesBeyondTheLedger: a size past the ledger is 400 invalid_field naming the
// parameter the client sent too large. old_size alone past the ledger was blamed on
// new_size, which the client had not sent.
func TestProofSizesBeyondTheLedger(t *testing.T) {
	e := newEnv(t)
	size := e.led.TreeSize()
	for _, c := range []struct{ query, field string }{
		{fmt.Sprintf("/v1/proofs/consistency?old_size=%d", size+1), "old_size"},
		{fmt.Sprintf("/v1/proofs/consistency?old_size=1&new_size=%d", size+1), "new_size"},
		{fmt.Sprintf("/v1/proofs/consistency?old_size=%d&new_size=%d", size+1, size+1), "new_size"},
		{fmt.Sprintf("/v1/proofs/inclusion?seq=1&tree_size=%d", size+1), "tree_size"},
	} {
		var body struct {
			Error struct {
				Code    string
				Message string
				Details map[string]any
			}
		}
		r := e.do("GET", c.query, "auditor", "")
		r.decode(&body)
		if r.Status != 400 || body.Error.Code != "invalid_field" || body.Error.Details["field"] != c.field ||
			!strings.Contains(body.Error.Message, c.field) || !strings.Contains(body.Error.Message, strconv.FormatUint(size, 10)) {
			t.Errorf("%s: %s, want 400 invalid_field naming %s and the ledger's %d entries", c.query, r, c.field, size)
		}
	}
}

// TestProofSeqZeroNamesSeq: an inclusion proof for seq 0 is 400 invalid_field naming seq,
// the parameter that is wrong, not tree_size, which the client may not have sent; a seq past
// tree_size names tree_size.
func TestProofSeqZeroNamesSeq(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ query, field string }{
		{"/v1/proofs/inclusion?seq=0", "seq"},
		{"/v1/proofs/inclusion?seq=0&tree_size=1", "seq"},
		{"/v1/proofs/inclusion?seq=2&tree_size=1", "tree_size"},
	} {
		r := e.do("GET", c.query, "auditor", "")
		message, field := r.errorOf()
		if r.Status != 400 || r.code() != "invalid_field" || field != c.field || !strings.HasPrefix(message, c.field) {
			t.Errorf("%s: %s, want 400 invalid_field naming %s", c.query, r, c.field)
		}
	}
}
