package store

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
)

// TestNoEntryTimeBeyondTheFormat: the canonical time has a four-digit year (docs/FORMAT.md),
// so 9999-12-31T23:59:59.999999Z is the last entry time a log can hold. When the last entry
// has it (or the clock reads later), the next entry's time, max(now, last + 1 µs), falls
// outside: the sequencer wrote and acknowledged an entry whose bytes no decoder accepts,
// so the ledger could not read it back (a replayed retry, GET /v1/entries) and `timebank
// verify` refused the whole log. It must refuse the write instead, and go on refusing after
// a restart with the clock behind.
func TestNoEntryTimeBeyondTheFormat(t *testing.T) {
	last := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	l, dir := openTest(t, Options{Now: func() time.Time { return last }})
	if got := l.LastTime(); got != last.UnixMicro() {
		t.Fatalf("genesis at %s, want %s", ledger.FormatTime(got), ledger.FormatTime(last.UnixMicro()))
	}
	check := func(l *Ledger) {
		t.Helper()
		e, err := submit(l, admin, &ledger.OpenBody{ID: "resident:alice"})
		if err == nil {
			if _, rerr := l.Entry(e.Seq); rerr != nil {
				t.Fatalf("entry %d at %s was acknowledged, but cannot be read back: %v", e.Seq, ledger.FormatTime(e.TimeMicros), rerr)
			}
		}
		wantCode(t, err, ledger.CodeUnavailable)
		if n := l.TreeSize(); n != 1 {
			t.Fatalf("tree size %d after a refused write, want 1", n)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, Options{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	check(l)
}

// TestPolicyChangeInsideABatch: a policy entry takes effect from the next entry, also when
// that entry is decided in the same transaction (group commit). Here the time zone changes
// from Asia/Shanghai to UTC between two credits of one batch, which moves the local day the
// daily cap counts: under Shanghai, both 8-hour sessions fall on November 28 (16 > 12 hours,
// refused); under UTC the first is on November 27, so the second is accepted. The replay
// (what verify does) must decide the same.
func TestPolicyChangeInsideABatch(t *testing.T) {
	var park atomic.Bool
	parked, release := make(chan struct{}), make(chan struct{})
	l, dir := openTest(t, Options{OnCommit: func(int, time.Duration) {
		if park.CompareAndSwap(true, false) {
			close(parked)
			<-release
		}
	}})
	for _, id := range []ledger.AccountID{"station:s1", "resident:bob"} {
		must(t, l, admin, &ledger.OpenBody{ID: id})
	}
	session := func(start, end time.Time) *ledger.CreditBody {
		return &ledger.CreditBody{Volunteer: "resident:bob", Hours: "8", Activity: ledger.Activity{ID: "a", Category: "cleaning",
			StartedAt: start.Format(time.RFC3339), EndedAt: end.Format(time.RFC3339)}}
	}
	day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	must(t, l, s1, session(day.Add(-8*time.Hour), day)) // Shanghai Nov 28 00:00–08:00; UTC Nov 27

	park.Store(true)
	go submit(l, admin, &ledger.OpenBody{ID: "resident:park"})
	<-parked // the sequencer is between batches: the next two requests queue up together
	p := *l.Policy()
	p.Timezone = "UTC"
	type answer struct {
		e   *ledger.Entry
		err error
	}
	policy, second := make(chan answer, 1), make(chan answer, 1)
	go func() { e, err := submit(l, admin, &ledger.PolicyBody{Policy: p}); policy <- answer{e, err} }()
	for len(l.queue) < 1 {
		time.Sleep(time.Millisecond)
	}
	go func() {
		e, err := submit(l, s1, session(day.Add(6*time.Hour), day.Add(14*time.Hour)))
		second <- answer{e, err}
	}()
	for len(l.queue) < 2 {
		time.Sleep(time.Millisecond)
	}
	commits := l.Stats().Commits
	close(release)
	pa, sa := <-policy, <-second
	if pa.err != nil || sa.err != nil {
		t.Fatalf("policy: %v; credit after it: %v", pa.err, sa.err)
	}
	if n := l.Stats().Commits - commits; n != 1 {
		t.Fatalf("the policy and the credit took %d commits, want one batch", n)
	}
	if sa.e.Seq != pa.e.Seq+1 {
		t.Fatalf("the credit is entry %d, the policy %d: not one after the other", sa.e.Seq, pa.e.Seq)
	}
	l.Close()
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	compareWithReplay(t, ro)
}
