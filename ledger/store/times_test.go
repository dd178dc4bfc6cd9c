package store

import (
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
