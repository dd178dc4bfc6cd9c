package store

import (
	"slices"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
)

// A reversal committed in the same batch as the credit it reverses names the credit's
// station, which no posting of the reversal does: the store finds the credit through the
// batch's own transaction, and so lists the same parties as a replay does.
func TestReversalInTheSameBatchListsTheReversedParties(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	next := l.TreeSize() + 1
	res := oneBatch(l,
		req(s1, credit("resident:bob", "2", -9*time.Hour, -7*time.Hour)),
		req(admin, &ledger.ReversalBody{Seq: next, Reason: "same batch"}))
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
	}
	lines, err := l.AccountEntries("station:s1", next-1, 10)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, line := range lines {
		seqs = append(seqs, line.Entry.Seq)
	}
	if !slices.Equal(seqs, []uint64{next, next + 1}) {
		t.Fatalf("the station's statement lists %v, want the credit and its reversal %v", seqs, []uint64{next, next + 1})
	}
	compareWithReplay(t, l)
}
