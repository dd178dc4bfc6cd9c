package ledger

import (
	"strings"
	"testing"
	"time"
)

type ruleCase struct {
	name  string
	setup func(b *book) // after standard()
	by    Principal
	body  func(b *book) Body
	want  Code // "" = accepted
}

func fixed(body Body) func(*book) Body { return func(*book) Body { return body } }

// withPolicy changes the policy in force through a policy entry.
func withPolicy(change func(p *Policy)) func(b *book) {
	return func(b *book) {
		p := *b.st.Policy()
		p.Limits = map[Kind]map[string]LimitPolicy{KindResident: {AssetHours: {Upper: "1500"}}}
		change(&p)
		b.must(admin, &PolicyBody{Policy: p})
	}
}

func freezeS1(b *book) { b.must(admin, &FreezeBody{Account: "station:s1", Reason: "device lost"}) }

func linkAliceBob(b *book) {
	b.must(admin, &LinkBody{A: "resident:alice", B: "resident:bob", Relation: "spouse"})
}

func holdFor(b *book, amount string, ttl int64) uint64 {
	return b.must(alice, &HoldBody{Payee: "outlet:o1", Asset: AssetHours, Amount: amount, TTLSeconds: ttl}).Seq
}

var ruleCases = []ruleCase{
	// open
	{"open ok by station", nil, s1, fixed(&OpenBody{ID: "resident:dave"}), ""},
	{"open bad syntax", nil, admin, fixed(&OpenBody{ID: "resident:Dave"}), CodeInvalidAccount},
	{"open issuer", nil, admin, fixed(&OpenBody{ID: "issuer:HOURS"}), CodeInvalidAccount},
	{"open resident id number", nil, admin, fixed(&OpenBody{ID: "resident:11010519491231002x"}), CodeInvalidAccount},
	{"open mobile number", nil, admin, fixed(&OpenBody{ID: "resident:13812345678"}), CodeInvalidAccount},
	{"open exists", nil, admin, fixed(&OpenBody{ID: "resident:alice"}), CodeAccountExists},
	{"station opens station", nil, s1, fixed(&OpenBody{ID: "station:s9"}), CodeForbidden},
	{"resident opens", nil, alice, fixed(&OpenBody{ID: "resident:dave"}), CodeForbidden},
	{"auditor writes", nil, auditor, fixed(&OpenBody{ID: "resident:dave"}), CodeForbidden},
	// freeze and link
	{"freeze unknown", nil, admin, fixed(&FreezeBody{Account: "resident:zed", Reason: "x"}), CodeUnknownAccount},
	{"freeze an issuer", nil, admin, fixed(&FreezeBody{Account: "issuer:HOURS", Reason: "x"}), CodeInvalidAccount},
	{"freeze by station", nil, s1, fixed(&FreezeBody{Account: "resident:bob", Reason: "x"}), CodeForbidden},
	{"freeze without reason", nil, admin, fixed(&FreezeBody{Account: "resident:bob"}), CodeInvalidField},
	{"unfreeze without reason", nil, admin, fixed(&FreezeBody{Account: "resident:bob", Unfreeze: true}), CodeInvalidField},
	{"frozen payer", func(b *book) { b.must(admin, &FreezeBody{Account: "resident:alice", Reason: "test"}) }, alice,
		fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1"}), CodeAccountFrozen},
	{"frozen payee", func(b *book) { linkAliceBob(b); b.must(admin, &FreezeBody{Account: "resident:bob", Reason: "test"}) }, alice,
		fixed(&TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "1"}), CodeAccountFrozen},
	{"unfrozen pays again", func(b *book) {
		b.must(admin, &FreezeBody{Account: "resident:alice", Reason: "test"})
		b.must(admin, &FreezeBody{Account: "resident:alice", Reason: "test", Unfreeze: true})
	}, alice, fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1"}), ""},
	{"link unknown", nil, admin, fixed(&LinkBody{A: "resident:alice", B: "resident:zed", Relation: "child"}), CodeUnknownAccount},
	{"link bad relation", nil, admin, fixed(&LinkBody{A: "resident:alice", B: "resident:bob", Relation: "friend"}), CodeInvalidField},
	{"link by station", nil, s1, fixed(&LinkBody{A: "resident:alice", B: "resident:bob", Relation: "child"}), CodeForbidden},
	{"link a station", nil, admin, fixed(&LinkBody{A: "station:s1", B: "resident:bob", Relation: "other"}), CodeInvalidField},
	{"link self", nil, admin, fixed(&LinkBody{A: "resident:alice", B: "resident:alice", Relation: "other"}), CodeInvalidField},
	// credit, in SPEC order
	{"credit ok", nil, s1, fixed(credit("resident:bob", "2.5", -3*time.Hour, -30*time.Minute)), ""},
	{"credit entry cap", nil, s1, fixed(credit("resident:bob", "13", -15*time.Hour, -1*time.Hour)), CodeEntryCapExceeded},
	{"credit duration", nil, s1, fixed(credit("resident:bob", "3", -3*time.Hour, -1*time.Hour)), CodeDurationExceeded},
	{"credit future", nil, s1, fixed(credit("resident:bob", "1", -1*time.Hour, 10*time.Minute)), CodeFutureTime},
	{"credit backdate", nil, s1, fixed(credit("resident:bob", "1", -31*24*time.Hour, -31*24*time.Hour+time.Hour)), CodeBackdateWindowExceeded},
	{"credit daily cap", nil, s1, fixed(credit("resident:alice", "3", -32*time.Hour, -29*time.Hour)), CodeDailyCapExceeded},
	{"credit overlap", nil, s1, fixed(credit("resident:alice", "1", -12*time.Hour, -11*time.Hour)), CodeOverlappingSession},
	{"credit overlap other station", nil, s2, fixed(credit("resident:alice", "1", -11*time.Hour, -9*time.Hour)), CodeOverlappingSession},
	{"credit adjacent", nil, s2, fixed(credit("resident:alice", "1", -10*time.Hour, -9*time.Hour)), ""},
	{"credit balance cap", withPolicy(func(p *Policy) { p.Limits[KindResident][AssetHours] = LimitPolicy{Upper: "15"} }), s1,
		fixed(credit("resident:alice", "6", -8*time.Hour, -2*time.Hour)), CodeBalanceCapExceeded},
	{"credit points beyond 12 digits", withPolicy(func(p *Policy) { p.Credit.PointsPerHour = "999999999999" }), s1,
		fixed(credit("resident:bob", "2", -3*time.Hour, -1*time.Hour)), CodeBalanceCapExceeded},
	{"credit unknown volunteer", nil, s1, fixed(credit("resident:zed", "1", -2*time.Hour, -1*time.Hour)), CodeUnknownAccount},
	{"credit frozen volunteer", func(b *book) { b.must(admin, &FreezeBody{Account: "resident:bob", Reason: "test"}) }, s1,
		fixed(credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)), CodeAccountFrozen},
	{"credit as other station", nil, s1, func(*book) Body {
		c := credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)
		c.Station = "station:s2"
		return c
	}, CodeForbidden},
	{"credit admin without station", nil, admin, fixed(credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)), CodeInvalidField},
	{"credit to a pool", nil, s1, fixed(credit("pool:public", "1", -2*time.Hour, -1*time.Hour)), CodeInvalidField},
	{"credit naming an outlet as station", nil, admin, func(*book) Body {
		c := credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)
		c.Station = "outlet:o1"
		return c
	}, CodeInvalidField},
	{"credit bad category", nil, s1, func(*book) Body {
		c := credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)
		c.Activity.Category = "Elderly Care"
		return c
	}, CodeInvalidField},
	{"credit without activity id", nil, s1, func(*book) Body {
		c := credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)
		c.Activity.ID = ""
		return c
	}, CodeInvalidField},
	{"credit by resident", nil, alice, fixed(credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)), CodeForbidden},
	{"credit exponent", nil, s1, fixed(credit("resident:bob", "1e1", -2*time.Hour, -1*time.Hour)), CodeInvalidAmount},
	{"credit too many decimals", nil, s1, fixed(credit("resident:bob", "1.234", -2*time.Hour, -1*time.Hour)), CodeInvalidAmount},
	{"credit bad time", nil, s1, func(*book) Body {
		c := credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)
		c.Activity.StartedAt = "yesterday"
		return c
	}, CodeInvalidTime},
	{"credit ends before start", nil, s1, fixed(credit("resident:bob", "1", -1*time.Hour, -2*time.Hour)), CodeInvalidTime},
	// When several credit rules fail, the first in SPEC §3's list answers.
	{"credit over the entry cap and its duration", nil, s1, fixed(credit("resident:bob", "13", -3*time.Hour, -1*time.Hour)), CodeEntryCapExceeded},
	{"credit in the future and past the backdate window", nil, s1, fixed(credit("resident:bob", "1", -31*24*time.Hour, 10*time.Minute)), CodeFutureTime},
	{"credit over the daily cap and overlapping", nil, s1, fixed(credit("resident:alice", "3", -13*time.Hour, -10*time.Hour)), CodeDailyCapExceeded},
	{"credit naming a station with a bad id", nil, s1, func(*book) Body {
		c := credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)
		c.Station = "station:S1"
		return c
	}, CodeInvalidAccount},
	{"credit of no length", nil, s1, fixed(credit("resident:bob", "1", -2*time.Hour, -2*time.Hour)), CodeInvalidTime},
	{"credit overlap: an earlier session starts inside this one", nil, s1,
		fixed(credit("resident:alice", "1", -21*time.Hour, -15*time.Hour)), CodeOverlappingSession},
	{"credit counts on its start's local day", func(b *book) { // 13:00–23:00, then 23:00–02:00 Shanghai
		b.must(s1, credit("resident:bob", "10", -21*time.Hour, -11*time.Hour))
	}, s1, fixed(credit("resident:bob", "3", -11*time.Hour, -8*time.Hour)), CodeDailyCapExceeded},
	{"credit by a frozen station", func(b *book) { b.must(admin, &FreezeBody{Account: "station:s1", Reason: "test"}) }, s1,
		fixed(credit("resident:bob", "1", -2*time.Hour, -1*time.Hour)), CodeAccountFrozen},
	// redemption
	{"redeem ok", nil, alice, fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetPoints, Amount: "100"}), ""},
	{"redeem insufficient", nil, alice, fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "10.01"}), CodeInsufficientBalance},
	{"redeem to resident", nil, alice, fixed(&RedemptionBody{Payee: "resident:bob", Asset: AssetHours, Amount: "1"}), CodeInvalidPayee},
	{"redeem to pool", nil, alice, fixed(&RedemptionBody{Payee: "pool:public", Asset: AssetHours, Amount: "1"}), CodeInvalidPayee},
	{"redeem to self", nil, alice, fixed(&RedemptionBody{Payee: "resident:alice", Asset: AssetHours, Amount: "1"}), CodeInvalidField},
	{"redeem unknown payee", nil, alice, fixed(&RedemptionBody{Payee: "outlet:o9", Asset: AssetHours, Amount: "1"}), CodeUnknownAccount},
	{"redeem by station", nil, s1, fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1"}), CodeForbidden},
	{"redeem unknown asset", nil, alice, fixed(&RedemptionBody{Payee: "outlet:o1", Asset: "GOLD", Amount: "1"}), CodeInvalidField},
	{"redeem to resident beyond funds", nil, alice, // funds come before the payee's kind
		fixed(&RedemptionBody{Payee: "resident:bob", Asset: AssetHours, Amount: "11"}), CodeInsufficientBalance},
	{"redeem memo too long", nil, alice,
		fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1", Memo: strings.Repeat("m", MaxMemoChars+1)}), CodeInvalidField},
	// holds
	{"hold insufficient", nil, alice, fixed(&HoldBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "11"}), CodeInsufficientBalance},
	{"hold ttl too long", nil, alice, fixed(&HoldBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1", TTLSeconds: 86401}), CodeInvalidField},
	{"hold to a resident", nil, alice, fixed(&HoldBody{Payee: "resident:bob", Asset: AssetHours, Amount: "1"}), CodeInvalidPayee},
	{"hold to a resident beyond funds", nil, alice, fixed(&HoldBody{Payee: "resident:bob", Asset: AssetHours, Amount: "11"}), CodeInsufficientBalance},
	{"settle while the resident is frozen", func(b *book) {
		holdFor(b, "8", 0)
		b.must(admin, &FreezeBody{Account: "resident:alice", Reason: "test"})
	}, o1, func(b *book) Body { return &SettleBody{HoldID: b.seq - 1, Amount: "5"} }, CodeAccountFrozen},
	{"settle while the payee is frozen", func(b *book) {
		holdFor(b, "8", 0)
		b.must(admin, &FreezeBody{Account: "outlet:o1", Reason: "test"})
	}, o1, func(b *book) Body { return &SettleBody{HoldID: b.seq - 1, Amount: "5"} }, CodeAccountFrozen},
	{"held is not available", func(b *book) { holdFor(b, "8", 0) }, alice,
		fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "3"}), CodeInsufficientBalance},
	{"expired hold frees funds", func(b *book) { holdFor(b, "8", 1); b.now += 2_000_000 }, alice,
		fixed(&RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "3"}), ""},
	{"settle ok", func(b *book) { holdFor(b, "8", 0) }, o1, func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "5"} }, ""},
	{"settle by resident", func(b *book) { holdFor(b, "8", 0) }, alice, func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "5"} }, CodeForbidden},
	{"settle by stranger", func(b *book) { holdFor(b, "8", 0) }, s2, func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "5"} }, CodeNotFound},
	{"settle missing hold", nil, o1, fixed(&SettleBody{HoldID: 999, Amount: "5"}), CodeNotFound},
	{"settle voided", func(b *book) { id := holdFor(b, "8", 0); b.must(alice, &VoidBody{HoldID: id}) }, o1,
		func(b *book) Body { return &SettleBody{HoldID: b.seq - 1, Amount: "5"} }, CodeHoldNotOpen},
	{"settle expired", func(b *book) { holdFor(b, "8", 60); b.now += 61_000_000 }, o1,
		func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "5"} }, CodeHoldExpired},
	{"settle a voided hold past its expiry", func(b *book) {
		id := holdFor(b, "8", 60)
		b.must(alice, &VoidBody{HoldID: id})
		b.now += 61_000_000
	}, o1, func(b *book) Body { return &SettleBody{HoldID: b.seq - 1, Amount: "5"} }, CodeHoldNotOpen},
	{"settle a POINTS hold with a fraction", func(b *book) {
		b.must(alice, &HoldBody{Payee: "outlet:o1", Asset: AssetPoints, Amount: "50"})
	}, o1, func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "1.5"} }, CodeInvalidAmount},
	{"settle exceeds", func(b *book) { holdFor(b, "8", 0) }, o1, func(b *book) Body { return &SettleBody{HoldID: b.seq, Amount: "8.01"} }, CodeSettleExceedsHold},
	{"void expired", func(b *book) { holdFor(b, "8", 60); b.now += 61_000_000 }, alice,
		func(b *book) Body { return &VoidBody{HoldID: b.seq} }, CodeHoldNotOpen},
	{"void by payee", func(b *book) { holdFor(b, "8", 0) }, o1, func(b *book) Body { return &VoidBody{HoldID: b.seq} }, ""},
	{"void by auditor", func(b *book) { holdFor(b, "8", 0) }, auditor, func(b *book) Body { return &VoidBody{HoldID: b.seq} }, CodeForbidden},
	// transfers, donations, grants
	{"transfer unlinked", nil, alice, fixed(&TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "1"}), CodeTransferNotAllowed},
	{"transfer unlinked beyond funds", nil, alice, fixed(&TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "11"}), CodeTransferNotAllowed},
	{"transfer linked", linkAliceBob, bob, func(b *book) Body {
		b.must(s1, credit("resident:bob", "2", -3*time.Hour, -1*time.Hour))
		return &TransferBody{To: "resident:alice", Asset: AssetHours, Amount: "1"} // links are symmetric
	}, ""},
	{"transfer points none", linkAliceBob, alice, fixed(&TransferBody{To: "resident:bob", Asset: AssetPoints, Amount: "1"}), CodeTransferNotAllowed},
	{"transfer any", withPolicy(func(p *Policy) { p.Transfer[AssetPoints] = TransferAny }), alice,
		fixed(&TransferBody{To: "resident:carol", Asset: AssetPoints, Amount: "1"}), ""},
	{"transfer insufficient", linkAliceBob, alice, fixed(&TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "11"}), CodeInsufficientBalance},
	{"transfer receiver cap", func(b *book) {
		linkAliceBob(b)
		b.must(s1, credit("resident:bob", "10", -20*time.Hour, -10*time.Hour))
		withPolicy(func(p *Policy) { p.Limits[KindResident][AssetHours] = LimitPolicy{Upper: "15"} })(b)
	}, alice, fixed(&TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "6"}), CodeBalanceCapExceeded},
	{"transfer to station", nil, alice, fixed(&TransferBody{To: "station:s1", Asset: AssetHours, Amount: "1"}), CodeInvalidField},
	{"donate ok", nil, alice, fixed(&DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "4"}), ""},
	{"donate insufficient", nil, alice, fixed(&DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "40"}), CodeInsufficientBalance},
	{"donate to outlet", nil, alice, fixed(&DonationBody{Pool: "outlet:o1", Asset: AssetHours, Amount: "4"}), CodeInvalidField},
	{"grant pool empty", nil, admin, fixed(&GrantBody{Pool: "pool:public", To: "resident:bob", Asset: AssetHours, Amount: "1", Memo: "test"}), CodeInsufficientBalance},
	{"grant ok", func(b *book) { b.must(alice, &DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "4"}) }, admin,
		fixed(&GrantBody{Pool: "pool:public", To: "resident:bob", Asset: AssetHours, Amount: "3", Memo: "test"}), ""},
	{"grant without memo", func(b *book) {
		b.must(alice, &DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "3"})
	}, admin, fixed(&GrantBody{Pool: "pool:public", To: "resident:bob", Asset: AssetHours, Amount: "1"}), CodeInvalidField},
	{"grant from a resident", nil, admin, fixed(&GrantBody{Pool: "resident:alice", To: "resident:bob", Asset: AssetHours, Amount: "1", Memo: "test"}), CodeInvalidField},
	{"grant to a pool", nil, admin, fixed(&GrantBody{Pool: "pool:public", To: "pool:other", Asset: AssetHours, Amount: "1", Memo: "test"}), CodeInvalidField},
	{"grant by resident", nil, alice, fixed(&GrantBody{Pool: "pool:public", To: "resident:bob", Asset: AssetHours, Amount: "1", Memo: "test"}), CodeForbidden},
	{"grant from a frozen pool", func(b *book) {
		b.must(alice, &DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "4"})
		b.must(admin, &FreezeBody{Account: "pool:public", Reason: "test"})
	}, admin, fixed(&GrantBody{Pool: "pool:public", To: "resident:bob", Asset: AssetHours, Amount: "1", Memo: "test"}), CodeAccountFrozen},
	{"grant above the receiver's upper limit", func(b *book) {
		b.must(alice, &DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "4"})
		withPolicy(func(p *Policy) { p.Limits[KindResident][AssetHours] = LimitPolicy{Upper: "2"} })(b)
	}, admin, fixed(&GrantBody{Pool: "pool:public", To: "resident:bob", Asset: AssetHours, Amount: "3", Memo: "test"}), CodeBalanceCapExceeded},
	{"donate above the pool's upper limit", withPolicy(func(p *Policy) { p.Limits[KindPool] = map[string]LimitPolicy{AssetHours: {Upper: "3"}} }),
		alice, fixed(&DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "4"}), CodeBalanceCapExceeded},
	// conversions
	{"convert ok", nil, alice, fixed(&ConversionBody{Hours: "1.5"}), ""},
	{"convert disabled", withPolicy(func(p *Policy) { p.Convert.PointsPerHour = "0" }), alice, fixed(&ConversionBody{Hours: "1"}), CodeConversionDisabled},
	{"convert disabled beyond funds", withPolicy(func(p *Policy) { p.Convert.PointsPerHour = "0" }), alice, fixed(&ConversionBody{Hours: "11"}), CodeConversionDisabled},
	{"convert inexact", nil, alice, fixed(&ConversionBody{Hours: "0.05"}), CodeInexactConversion},
	{"convert points beyond 12 digits", withPolicy(func(p *Policy) { p.Convert.PointsPerHour = "999999999999" }), alice,
		fixed(&ConversionBody{Hours: "2"}), CodeBalanceCapExceeded},
	{"convert insufficient", nil, alice, fixed(&ConversionBody{Hours: "11"}), CodeInsufficientBalance},
	{"convert while frozen", func(b *book) { b.must(admin, &FreezeBody{Account: "resident:alice", Reason: "test"}) }, alice,
		fixed(&ConversionBody{Hours: "1"}), CodeAccountFrozen},
	{"convert above the points upper limit", withPolicy(func(p *Policy) { p.Limits[KindResident][AssetPoints] = LimitPolicy{Upper: "100"} }),
		alice, fixed(&ConversionBody{Hours: "1"}), CodeBalanceCapExceeded},
	// reversals
	{"reverse credit by its station", nil, s1, fixed(&ReversalBody{Seq: 9, Reason: "typo"}), ""},
	// A freeze stops money, not a principal (docs/OPERATIONS.md, Tokens): a frozen station
	// cannot credit ("credit by a frozen station"), but still opens residents and reverses
	// its own credits.
	{"frozen station opens a resident", freezeS1, s1, fixed(&OpenBody{ID: "resident:dave"}), ""},
	{"frozen station reverses its credit", freezeS1, s1, fixed(&ReversalBody{Seq: 9, Reason: "typo"}), ""},
	{"reverse not reversible", nil, admin, fixed(&ReversalBody{Seq: 2, Reason: "x"}), CodeNotReversible},
	{"reverse twice", func(b *book) { b.must(admin, &ReversalBody{Seq: 9, Reason: "x"}) }, admin, fixed(&ReversalBody{Seq: 9, Reason: "again"}), CodeAlreadyReversed},
	{"station reverses a reversed credit after the window", func(b *book) {
		b.must(admin, &ReversalBody{Seq: 9, Reason: "x"})
		b.now += 8 * 24 * 3600 * 1_000_000
	}, s1, fixed(&ReversalBody{Seq: 9, Reason: "late"}), CodeAlreadyReversed},
	{"reverse window passed", func(b *book) { b.now += 8 * 24 * 3600 * 1_000_000 }, s1, fixed(&ReversalBody{Seq: 9, Reason: "late"}), CodeReversalWindowPassed},
	{"reverse admin after window", func(b *book) { b.now += 8 * 24 * 3600 * 1_000_000 }, admin, fixed(&ReversalBody{Seq: 9, Reason: "late"}), ""},
	{"reverse spent credit", func(b *book) {
		b.must(alice, &RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "5"})
	}, admin, fixed(&ReversalBody{Seq: 9, Reason: "x"}), CodeInsufficientBalance},
	{"reverse other station's credit", nil, s2, fixed(&ReversalBody{Seq: 9, Reason: "x"}), CodeNotFound},
	{"station reverses a payment to it", func(b *book) {
		b.must(alice, &RedemptionBody{Payee: "station:s1", Asset: AssetHours, Amount: "1"})
	}, s1, func(b *book) Body { return &ReversalBody{Seq: b.seq, Reason: "x"} }, CodeForbidden},
	{"reverse unknown", nil, admin, fixed(&ReversalBody{Seq: 999, Reason: "x"}), CodeNotFound},
	{"reverse without reason", nil, admin, fixed(&ReversalBody{Seq: 9}), CodeInvalidField},
	{"reverse by resident", nil, alice, fixed(&ReversalBody{Seq: 9, Reason: "x"}), CodeForbidden},
	{"reverse a credit to a frozen volunteer", func(b *book) { b.must(admin, &FreezeBody{Account: "resident:alice", Reason: "x"}) },
		admin, fixed(&ReversalBody{Seq: 9, Reason: "x"}), CodeAccountFrozen},
	{"reverse a grant", func(b *book) {
		b.must(alice, &DonationBody{Pool: "pool:public", Asset: AssetHours, Amount: "4"})
		b.must(admin, &GrantBody{Pool: "pool:public", To: "resident:bob", Asset: AssetHours, Amount: "3", Memo: "test"})
	}, admin, func(b *book) Body { return &ReversalBody{Seq: b.seq, Reason: "x"} }, ""},
	{"reverse a settle", func(b *book) {
		id := holdFor(b, "8", 0)
		b.must(o1, &SettleBody{HoldID: id, Amount: "5"})
	}, admin, func(b *book) Body { return &ReversalBody{Seq: b.seq, Reason: "x"} }, ""},
	{"reversed credit frees its session", func(b *book) { b.must(s1, &ReversalBody{Seq: 9, Reason: "x"}) }, s1,
		fixed(credit("resident:alice", "10", -20*time.Hour, -10*time.Hour)), ""},
	// policy
	{"policy scale change", nil, admin, func(b *book) Body {
		p := *b.st.Policy()
		p.Assets = Assets{AssetHours: {Scale: 3}, AssetPoints: {Scale: 0}}
		return &PolicyBody{Policy: p}
	}, CodeInvalidPolicy},
	{"policy bad timezone", nil, admin, func(b *book) Body {
		p := *b.st.Policy()
		p.Timezone = "Mars/Base"
		return &PolicyBody{Policy: p}
	}, CodeInvalidPolicy},
	{"policy by station", nil, s1, func(b *book) Body { return &PolicyBody{Policy: *b.st.Policy()} }, CodeForbidden},
}

func TestRules(t *testing.T) {
	seen := map[Code]bool{}
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			b := standard(t)
			if tc.setup != nil {
				tc.setup(b)
			}
			before := b.seq
			_, err := b.try(tc.by, tc.body(b))
			got := Code("")
			if err != nil {
				got = CodeOf(err)
				if _, ok := err.(*Error); !ok {
					t.Fatalf("non-coded error: %v", err)
				}
			}
			if got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
			if err != nil && b.seq != before {
				t.Fatalf("a rejected request appended entry %d", b.seq)
			}
			seen[got] = true
		})
	}
	// Every 4xx rule code the engine can give must have a row.
	for _, c := range []Code{CodeInvalidAccount, CodeAccountExists, CodeForbidden, CodeUnknownAccount, CodeAccountFrozen,
		CodeInvalidField, CodeEntryCapExceeded, CodeDurationExceeded, CodeFutureTime, CodeBackdateWindowExceeded,
		CodeDailyCapExceeded, CodeOverlappingSession, CodeBalanceCapExceeded, CodeInvalidAmount, CodeInvalidTime,
		CodeInsufficientBalance, CodeInvalidPayee, CodeNotFound, CodeHoldNotOpen, CodeHoldExpired, CodeSettleExceedsHold,
		CodeTransferNotAllowed, CodeConversionDisabled, CodeInexactConversion, CodeNotReversible, CodeAlreadyReversed,
		CodeReversalWindowPassed, CodeInvalidPolicy} {
		if !seen[c] {
			t.Errorf("no rule case answers %s", c)
		}
	}
}
