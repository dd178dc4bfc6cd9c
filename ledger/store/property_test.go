package store

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/timebank/timebank/ledger"
)

// tb is what the comparison helpers need of a test: testing.TB and *rapid.T both have it.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

var propResidents = []ledger.AccountID{"resident:r0", "resident:r1", "resident:r2", "resident:r3"}

// propOp is one request of a random workload. For a settle, void or reversal, ref (when
// not −1) is an earlier request whose entry it names, once that request has been answered.
type propOp struct {
	p    ledger.Principal
	key  string
	body ledger.Body
	ref  int
}

// drawOp draws a request of any kind, valid or not: unknown and frozen accounts, amounts
// beyond the funds, caps, overlapping sessions, holds and entries that do not exist,
// reused Idempotency-Keys with the same or another body.
func drawOp(t *rapid.T, i int, done []propOp) propOp {
	res := rapid.SampledFrom(propResidents)
	who := res.Draw(t, "resident")
	as := ledger.Principal{Role: ledger.RoleResident, Account: who}
	hours := rapid.SampledFrom([]string{"0.25", "1", "2.5", "13", "0.001"}).Draw(t, "hours")
	points := rapid.SampledFrom([]string{"1", "5", "30", "1000"}).Draw(t, "points")
	seq := uint64(rapid.IntRange(1, 80).Draw(t, "seq"))
	// ref: an earlier hold (for a settle or void) or payment (for a reversal), if any.
	ref := func(holds bool) int {
		var cands []int
		for j, o := range done {
			switch o.body.(type) {
			case *ledger.HoldBody:
				if holds {
					cands = append(cands, j)
				}
			case *ledger.CreditBody, *ledger.RedemptionBody, *ledger.TransferBody, *ledger.DonationBody, *ledger.ConversionBody:
				if !holds {
					cands = append(cands, j)
				}
			}
		}
		if len(cands) == 0 || !rapid.Bool().Draw(t, "names an earlier entry") {
			return -1
		}
		return rapid.SampledFrom(cands).Draw(t, "ref")
	}
	key := fmt.Sprintf("op%d", i)
	switch rapid.IntRange(0, 15).Draw(t, "kind") {
	case 0:
		return propOp{admin, key, &ledger.OpenBody{ID: who}, -1}
	case 1, 2:
		start := -time.Duration(rapid.IntRange(1, 96).Draw(t, "start")) * time.Hour
		end := start + time.Duration(rapid.IntRange(1, 4).Draw(t, "halfhours"))*30*time.Minute
		return propOp{s1, key, credit(who, hours, start, end), -1}
	case 3:
		return propOp{as, key, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: ledger.AssetPoints, Amount: points}, -1}
	case 4:
		return propOp{as, key, &ledger.TransferBody{To: res.Draw(t, "to"), Asset: ledger.AssetHours, Amount: hours}, -1}
	case 5:
		return propOp{admin, key, &ledger.LinkBody{A: who, B: res.Draw(t, "other"), Relation: "sibling"}, -1}
	case 6:
		return propOp{as, key, &ledger.DonationBody{Pool: "pool:public", Asset: ledger.AssetHours, Amount: hours}, -1}
	case 7:
		return propOp{as, key, &ledger.HoldBody{Payee: "outlet:o1", Asset: ledger.AssetPoints, Amount: points}, -1}
	case 8:
		return propOp{o1, key, &ledger.SettleBody{HoldID: seq, Amount: points}, ref(true)}
	case 9:
		return propOp{as, key, &ledger.VoidBody{HoldID: seq}, ref(true)}
	case 10:
		return propOp{admin, key, &ledger.ReversalBody{Seq: seq, Reason: "property test"}, ref(false)}
	case 11:
		return propOp{as, key, &ledger.ConversionBody{Hours: hours}, -1}
	case 12:
		return propOp{admin, key, &ledger.FreezeBody{Account: who, Reason: "property test", Unfreeze: rapid.Bool().Draw(t, "unfreeze")}, -1}
	case 13:
		return propOp{admin, key, &ledger.GrantBody{Pool: "pool:public", To: who, Asset: ledger.AssetHours, Amount: hours, Memo: "property test"}, -1}
	case 14:
		// A policy the next requests meet (policyVariant).
		return propOp{admin, key, &ledger.PolicyBody{Policy: *policyVariant(rapid.IntRange(0, 3).Draw(t, "policy"))}, -1}
	default:
		if len(done) == 0 {
			return propOp{admin, key, &ledger.OpenBody{ID: who}, -1}
		}
		again := done[rapid.IntRange(0, len(done)-1).Draw(t, "again")]
		if rapid.Bool().Draw(t, "same body") {
			return again // a retry: the original entry, or request_in_progress beside it
		}
		return propOp{again.p, again.key, &ledger.OpenBody{ID: who}, -1} // idempotency_key_reused
	}
}

// naming returns a copy of a settle, void or reversal body that names entry seq.
func naming(b ledger.Body, seq uint64) ledger.Body {
	switch b := b.(type) {
	case *ledger.SettleBody:
		c := *b
		c.HoldID = seq
		return &c
	case *ledger.VoidBody:
		c := *b
		c.HoldID = seq
		return &c
	case *ledger.ReversalBody:
		c := *b
		c.Seq = seq
		return &c
	}
	return b
}

// TestPropertyStoreEqualsReplay sends random requests through the real store, a random
// number at a time from as many goroutines, so that batches mix accepted, rejected and
// replayed requests and requests that fail against what an earlier one in the same batch
// wrote. Then: no request failed but with a coded error; every acknowledged entry is stored
// byte for byte at its seq; each asset sums to zero and no account but an issuer is below
// zero; and every stored account, hold, session, link, reversal, statement line and
// idempotency record equals a replay of the stored log (compareWithReplay).
func TestPropertyStoreEqualsReplay(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir := filepath.Join(t.TempDir(), "data")
		l, err := Open(dir, Options{Now: fixedNow})
		if err != nil {
			rt.Fatal(err)
		}
		defer l.Close()
		for _, id := range []ledger.AccountID{"station:s1", "outlet:o1", "pool:public", "resident:r0", "resident:r1"} {
			if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: admin, IdempotencyKey: "setup-" + string(id), Body: &ledger.OpenBody{ID: id}}); err != nil {
				rt.Fatal(err)
			}
		}
		if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: s1, IdempotencyKey: "setup-credit", Body: credit("resident:r0", "10", -200*time.Hour, -190*time.Hour)}); err != nil {
			rt.Fatal(err)
		}
		// The pool holds some hours, so that grants are not all refused.
		r0 := ledger.Principal{Role: ledger.RoleResident, Account: "resident:r0"}
		if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: r0, IdempotencyKey: "setup-donation", Body: &ledger.DonationBody{Pool: "pool:public", Asset: ledger.AssetHours, Amount: "4"}}); err != nil {
			rt.Fatal(err)
		}

		n := rapid.IntRange(1, 60).Draw(rt, "requests")
		var ops []propOp
		for i := 0; i < n; i++ {
			ops = append(ops, drawOp(rt, i, ops))
		}
		type outcome struct {
			e        *ledger.Entry
			replayed bool
			err      error
		}
		got := make([]outcome, len(ops))
		for at := 0; at < len(ops); {
			size := min(rapid.IntRange(1, 12).Draw(rt, "together"), len(ops)-at)
			for i := at; i < at+size; i++ {
				if r := ops[i].ref; r >= 0 && r < at && got[r].e != nil {
					ops[i].body = naming(ops[i].body, got[r].e.Seq)
				}
			}
			var wg sync.WaitGroup
			for i := at; i < at+size; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					o := ops[i]
					e, replayed, err := l.Submit(context.Background(), ledger.Request{Principal: o.p, IdempotencyKey: o.key, Body: o.body})
					got[i] = outcome{e, replayed, err}
				}()
			}
			wg.Wait()
			at += size
		}
		for i, g := range got {
			if g.err != nil && (ledger.CodeOf(g.err) == ledger.CodeInternal || ledger.CodeOf(g.err) == "") {
				rt.Fatalf("request %d (%T): %v", i, ops[i].body, g.err)
			}
			if g.err == nil && g.e == nil {
				rt.Fatalf("request %d (%T) was acknowledged without an entry", i, ops[i].body)
			}
		}
		// Idempotency, per (actor, key): at most one request appends; a retry with the same
		// body gets that entry back; another body gets idempotency_key_reused.
		first := map[string]int{}
		for i, g := range got {
			if g.err == nil && !g.replayed {
				k := ops[i].p.Actor() + "\x00" + ops[i].key
				if j, dup := first[k]; dup {
					rt.Fatalf("requests %d and %d with one key both appended (entries %d and %d)", j, i, got[j].e.Seq, g.e.Seq)
				}
				first[k] = i
			}
		}
		for i, g := range got {
			j, ok := first[ops[i].p.Actor()+"\x00"+ops[i].key]
			switch {
			case g.err == nil && g.replayed && (!ok || got[j].e.Seq != g.e.Seq || !reflect.DeepEqual(ops[j].body, ops[i].body)):
				rt.Fatalf("request %d was answered as a replay of entry %d, not of its key's first request", i, g.e.Seq)
			case ledger.CodeOf(g.err) == ledger.CodeIdempotencyKeyReused && (!ok || reflect.DeepEqual(ops[j].body, ops[i].body)):
				rt.Fatalf("request %d: idempotency_key_reused, but its key appended no other body", i)
			}
		}
		if err := l.Close(); err != nil {
			rt.Fatal(err)
		}

		ro, err := Open(dir, Options{ReadOnly: true})
		if err != nil {
			rt.Fatal(err)
		}
		defer ro.Close()
		stored := allEntries(rt, ro)
		for i, g := range got {
			if g.err != nil {
				continue
			}
			want, err := ledger.EncodeEntry(g.e, ro.Assets())
			if err != nil || g.e.Seq == 0 || g.e.Seq > uint64(len(stored)) || string(stored[g.e.Seq-1]) != string(want) {
				rt.Fatalf("request %d: acknowledged entry %d is not stored as it was answered (%v)", i, g.e.Seq, err)
			}
		}
		sums := map[string]int64{}
		ro.ForEachAccount(func(a *ledger.Account) error {
			for asset, b := range a.Balances {
				sums[asset] += b.Balance
				if b.Balance < 0 && a.Kind != ledger.KindIssuer {
					rt.Fatalf("%s holds %d %s", a.ID, b.Balance, asset)
				}
			}
			return nil
		})
		for asset, s := range sums {
			if s != 0 {
				rt.Fatalf("%s sums to %d", asset, s)
			}
		}
		compareWithReplay(rt, ro)
	})
}
