package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/timebank/timebank/ledger"
)

// The workload of TestCrashChild: each goroutine (a crashWorker) owns two residents, a
// volunteer and a relative linked to it, and sends a seeded mix of every kind of write the
// ledger has, valid or not (SPEC §3): credits at a station, redemptions, holds settled,
// voided or left to expire, family transfers, donations, grants, conversions, reversals,
// freezes, links, accounts and policies, and retries with the same key. Nearly half of the
// requests are refused by the rules. Each answer is printed as one line:
//
//	ack <seq> <sha256>            a new entry (its canonical bytes' hash)
//	replay <seq> <sha256>         a retry answered with the entry its key made before
//	nak <code> <actor> <key>      a refusal by the rules, which must have left no trace
//	error <message>               anything else: TestCrash fails
//
// A worker's choices depend on its seed and on the answers it got, not on the clock; the
// answers can depend on what the other workers did before (the order of a batch), so a
// seed replays a cycle's requests closely, not exactly.

// crashSlot is the length of a credited session slot: 120 a day, each credited 0.1 h, fill
// exactly the daily cap (a long shift, credit's case 5, makes a day's last slots exceed it).
const crashSlot = 12 * time.Minute

// crashReason is the reason of every freeze and reversal.
const crashReason = "crash test"

var crashRelations = []string{"spouse", "parent", "child", "sibling", "grandparent", "grandchild", "other"}

// crashWorker is one goroutine of the workload, with what it learnt from its answers.
type crashWorker struct {
	l        *Ledger
	rng      *rand.Rand
	say      func(format string, args ...any) // prints one whole line
	cycle, g int
	base     time.Time // the first credit slot, 29 days ago
	n        int       // requests made: the number of the next key
	vol, kin ledger.AccountID
	slot     int  // the next credit slot no earlier credit of vol or kin took
	frozen   bool // kin is frozen, as far as this worker knows

	// What this worker was acknowledged, by what a later request may name.
	holds   []uint64         // holds (payee outlet:o1)
	credits []uint64         // credits by station:s1
	paid    []uint64         // entries of the other reversible types
	other   []uint64         // entries that cannot be reversed (reversals too)
	sent    []ledger.Request // every acknowledged request, for retries
}

func newCrashWorker(l *Ledger, say func(string, ...any), cycle, g int, base time.Time, seed uint64) *crashWorker {
	return &crashWorker{l: l, rng: rand.New(rand.NewPCG(seed, uint64(g))), say: say, cycle: cycle, g: g, base: base,
		vol: crashResident(cycle, g, ""), kin: crashResident(cycle, g, "k")}
}

func crashResident(cycle, g int, suffix string) ledger.AccountID {
	return ledger.AccountID(fmt.Sprintf("resident:c%d-%d%s", cycle, g, suffix))
}

// crashKey is the Idempotency-Key of request n of worker g in cycle.
func crashKey(cycle, g, n int) string { return fmt.Sprintf("c%d-%d-%d", cycle, g, n) }

// crashSetup is worker g's first three requests in cycle: open its two residents and link them.
func crashSetup(cycle, g int) []ledger.Request {
	vol, kin := crashResident(cycle, g, ""), crashResident(cycle, g, "k")
	bodies := []ledger.Body{&ledger.OpenBody{ID: vol}, &ledger.OpenBody{ID: kin},
		&ledger.LinkBody{A: vol, B: kin, Relation: crashRelations[g%len(crashRelations)]}}
	reqs := make([]ledger.Request, len(bodies))
	for i, b := range bodies {
		reqs[i] = ledger.Request{Principal: admin, IdempotencyKey: crashKey(cycle, g, i), Body: b}
	}
	return reqs
}

// run sends requests until limit have been made or an answer is not one the rules give.
// First it retries the previous cycle's setup, as a client does whose requests were in
// flight when the server died: each is answered with the entry it made then, or, if it never
// committed, makes it now.
func (w *crashWorker) run(limit int) {
	if w.cycle > 0 {
		for _, r := range crashSetup(w.cycle-1, w.g) {
			if !w.do(r) {
				return
			}
		}
	}
	for _, r := range crashSetup(w.cycle, w.g) {
		w.n++
		if !w.do(r) {
			return
		}
	}
	for w.n < limit {
		if !w.do(w.next()) {
			return
		}
	}
}

// do submits r and prints the answer; it reports false on an answer that is not an entry
// or a refusal by the rules.
func (w *crashWorker) do(r ledger.Request) bool {
	e, replayed, err := w.l.Submit(context.Background(), r)
	if err != nil {
		switch code := ledger.CodeOf(err); code {
		case "", ledger.CodeInternal, ledger.CodeUnavailable, ledger.CodeRequestInProgress:
			w.say("error %s (%s %s %T): %q", code, r.Principal.Actor(), r.IdempotencyKey, r.Body, err.Error())
			return false
		default:
			w.say("nak %s %s %s", code, r.Principal.Actor(), r.IdempotencyKey)
			return true
		}
	}
	b, err := ledger.EncodeEntry(e, w.l.Assets())
	if err != nil {
		w.say("error encoding entry %d: %q", e.Seq, err.Error())
		return false
	}
	if replayed {
		w.say("replay %d %x", e.Seq, sha256.Sum256(b))
		return true
	}
	w.say("ack %d %x", e.Seq, sha256.Sum256(b))
	w.remember(r, e)
	return true
}

// remember files an acknowledged entry under what later requests may name it for.
func (w *crashWorker) remember(r ledger.Request, e *ledger.Entry) {
	w.sent = append(w.sent, r)
	switch e.Type {
	case ledger.TypeHold:
		w.holds = append(w.holds, e.Seq)
	case ledger.TypeCredit:
		w.credits = append(w.credits, e.Seq)
	case ledger.TypeRedemption, ledger.TypeSettle, ledger.TypeTransfer, ledger.TypeDonation,
		ledger.TypeGrant, ledger.TypeConversion:
		w.paid = append(w.paid, e.Seq)
	default:
		w.other = append(w.other, e.Seq)
	}
	if b, ok := e.Body.(*ledger.FreezeBody); ok && b.Account == w.kin {
		w.frozen = !b.Unfreeze
	}
}

// crashMix is the workload's mix: each kind of request with its weight.
var crashMix = []struct {
	weight int
	make   func(*crashWorker) (ledger.Principal, ledger.Body)
}{
	{30, (*crashWorker).credit},
	{6, (*crashWorker).redemption},
	{6, (*crashWorker).hold},
	{5, (*crashWorker).settle},
	{3, (*crashWorker).void},
	{6, (*crashWorker).transfer},
	{4, (*crashWorker).donation},
	{3, (*crashWorker).grant},
	{4, (*crashWorker).conversion},
	{6, (*crashWorker).reversal},
	{2, (*crashWorker).freeze},
	{2, (*crashWorker).link},
	{2, (*crashWorker).open},
	{1, (*crashWorker).policy},
}

// next makes the worker's next request: one of crashMix, or one in twenty a retry of an
// acknowledged request. A frozen relative is unfrozen after a few requests, not after
// forty: it makes the relative's requests refused while it lasts.
func (w *crashWorker) next() ledger.Request {
	if len(w.sent) > 0 && w.rng.IntN(20) == 0 {
		return w.retry()
	}
	if w.frozen && w.rng.IntN(4) == 0 {
		return w.req(w.freeze())
	}
	total := 0
	for _, m := range crashMix {
		total += m.weight
	}
	pick := w.rng.IntN(total)
	for _, m := range crashMix {
		if pick -= m.weight; pick < 0 {
			p, b := m.make(w)
			return w.req(p, b)
		}
	}
	panic("unreachable")
}

func (w *crashWorker) req(p ledger.Principal, b ledger.Body) ledger.Request {
	w.n++
	return ledger.Request{Principal: p, IdempotencyKey: crashKey(w.cycle, w.g, w.n-1), Body: b}
}

// retry resends an acknowledged request: mostly as it was (the entry again), else with
// another body under its key (idempotency_key_reused).
func (w *crashWorker) retry() ledger.Request {
	r := crashPick(w.rng, w.sent)
	if w.rng.IntN(4) == 0 {
		r.Body = &ledger.VoidBody{HoldID: 1}
	}
	return r
}

func crashPick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (w *crashWorker) resident(p ledger.AccountID) ledger.Principal {
	return ledger.Principal{Role: ledger.RoleResident, Account: p}
}

// payer is the resident paying: mostly the volunteer, who earns.
func (w *crashWorker) payer() ledger.AccountID {
	if w.rng.IntN(4) == 0 {
		return w.kin
	}
	return w.vol
}

// stranger is another worker's volunteer in this cycle, opened or not yet.
func (w *crashWorker) stranger() ledger.AccountID {
	return crashResident(w.cycle, (w.g+1+w.rng.IntN(crashWorkers-1))%crashWorkers, "")
}

// amount is a small amount of asset mostly, else one beyond any balance here.
func (w *crashWorker) amount(asset string) string {
	small := map[string][]string{ledger.AssetHours: {"0.05", "0.1", "0.3"}, ledger.AssetPoints: {"1", "2", "3"}}[asset]
	if w.rng.IntN(6) == 0 {
		return "900"
	}
	return crashPick(w.rng, small)
}

func (w *crashWorker) asset() string {
	return crashPick(w.rng, []string{ledger.AssetHours, ledger.AssetPoints})
}

// credit credits the volunteer (or the relative) for the next free slots, 0.1 h a slot;
// one in four is a credit the rules refuse, or a long shift that makes the day's last
// credits exceed the daily cap.
func (w *crashWorker) credit() (ledger.Principal, ledger.Body) {
	vol := w.vol
	if w.rng.IntN(8) == 0 {
		vol = w.kin // account_frozen while frozen
	}
	slots := 1 + w.rng.IntN(3)
	start, hours := w.base.Add(time.Duration(w.slot)*crashSlot), "0."+strconv.Itoa(slots)
	switch w.rng.IntN(16) {
	case 0:
		return w.session(vol, "13", start, 65) // entry_cap_exceeded
	case 1:
		return w.session(vol, "0.5", start, 1) // duration_exceeded
	case 2:
		return w.session(vol, hours, crashNow().Add(time.Hour), slots) // future_time
	case 3:
		return w.session(vol, hours, crashNow().Add(-31*24*time.Hour), slots) // backdate_window_exceeded
	case 4:
		if w.slot > 0 { // overlapping_session (daily_cap_exceeded on a full day)
			return w.session(vol, hours, start.Add(-crashSlot), slots)
		}
	case 5:
		slots, hours = 30, "6" // a long shift: the local day's last slots meet the daily cap
	}
	w.slot += slots
	return w.session(vol, hours, start, slots)
}

// crashNow is the clock, to the second: the ledger takes times to the microsecond only.
func crashNow() time.Time { return time.Now().Truncate(time.Second) }

// session is a credit at station:s1 for the session of slots from start; one in ten is
// sent by an admin naming the station.
func (w *crashWorker) session(vol ledger.AccountID, hours string, start time.Time, slots int) (ledger.Principal, ledger.Body) {
	end := start.Add(time.Duration(slots) * crashSlot)
	body := &ledger.CreditBody{Volunteer: vol, Hours: hours, Activity: ledger.Activity{
		ID: "a" + strconv.Itoa(w.n), Category: crashPick(w.rng, []string{"cleaning", "elderly-care"}),
		StartedAt: start.UTC().Format(time.RFC3339Nano), EndedAt: end.UTC().Format(time.RFC3339Nano)}}
	if w.rng.IntN(10) == 0 {
		body.Station = "station:s1"
		return admin, body
	}
	return s1, body
}

func (w *crashWorker) redemption() (ledger.Principal, ledger.Body) {
	asset := w.asset()
	payee := crashPick(w.rng, []ledger.AccountID{"outlet:o1", "outlet:o1", "station:s1", "pool:public"}) // a pool: invalid_payee
	return w.resident(w.payer()), &ledger.RedemptionBody{Payee: payee, Asset: asset, Amount: w.amount(asset)}
}

// hold reserves for outlet:o1; one in five expires within a second.
func (w *crashWorker) hold() (ledger.Principal, ledger.Body) {
	asset := w.asset()
	ttl := crashPick(w.rng, []int64{0, 0, 0, 60, 1})
	return w.resident(w.payer()), &ledger.HoldBody{Payee: "outlet:o1", Asset: asset, Amount: w.amount(asset), TTLSeconds: ttl}
}

// holdID is one of the worker's holds (settled, voided, expired or open), else any seq of
// the log: a hold of another worker, or of an earlier cycle (expired if its ttl was 1 s),
// or not a hold at all.
func (w *crashWorker) holdID() uint64 {
	if len(w.holds) == 0 || w.rng.IntN(5) == 0 {
		return 1 + uint64(w.rng.IntN(int(w.l.TreeSize())))
	}
	return crashPick(w.rng, w.holds)
}

// settle settles a hold as outlet:o1, for at most what it reserves mostly.
func (w *crashWorker) settle() (ledger.Principal, ledger.Body) {
	return o1, &ledger.SettleBody{HoldID: w.holdID(), Amount: crashPick(w.rng, []string{"1", "1", "0.05", "1000"})}
}

// void releases a hold, as its resident, its payee or an admin.
func (w *crashWorker) void() (ledger.Principal, ledger.Body) {
	by := crashPick(w.rng, []ledger.Principal{w.resident(w.vol), w.resident(w.kin), o1, admin})
	return by, &ledger.VoidBody{HoldID: w.holdID()}
}

// transfer sends to the other of the two residents (family), or to a stranger.
func (w *crashWorker) transfer() (ledger.Principal, ledger.Body) {
	from, to := w.vol, w.kin
	if w.rng.IntN(3) == 0 {
		from, to = w.kin, w.vol
	}
	if w.rng.IntN(5) == 0 {
		to = w.stranger() // transfer_not_allowed, unless linked by link
	}
	asset := w.asset() // POINTS: transfer_not_allowed, unless a policy allows them
	return w.resident(from), &ledger.TransferBody{To: to, Asset: asset, Amount: w.amount(asset)}
}

func (w *crashWorker) donation() (ledger.Principal, ledger.Body) {
	asset := w.asset()
	return w.resident(w.payer()), &ledger.DonationBody{Pool: "pool:public", Asset: asset, Amount: w.amount(asset)}
}

// grant pays from the public pool, which the donations of all workers fill.
func (w *crashWorker) grant() (ledger.Principal, ledger.Body) {
	asset := w.asset()
	return admin, &ledger.GrantBody{Pool: "pool:public", To: w.payer(), Asset: asset, Amount: w.amount(asset), Memo: "crash test"}
}

// conversion converts hours to points: 0.15 h makes 1.5 points (inexact_conversion).
func (w *crashWorker) conversion() (ledger.Principal, ledger.Body) {
	hours := crashPick(w.rng, []string{"0.1", "0.2", "0.15", "900"})
	return w.resident(w.payer()), &ledger.ConversionBody{Hours: hours}
}

// reversal reverses an entry of the worker's: a payment or a credit (again: already_reversed),
// an entry that cannot be reversed (a reversal too: not_reversible), a credit by its own
// station, or any entry of the log, another worker's maybe.
func (w *crashWorker) reversal() (ledger.Principal, ledger.Body) {
	by, seq := admin, uint64(0)
	switch r := w.rng.IntN(10); {
	case r < 4 && len(w.paid) > 0:
		seq = crashPick(w.rng, w.paid)
	case r < 6 && len(w.credits) > 0:
		seq = crashPick(w.rng, w.credits)
	case r < 7 && len(w.credits) > 0:
		by, seq = s1, crashPick(w.rng, w.credits)
	case r < 9 && len(w.other) > 0:
		seq = crashPick(w.rng, w.other)
	default:
		seq = 1 + uint64(w.rng.IntN(int(w.l.TreeSize())+50)) // not_found beyond the log
	}
	return by, &ledger.ReversalBody{Seq: seq, Reason: crashReason}
}

// freeze freezes the relative, or unfreezes it; now and then an account that does not exist.
func (w *crashWorker) freeze() (ledger.Principal, ledger.Body) {
	id := w.kin
	if w.rng.IntN(8) == 0 {
		id = crashResident(w.cycle, w.g, "nobody") // unknown_account
	}
	return admin, &ledger.FreezeBody{Account: id, Reason: crashReason, Unfreeze: w.frozen}
}

// link links the volunteer to a stranger (who may not be open yet: unknown_account), or to
// itself (invalid_field).
func (w *crashWorker) link() (ledger.Principal, ledger.Body) {
	b := w.stranger()
	if w.rng.IntN(6) == 0 {
		b = w.vol
	}
	return admin, &ledger.LinkBody{A: w.vol, B: b, Relation: crashPick(w.rng, crashRelations)}
}

// open opens a resident at the station; or, refused, the volunteer again (account_exists),
// an outlet by the station (forbidden), a mobile number (invalid_account).
func (w *crashWorker) open() (ledger.Principal, ledger.Body) {
	switch w.rng.IntN(5) {
	case 0:
		return admin, &ledger.OpenBody{ID: w.vol}
	case 1:
		return s1, &ledger.OpenBody{ID: "outlet:o2"}
	case 2:
		return admin, &ledger.OpenBody{ID: "resident:13812345678"}
	}
	return s1, &ledger.OpenBody{ID: crashResident(w.cycle, w.g, "n"+strconv.Itoa(w.n))}
}

// policy puts one of a few policies (policyVariant), which every worker's later requests
// then meet.
func (w *crashWorker) policy() (ledger.Principal, ledger.Body) {
	return admin, &ledger.PolicyBody{Policy: *policyVariant(w.rng.IntN(5))}
}

// policyVariant returns policy n of: conversions disabled (0) or at another rate (1), POINTS
// transferable to anyone (2), an asset's scale changed (3, refused invalid_policy), or the
// default (any other n).
func policyVariant(n int) *ledger.Policy {
	p := ledger.DefaultPolicy()
	switch n {
	case 0:
		p.Convert.PointsPerHour = "0" // conversion_disabled
	case 1:
		p.Convert.PointsPerHour = "5"
	case 2:
		p.Transfer[ledger.AssetPoints] = ledger.TransferAny
	case 3:
		p.Assets[ledger.AssetHours] = ledger.AssetSpec{Scale: 3}
	}
	return p
}
