package store

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// TestStoredStateEqualsReplay replays the stored log into ledger.MemState (what verify does)
// and compares every stored account, hold, session, link, reversal, statement line and
// idempotency record with it: the bbolt State and its batch cache must behave exactly like
// the reference state.
func TestStoredStateEqualsReplay(t *testing.T) {
	l, dir := openTest(t, Options{})
	everything(t, l)
	// Concurrent credits share batches: the issuers' cached records are changed by many
	// entries of one transaction.
	run(t, 32, func(g int) error {
		vol := ledger.AccountID(fmt.Sprintf("resident:g%d", g))
		if _, err := submit(l, admin, &ledger.OpenBody{ID: vol}); err != nil {
			return err
		}
		for j := 1; j <= 3; j++ {
			start := -time.Duration(j) * time.Hour
			if _, err := submit(l, s1, credit(vol, "0.25", start, start+time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	l.Close()
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	c := compareWithReplay(t, ro)
	if c.Holds != 3 || c.Reversals != 1 || c.Links != 2 {
		t.Fatalf("counts %+v: the workload did not write what it should", c)
	}
}

// compareWithReplay replays ro's log into a MemState and fails t on the first stored record
// that differs from the replay's. It returns the store's counts.
func compareWithReplay(t tb, ro *Ledger) Counts {
	t.Helper()
	rc := newReplayCheck()
	rc.advance(t, ro, allEntries(t, ro))
	return rc.compare(t, ro)
}

// replayCheck is compareWithReplay in two steps, for a log that grows between checks
// (TestCrash reopens the store after every kill): advance replays the entries not yet
// replayed, compare compares the whole stored state with the replay's.
type replayCheck struct {
	mem            *ledger.MemState
	rp             *ledger.Replayer
	entries, lines int
	types          map[ledger.Type]int // entries replayed, by type
}

func newReplayCheck() *replayCheck {
	mem := ledger.NewMemState(nil)
	return &replayCheck{mem: mem, rp: &ledger.Replayer{St: mem}, types: map[ledger.Type]int{}}
}

// advance replays raw[rc.entries:], the entries of ro's log (all of them: raw[i] is entry
// i+1) that rc has not replayed yet, checking each one's statement lines and idempotency
// record as it goes. The caller checks that the entries replayed before are unchanged.
func (rc *replayCheck) advance(t tb, ro *Ledger, raw [][]byte) {
	t.Helper()
	if len(raw) < rc.entries {
		t.Fatalf("the log holds %d entries, fewer than the %d replayed before", len(raw), rc.entries)
	}
	for _, b := range raw[rc.entries:] {
		e, err := ledger.DecodeEntry(b, ro.Assets())
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.rp.Step(e, b); err != nil {
			t.Fatal(err)
		}
		rc.entries++
		rc.types[e.Type]++
		rc.lines += checkIndexes(t, ro, rc.mem, e)
	}
}

// compare fails t on the first record stored in ro that differs from the replay's, and
// returns the store's counts.
func (rc *replayCheck) compare(t tb, ro *Ledger) Counts {
	t.Helper()
	mem, entries, lines := rc.mem, rc.entries, rc.lines
	var accounts []*ledger.Account
	ro.ForEachAccount(func(a *ledger.Account) error { accounts = append(accounts, a); return nil })
	want := mem.Accounts()
	if !reflect.DeepEqual(accounts, want) {
		t.Fatalf("accounts differ:\n stored %+v\n replay %+v", accounts, want)
	}

	var holds []ledger.Hold
	ro.ForEachHold(func(h *ledger.Hold) error { holds = append(holds, *h); return nil })
	if len(holds) != 0 && !reflect.DeepEqual(holds, mem.Holds()) {
		t.Fatalf("holds differ:\n stored %+v\n replay %+v", holds, mem.Holds())
	}

	sessions := map[ledger.AccountID][]ledger.Session{}
	ro.ForEachSession(func(v ledger.AccountID, s ledger.Session) error { sessions[v] = append(sessions[v], s); return nil })
	if !reflect.DeepEqual(sessions, mem.Sessions()) {
		t.Fatalf("sessions differ:\n stored %+v\n replay %+v", sessions, mem.Sessions())
	}

	links := map[[2]ledger.AccountID]string{}
	ro.ForEachLink(func(a, b ledger.AccountID, rel string) error {
		if a < b {
			links[[2]ledger.AccountID{a, b}] = rel
		} else if _, ok := links[[2]ledger.AccountID{b, a}]; !ok {
			t.Errorf("link %s→%s stored one way only", a, b)
		}
		return nil
	})
	if !reflect.DeepEqual(links, mem.Links()) {
		t.Fatalf("links differ: %v %v", links, mem.Links())
	}

	revs := map[uint64]uint64{}
	ro.ForEachReversal(func(seq, by uint64) error { revs[seq] = by; return nil })
	if !reflect.DeepEqual(revs, mem.Reversals()) {
		t.Fatalf("reversals differ: %v %v", revs, mem.Reversals())
	}

	c, err := ro.Count()
	if err != nil {
		t.Fatal(err)
	}
	if c.StatementLines != lines || c.IdempotencyRecords != entries || c.Entries != entries ||
		c.Accounts != len(want) || c.Holds != len(mem.Holds()) || c.Reversals != len(mem.Reversals()) ||
		c.Links != 2*len(mem.Links()) || int64(c.StoredHashes) != tlog.StoredHashCount(int64(entries))-int64(entries) {
		t.Fatalf("counts %+v; want %d lines, %d records and entries, %d accounts", c, lines, entries, len(want))
	}
	return c
}

// checkIndexes checks the statement line of every party to e against the replayed balances
// just after e, and e's idempotency record. It returns the number of parties.
func checkIndexes(t tb, ro *Ledger, mem *ledger.MemState, e *ledger.Entry) int {
	t.Helper()
	parties, err := ledger.Parties(mem, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range parties {
		got, ok, err := ro.StatementLine(id, e.Seq)
		a, _ := mem.Account(id)
		if !ok || err != nil || !reflect.DeepEqual(got, balancesOf(a)) {
			t.Fatalf("statement line of %s for entry %d: %v %v %v; replay has %v", id, e.Seq, got, ok, err, balancesOf(a))
		}
	}
	// The fingerprint is of the body as sent, before normalisation: the log cannot
	// reproduce it, so only the seq is checked here.
	seq, _, ok, err := ro.IdempotencyRecord(e.Actor, e.IdempotencyKey)
	if !ok || err != nil || seq != e.Seq {
		t.Fatalf("idempotency record of entry %d: %d %v %v", e.Seq, seq, ok, err)
	}
	return len(parties)
}
