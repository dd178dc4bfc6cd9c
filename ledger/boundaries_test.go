package ledger

import (
	"testing"
	"time"
)

// The edges SPEC §2–§3 states ("not after now + 5 min", "≤ max_ttl", "≤ held", "balance ≤
// upper limit", "reaches expires_at"), each checked exactly at the edge. Mutation testing
// (2026-11-29) found every one of these could flip (> to >=) without a test failing.

// nowPlus is entry time (the book's next entry) plus d, as RFC 3339.
func nowPlus(b *book, d time.Duration) string {
	return time.UnixMicro(b.now + 1000).Add(d).UTC().Format(time.RFC3339Nano)
}

var boundaryCases = []ruleCase{
	{"credit ends exactly now + 5 min", nil, s1, func(b *book) Body {
		c := credit("resident:bob", "1", 0, 0)
		c.Activity.StartedAt, c.Activity.EndedAt = nowPlus(b, -55*time.Minute), nowPlus(b, 5*time.Minute)
		return c
	}, ""},
	{"credit starts exactly now − backdate_days", nil, s1, func(b *book) Body {
		c := credit("resident:bob", "1", 0, 0)
		c.Activity.StartedAt, c.Activity.EndedAt = nowPlus(b, -30*24*time.Hour), nowPlus(b, -30*24*time.Hour+time.Hour)
		return c
	}, ""},
	{"credit ends 1 µs after now + 5 min", nil, s1, func(b *book) Body {
		c := credit("resident:bob", "1", 0, 0)
		c.Activity.StartedAt, c.Activity.EndedAt = nowPlus(b, -55*time.Minute), nowPlus(b, 5*time.Minute+time.Microsecond)
		return c
	}, CodeFutureTime},
	{"credit starts 1 µs before now − backdate_days", nil, s1, func(b *book) Body {
		c := credit("resident:bob", "1", 0, 0)
		c.Activity.StartedAt, c.Activity.EndedAt = nowPlus(b, -30*24*time.Hour-time.Microsecond), nowPlus(b, -30*24*time.Hour+time.Hour)
		return c
	}, CodeBackdateWindowExceeded},
	{"credit of exactly max_hours_per_entry", nil, s1, fixed(credit("resident:bob", "12", -14*time.Hour, -2*time.Hour)), ""},
	{"credit of 2.5 hours for a session 1 µs shorter", nil, s1,
		fixed(credit("resident:bob", "2.5", -3*time.Hour, -30*time.Minute-time.Microsecond)), CodeDurationExceeded},
	{"hold all that is available", nil, alice, fixed(&HoldBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "10"}), ""},
	{"station reverses exactly at the window's end", func(b *book) { b.now += 7*24*3600*1_000_000 - 1000 }, s1,
		fixed(&ReversalBody{Seq: 9, Reason: "late"}), ""},
	{"conversion of 1.05 hours (10.5 points) inexact", nil, alice, fixed(&ConversionBody{Hours: "1.05"}), CodeInexactConversion},
	{"hold beyond what other holds leave available", func(b *book) { holdFor(b, "8", 0) }, alice,
		fixed(&HoldBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "3"}), CodeInsufficientBalance},
	{"hold ttl exactly max_ttl", nil, alice, fixed(&HoldBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1", TTLSeconds: 86400}), ""},
	{"settle exactly at expires_at", func(b *book) { holdFor(b, "8", 60); b.now += 60_000_000 - 1000 }, o1,
		func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "5"} }, CodeHoldExpired},
	{"held funds are free exactly at expires_at", func(b *book) { holdFor(b, "8", 60); b.now += 60_000_000 - 1000 }, alice,
		fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "3"}), ""},
	{"void exactly at expires_at", func(b *book) { holdFor(b, "8", 60); b.now += 60_000_000 - 1000 }, alice,
		func(b *book) Body { return &VoidBody{HoldID: b.seq} }, CodeHoldNotOpen},
	{"settle the whole hold", func(b *book) { holdFor(b, "8", 0) }, o1, func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "8"} }, ""},
	{"void while the resident is frozen", func(b *book) { // decision 0003: voiding moves nothing
		holdFor(b, "8", 0)
		b.must(admin, &FreezeBody{Account: "resident:alice", Reason: "x"})
	}, admin, func(b *book) Body { return &VoidBody{HoldID: b.seq - 1} }, ""},
	{"reversal above a lowered upper limit", func(b *book) { // decision 0003: reversals are exempt
		linkAliceBob(b)
		b.must(alice, &TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "5"})
		withPolicy(func(p *Policy) { p.Limits[KindResident][AssetHours] = LimitPolicy{Upper: "6"} })(b)
	}, admin, func(b *book) Body { return &ReversalBody{Seq: b.seq - 1, Reason: "x"} }, ""},
	{"credit to exactly the upper limit", withPolicy(func(p *Policy) { p.Limits[KindResident][AssetHours] = LimitPolicy{Upper: "15"} }), s1,
		fixed(credit("resident:alice", "5", -8*time.Hour, -3*time.Hour)), ""},
}

func TestRuleBoundaries(t *testing.T) {
	for _, tc := range boundaryCases {
		t.Run(tc.name, func(t *testing.T) {
			b := standard(t)
			if tc.setup != nil {
				tc.setup(b)
			}
			_, err := b.try(tc.by, tc.body(b))
			if got := CodeOf(err); err != nil && got != tc.want || err == nil && tc.want != "" {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestEarnedOnlyFromCredits: earned counts what credits brought in (SPEC §2), not transfers.
func TestEarnedOnlyFromCredits(t *testing.T) {
	b := standard(t)
	linkAliceBob(b)
	b.must(alice, &TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "4"})
	a, _ := b.st.Account("resident:bob")
	if e := a.Balances[AssetHours].Earned; e != 0 {
		t.Fatalf("bob earned %d from a transfer, want 0", e)
	}
}
