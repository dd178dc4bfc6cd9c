package ledger

import (
	"fmt"
	"time"
)

// book is a test ledger: a MemState with a sequencer of its own and a controllable clock.
type book struct {
	t   tb
	st  *MemState
	rp  *Replayer
	seq uint64
	now int64
	key int
}

// tb is what book needs of *testing.T, *testing.F and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

var (
	admin   = Principal{Role: RoleAdmin, TokenID: "tok_admin"}
	auditor = Principal{Role: RoleAuditor, TokenID: "tok_aud"}
	s1      = Principal{Role: RoleStation, Account: "station:s1"}
	s2      = Principal{Role: RoleStation, Account: "station:s2"}
	o1      = Principal{Role: RoleOutlet, Account: "outlet:o1"}
	alice   = Principal{Role: RoleResident, Account: "resident:alice"}
	bob     = Principal{Role: RoleResident, Account: "resident:bob"}
)

func newBook(t tb) *book { return newBookAt(t, t0) }

// newBookAt is a book holding only genesis, with its clock at now.
func newBookAt(t tb, now time.Time) *book {
	b := &book{t: t, st: NewMemState(nil), now: now.UnixMicro()}
	b.rp = &Replayer{St: b.st}
	g, err := Decide(b.st, Request{Principal: Principal{Role: RoleSystem}, IdempotencyKey: "genesis",
		Body: &GenesisBody{Policy: *DefaultPolicy()}}, 1, b.now)
	if err != nil {
		t.Fatal(err)
	}
	b.commit(g)
	return b
}

func (b *book) commit(e *Entry) {
	// Every entry the rules make must read back: the server stores it, verify decodes it.
	// (Scales are fixed at genesis, and every book starts from the default policy.)
	assets := DefaultPolicy().Assets
	raw, err := EncodeEntry(e, assets)
	if err == nil {
		_, err = DecodeEntry(raw, assets)
	}
	if err != nil {
		b.t.Fatalf("entry %d does not encode and decode back: %v\n%s", e.Seq, err, raw)
	}
	if err := Apply(b.st, e); err != nil {
		b.t.Fatalf("apply %d: %v", e.Seq, err)
	}
	b.st.Record(e)
	b.seq = e.Seq
}

// try decides and, on success, applies one request, advancing the clock by a millisecond.
func (b *book) try(p Principal, body Body) (*Entry, error) {
	b.now += 1000
	b.key++
	e, err := Decide(b.st, Request{Principal: p, IdempotencyKey: fmt.Sprintf("k%d", b.key), Body: body}, b.seq+1, b.now)
	if err != nil {
		return nil, err
	}
	b.commit(e)
	return e, nil
}

// must is try that fails the test on error.
func (b *book) must(p Principal, body Body) *Entry {
	b.t.Helper()
	e, err := b.try(p, body)
	if err != nil {
		b.t.Fatalf("%T: %v", body, err)
	}
	return e
}

func (b *book) balance(id AccountID, asset string) int64 {
	a, _ := b.st.Account(id)
	if a == nil {
		b.t.Fatalf("no account %s", id)
	}
	return a.Balances[asset].Balance
}

// at formats t0 + d as RFC 3339.
func at(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }

// credit builds a credit of hours for the session [start, end) relative to t0.
func credit(vol AccountID, hours string, start, end time.Duration) *CreditBody {
	return &CreditBody{Volunteer: vol, Hours: hours,
		Activity: Activity{ID: "act-1", Category: "cleaning", StartedAt: at(start), EndedAt: at(end)}}
}

// standard opens the accounts most tests use and credits alice 10 hours (and 100 points).
func standard(t tb) *book {
	b := newBook(t)
	for _, id := range []AccountID{"station:s1", "station:s2", "outlet:o1", "resident:alice", "resident:bob",
		"resident:carol", "pool:public"} {
		b.must(admin, &OpenBody{ID: id})
	}
	b.must(s1, credit("resident:alice", "10", -20*time.Hour, -10*time.Hour))
	return b
}
