package audit_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The proofs of SPEC §4, checked with tlog against the roots this verifier computed:
// an inclusion proof for every entry, and consistency between two checkpoints.

func b64Hash(t *testing.T, s string) tlog.Hash {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != 32 {
		t.Fatalf("%q is not a standard base64 hash", s)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

func b64Hashes(t *testing.T, ss []string) []tlog.Hash {
	hs := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		hs[i] = b64Hash(t, s)
	}
	return hs
}

func checkProofs(t *testing.T, s *server, token string, l *ledger, old checkpoint) {
	size, root := l.ckpt.size, l.ckpt.root
	for _, e := range l.entries[:size] {
		var p struct {
			Seq      uint64   `json:"seq"`
			TreeSize int64    `json:"tree_size"`
			LeafHash string   `json:"leaf_hash"`
			Proof    []string `json:"proof"`
		}
		body := s.get(fmt.Sprintf("/v1/proofs/inclusion?seq=%d&tree_size=%d", e.seq, size), token)
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Seq != e.seq || p.TreeSize != size || b64Hash(t, p.LeafHash) != tlog.RecordHash(e.line) {
			t.Fatalf("inclusion proof of seq %d: %s", e.seq, body)
		}
		if err := tlog.CheckRecord(b64Hashes(t, p.Proof), size, root, int64(e.seq-1), tlog.RecordHash(e.line)); err != nil {
			t.Errorf("inclusion proof of seq %d at size %d: %v", e.seq, size, err)
		}
	}
	var c struct {
		OldSize int64    `json:"old_size"`
		NewSize int64    `json:"new_size"`
		Proof   []string `json:"proof"`
	}
	body := s.get(fmt.Sprintf("/v1/proofs/consistency?old_size=%d&new_size=%d", old.size, size), token)
	if err := json.Unmarshal(body, &c); err != nil || c.OldSize != old.size || c.NewSize != size {
		t.Fatalf("consistency proof: %v %s", err, body)
	}
	if err := tlog.CheckTree(b64Hashes(t, c.Proof), size, root, old.size, old.root); err != nil {
		t.Errorf("consistency proof %d → %d: %v", old.size, size, err)
	}
}
