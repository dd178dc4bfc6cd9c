package store

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// memHashes builds the Merkle tree of raw entries in memory, independently of the store.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m[x]
	}
	return out, nil
}

func buildTree(t testing.TB, raw [][]byte) memHashes {
	var m memHashes
	for i, b := range raw {
		hs, err := tlog.StoredHashes(int64(i), b, m)
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
	}
	return m
}

// allEntries returns copies of the canonical bytes of every entry.
func allEntries(t tb, l *Ledger) [][]byte {
	var raw [][]byte
	err := l.ForEachEntry(0, func(seq uint64, b []byte) error {
		if seq != uint64(len(raw))+1 {
			t.Fatalf("entry %d follows %d", seq, len(raw))
		}
		raw = append(raw, bytes.Clone(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestCheckpointVerifies(t *testing.T) {
	l, _ := openTest(t, Options{Name: "timebank.example/test"})
	standard(t, l)
	msg, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open: %v\n%s", err, msg)
	}
	raw := allEntries(t, l)
	root, err := tlog.TreeHash(int64(len(raw)), buildTree(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := "timebank.example/test\n" + strconv.Itoa(len(raw)) + "\n" + root.String() + "\n"; n.Text != want {
		t.Fatalf("checkpoint text %q, want %q", n.Text, want)
	}

	again, _ := l.Checkpoint()
	if !bytes.Equal(again, msg) {
		t.Fatal("two checkpoints of the same tree differ")
	}
	must(t, l, admin, &ledger.OpenBody{ID: "resident:carol"})
	later, _ := l.Checkpoint()
	if n2, err := note.Open(later, note.VerifierList(v)); err != nil || !strings.Contains(n2.Text, "\n"+strconv.Itoa(len(raw)+1)+"\n") {
		t.Fatalf("checkpoint after one more entry: %v %q", err, later)
	}
	tampered := bytes.Replace(msg, []byte("\n"+strconv.Itoa(len(raw))+"\n"), []byte("\n"+strconv.Itoa(len(raw)+1)+"\n"), 1)
	if _, err := note.Open(tampered, note.VerifierList(v)); err == nil {
		t.Fatal("a checkpoint with a changed size verifies")
	}
}

func TestProofs(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	for i := 0; i < 30; i++ {
		must(t, l, alice, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "0.01"})
	}
	raw := allEntries(t, l)
	size := uint64(len(raw))
	tree := buildTree(t, raw)
	th := func(n uint64) tlog.Hash {
		h, err := tlog.TreeHash(int64(n), tree)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if _, root := l.Root(); root != th(size) {
		t.Fatal("the store's root is not the root of its entries")
	}
	for seq := uint64(1); seq <= size; seq++ {
		for _, ts := range []uint64{seq, (seq + size) / 2, size} {
			leaf, proof, err := l.InclusionProof(seq, ts)
			if err != nil {
				t.Fatalf("inclusion %d in %d: %v", seq, ts, err)
			}
			if leaf != tlog.RecordHash(raw[seq-1]) {
				t.Fatalf("leaf of %d is not the hash of its bytes", seq)
			}
			if err := tlog.CheckRecord(proof, int64(ts), th(ts), int64(seq-1), leaf); err != nil {
				t.Fatalf("inclusion %d in %d does not check: %v", seq, ts, err)
			}
			if seq > 1 && tlog.CheckRecord(proof, int64(ts), th(ts), int64(seq-2), tlog.RecordHash(raw[seq-2])) == nil {
				t.Fatalf("the proof of %d also proves %d", seq, seq-1)
			}
		}
	}
	for old := uint64(1); old <= size; old++ {
		for _, nw := range []uint64{old, (old + size) / 2, size} {
			p, err := l.ConsistencyProof(old, nw)
			if err != nil {
				t.Fatalf("consistency %d→%d: %v", old, nw, err)
			}
			if err := tlog.CheckTree(p, int64(nw), th(nw), int64(old), th(old)); err != nil {
				t.Fatalf("consistency %d→%d does not check: %v", old, nw, err)
			}
		}
	}
	bad := []struct {
		seq, ts uint64
		code    ledger.Code
	}{{0, 5, ledger.CodeInvalidField}, {size + 1, size + 1, ledger.CodeNotFound}, {3, 2, ledger.CodeInvalidField}, {3, size + 1, ledger.CodeInvalidField}}
	for _, c := range bad {
		_, _, err := l.InclusionProof(c.seq, c.ts)
		wantCode(t, err, c.code)
	}
	for _, c := range [][2]uint64{{0, 5}, {5, 4}, {1, size + 1}} {
		_, err := l.ConsistencyProof(c[0], c[1])
		wantCode(t, err, ledger.CodeInvalidField)
	}
}

// TestEntryTimes: entry times strictly increase, follow the clock when it moves, and never
// go back when it does.
func TestEntryTimes(t *testing.T) {
	now := t0
	l, _ := openTest(t, Options{Now: func() time.Time { return now }})
	e1 := must(t, l, admin, &ledger.OpenBody{ID: "resident:a"})
	e2 := must(t, l, admin, &ledger.OpenBody{ID: "resident:b"})
	if e2.TimeMicros != e1.TimeMicros+1 {
		t.Fatalf("same clock: times %d then %d", e1.TimeMicros, e2.TimeMicros)
	}
	now = t0.Add(time.Hour) // written before Submit: the sequencer reads it after the send
	e3 := must(t, l, admin, &ledger.OpenBody{ID: "resident:c"})
	if e3.TimeMicros != now.UnixMicro() {
		t.Fatalf("time %d, want the clock's %d", e3.TimeMicros, now.UnixMicro())
	}
	now = t0.Add(time.Hour - time.Minute) // back by less than MaxClockSkew (TestClockGuard: more)
	e4 := must(t, l, admin, &ledger.OpenBody{ID: "resident:d"})
	if e4.TimeMicros != e3.TimeMicros+1 {
		t.Fatalf("clock went back: time %d after %d", e4.TimeMicros, e3.TimeMicros)
	}
}
