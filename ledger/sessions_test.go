package ledger

import (
	"math/rand"
	"slices"
	"testing"
)

// TestSessionsInAnyOrderCostLittle: a credit may start anywhere in the backdate window (up
// to ten years back, by policy), so a volunteer's sessions reach the state in any order, and
// reversals take them out anywhere. The replay keeps them in memory; keeping them in one
// sorted slice moved every later session at each insert and scanned them all at each delete,
// so a log of a million tiny credits given newest first (which the server, on bbolt's B+tree,
// writes at its usual pace) took hours to verify. The work per insert or delete must not grow
// with the sessions held: this counts the sessions each moves or scans.
func TestSessionsInAnyOrderCostLittle(t *testing.T) {
	const n = 40_000
	const v = AccountID("resident:alice")
	m := NewMemState(nil)
	for i := range n { // newest first: each before all the others
		start := int64(n-i) * 100
		if err := m.AddSession(v, Session{Start: start, End: start + 50, Seq: uint64(i + 1), Hours: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 2 { // every other, oldest first
		start := int64(i+1) * 100
		if err := m.DeleteSession(v, Session{Start: start, End: start + 50, Seq: uint64(n - i), Hours: 1}); err != nil {
			t.Fatal(err)
		}
	}
	got := m.Sessions()[v]
	if len(got) != n/2 || got[0].Start != 200 || got[len(got)-1].Start != n*100 {
		t.Fatalf("%d sessions left, from %d to %d; want %d, from 200 to %d", len(got), got[0].Start, got[len(got)-1].Start, n/2, n*100)
	}
	// A bound a sorted slice exceeds a hundredfold at this n (n²/4 moves), and a structure
	// whose cost per change is bounded meets whatever its constant.
	if moved, limit := m.sessionsMoved(), 2*n*sessionChunkMax; moved > limit {
		t.Fatalf("%d inserts and %d deletes moved or scanned %d sessions, more than %d", n, n/2, moved, limit)
	}
}

// TestSessionsMatchASortedList: the state's sessions answer every query as a plain sorted
// list does, through random inserts and deletes (enough to split chunks many times).
func TestSessionsMatchASortedList(t *testing.T) {
	const v = AccountID("resident:alice")
	rng := rand.New(rand.NewSource(1))
	m := NewMemState(nil)
	var want []Session // sorted by (Start, Seq)
	cmp := func(a, b Session) int {
		if a.Start != b.Start {
			return int(a.Start - b.Start)
		}
		return int(a.Seq) - int(b.Seq)
	}
	for seq := uint64(1); seq <= 30_000; seq++ {
		if len(want) > 0 && rng.Intn(3) == 0 {
			s := want[rng.Intn(len(want))]
			if err := m.DeleteSession(v, s); err != nil {
				t.Fatal(err)
			}
			i, _ := slices.BinarySearchFunc(want, s, cmp)
			want = slices.Delete(want, i, i+1)
		} else {
			start := rng.Int63n(1 << 20)
			s := Session{Start: start, End: start + 1 + rng.Int63n(100), Seq: seq, Hours: rng.Int63n(1000)}
			if err := m.AddSession(v, s); err != nil {
				t.Fatal(err)
			}
			i, _ := slices.BinarySearchFunc(want, s, cmp)
			want = slices.Insert(want, i, s)
		}
		if seq%97 != 0 {
			continue
		}
		from := rng.Int63n(1 << 20)
		to := from + rng.Int63n(1<<15)
		got, _ := m.SessionsIn(v, from, to)
		i, _ := slices.BinarySearchFunc(want, Session{Start: from}, cmp)
		j, _ := slices.BinarySearchFunc(want, Session{Start: to}, cmp)
		if !slices.Equal(got, want[i:j]) {
			t.Fatalf("after %d changes, SessionsIn(%d, %d) = %d sessions, want %d", seq, from, to, len(got), j-i)
		}
		before, _ := m.SessionBefore(v, to)
		if j == 0 && before != nil || j > 0 && (before == nil || *before != want[j-1]) {
			t.Fatalf("after %d changes, SessionBefore(%d) = %v, want the session before index %d", seq, to, before, j)
		}
	}
	if got := m.Sessions()[v]; !slices.Equal(got, want) {
		t.Fatalf("Sessions holds %d sessions, want %d (or they differ)", len(got), len(want))
	}
	for _, s := range want {
		if err := m.DeleteSession(v, s); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Sessions(); len(got) != 0 {
		t.Fatalf("every session deleted, and Sessions still holds %v", got)
	}
}

// sessionsMoved sums what the volunteers' session lists moved or scanned.
func (m *MemState) sessionsMoved() int {
	n := 0
	for _, r := range m.accounts {
		n += r.sessions.moved
	}
	return n
}
