package store

import (
	"strings"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
)

// TestClockGuard: writes stop while the clock cannot time them, and resume when it can.
// A clock more than MaxClockSkew behind the last entry would freeze entry times (and every
// hold's expiry); one that jumped more than MaxClockSkew ahead of the monotonic clock would
// stamp entries in the future, which the log would keep for ever. Reads go on; Healthy says
// why writes stopped.
func TestClockGuard(t *testing.T) {
	wall, mono := t0, time.Duration(0)
	l, _ := openTest(t, Options{Now: func() time.Time { return wall }, Monotonic: func() time.Duration { return mono }})
	standard(t, l)
	last := must(t, l, admin, &ledger.OpenBody{ID: "resident:g1"})

	// Stepped back more than MaxClockSkew: refused, nothing written; reads go on.
	wall = t0.Add(-MaxClockSkew - time.Second)
	_, err := submit(l, admin, &ledger.OpenBody{ID: "resident:g2"})
	if ledger.CodeOf(err) != ledger.CodeUnavailable || !strings.Contains(err.Error(), "behind the ledger's last entry") {
		t.Fatalf("a write with the clock %v behind: %v", MaxClockSkew+time.Second, err)
	}
	if l.TreeSize() != last.Seq || l.Healthy() == nil {
		t.Fatalf("after the refusal: tree size %d (want %d), healthy %v", l.TreeSize(), last.Seq, l.Healthy())
	}
	if a, err := l.Account("resident:g1"); err != nil || a == nil {
		t.Fatalf("a read with the clock behind: %v %v", a, err)
	}
	// Back within MaxClockSkew: written, a microsecond after the last entry.
	wall = t0.Add(-MaxClockSkew + time.Second)
	if e := must(t, l, admin, &ledger.OpenBody{ID: "resident:g2"}); e.TimeMicros != last.TimeMicros+1 || l.Healthy() != nil {
		t.Fatalf("within the skew: time %d after %d, healthy %v", e.TimeMicros, last.TimeMicros, l.Healthy())
	}

	// The wall clock jumps ahead of the monotonic one: refused until it comes back.
	wall, mono = t0.Add(time.Hour), time.Minute
	if _, err := submit(l, admin, &ledger.OpenBody{ID: "resident:g3"}); ledger.CodeOf(err) != ledger.CodeUnavailable ||
		!strings.Contains(err.Error(), "jumped 59m0s ahead") {
		t.Fatalf("a write after the clock jumped an hour: %v", err)
	}
	wall = t0.Add(2 * time.Minute) // set right again: the jump is gone
	if e := must(t, l, admin, &ledger.OpenBody{ID: "resident:g3"}); e.TimeMicros != wall.UnixMicro() {
		t.Fatalf("after the clock came back: time %d, want %d", e.TimeMicros, wall.UnixMicro())
	}
}

// TestAllowClockBehind: with AllowClockBehind, a ledger whose last entry is later than the
// clock (restored on a machine with a wrong clock, or stamped by one) takes writes, timed a
// microsecond after the last entry.
func TestAllowClockBehind(t *testing.T) {
	wall := t0
	l, dir := openTest(t, Options{Now: func() time.Time { return wall }})
	last := must(t, l, admin, &ledger.OpenBody{ID: "resident:a1"})
	l.Close()
	wall = t0.Add(-time.Hour)
	l2, err := Open(dir, Options{Now: func() time.Time { return wall }, AllowClockBehind: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if e := must(t, l2, admin, &ledger.OpenBody{ID: "resident:a2"}); e.TimeMicros != last.TimeMicros+1 {
		t.Fatalf("time %d, want %d", e.TimeMicros, last.TimeMicros+1)
	}
}
