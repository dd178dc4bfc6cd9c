package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

var (
	admin = ledger.Principal{Role: ledger.RoleAdmin, TokenID: "tok_admin"}
	s1    = ledger.Principal{Role: ledger.RoleStation, Account: "station:s1"}
	alice = ledger.Principal{Role: ledger.RoleResident, Account: "resident:alice"}
	bob   = ledger.Principal{Role: ledger.RoleResident, Account: "resident:bob"}
)

// fixedNow is the test clock: entry times become t0 + 1 µs per entry.
func fixedNow() time.Time { return t0 }

// openTest opens a fresh ledger in a temporary directory, closed when the test ends.
func openTest(t testing.TB, opts Options) (*Ledger, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

var keyCounter atomic.Int64

func nextKey() string { return fmt.Sprintf("k%d", keyCounter.Add(1)) }

// submit sends body as p with a fresh key.
func submit(l *Ledger, p ledger.Principal, body ledger.Body) (*ledger.Entry, error) {
	e, _, err := l.Submit(context.Background(), ledger.Request{Principal: p, IdempotencyKey: nextKey(), Body: body})
	return e, err
}

func must(t testing.TB, l *Ledger, p ledger.Principal, body ledger.Body) *ledger.Entry {
	t.Helper()
	e, err := submit(l, p, body)
	if err != nil {
		t.Fatalf("%T: %v", body, err)
	}
	return e
}

// at formats t0 + d as RFC 3339.
func at(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }

// credit is a credit of hours for the session [t0+start, t0+end).
func credit(vol ledger.AccountID, hours string, start, end time.Duration) *ledger.CreditBody {
	return &ledger.CreditBody{Volunteer: vol, Hours: hours,
		Activity: ledger.Activity{ID: "act-1", Category: "cleaning", StartedAt: at(start), EndedAt: at(end)}}
}

// standard opens station:s1, outlet:o1, pool:public, alice and bob, and credits alice 10 hours.
func standard(t testing.TB, l *Ledger) {
	t.Helper()
	for _, id := range []ledger.AccountID{"station:s1", "outlet:o1", "pool:public", "resident:alice", "resident:bob"} {
		must(t, l, admin, &ledger.OpenBody{ID: id})
	}
	must(t, l, s1, credit("resident:alice", "10", -20*time.Hour, -10*time.Hour))
}

func balance(t testing.TB, l *Ledger, id ledger.AccountID, asset string) int64 {
	t.Helper()
	a, err := l.Account(id)
	if err != nil || a == nil {
		t.Fatalf("account %s: %v, %v", id, a, err)
	}
	return a.Balances[asset].Balance
}

func wantCode(t testing.TB, err error, code ledger.Code) {
	t.Helper()
	if ledger.CodeOf(err) != code || err == nil {
		t.Fatalf("got error %v, want code %s", err, code)
	}
}

// openReadTxs is the number of read transactions open now.
func (l *Ledger) openReadTxs() int { return l.db.Stats().OpenTxN }
