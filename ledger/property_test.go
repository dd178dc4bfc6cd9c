package ledger

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var residents = []AccountID{"resident:alice", "resident:bob", "resident:carol"}

func drawResident(t *rapid.T, label string) Principal {
	return Principal{Role: RoleResident, Account: rapid.SampledFrom(residents).Draw(t, label)}
}

func drawAmount(t *rapid.T, label string, scale int) string {
	v := rapid.Int64Range(1, 20*pow10(scale)).Draw(t, label)
	return FormatAmount(v, scale)
}

// step draws one random request; most are plausible, many are rejected, all must keep the
// invariants.
func step(t *rapid.T, b *book) {
	asset := rapid.SampledFrom([]string{AssetHours, AssetPoints}).Draw(t, "asset")
	scale := DefaultPolicy().Assets[asset].Scale
	switch rapid.IntRange(0, 11).Draw(t, "kind") {
	case 0, 1, 2:
		start := -time.Duration(rapid.IntRange(1, 24*40).Draw(t, "start_h")) * time.Hour
		dur := time.Duration(rapid.IntRange(1, 14*60).Draw(t, "dur_min")) * time.Minute
		hours := FormatAmount(rapid.Int64Range(1, int64(dur/time.Minute)*100/60+1).Draw(t, "hours"), 2)
		st := rapid.SampledFrom([]Principal{s1, s2}).Draw(t, "station")
		b.try(st, credit(rapid.SampledFrom(residents).Draw(t, "vol"), hours, start, start+dur))
	case 3:
		b.try(drawResident(t, "by"), &RedemptionBody{Payee: "outlet:o1", Asset: asset, Amount: drawAmount(t, "amt", scale)})
	case 4:
		b.try(drawResident(t, "by"), &HoldBody{Payee: "outlet:o1", Asset: asset, Amount: drawAmount(t, "amt", scale),
			TTLSeconds: rapid.Int64Range(0, 600).Draw(t, "ttl")})
	case 5:
		holds := b.st.Holds()
		if len(holds) == 0 {
			return
		}
		h := rapid.SampledFrom(holds).Draw(t, "hold")
		id := h.ID
		if rapid.Bool().Draw(t, "settle") {
			amt := FormatAmount(rapid.Int64Range(1, h.Amount+1).Draw(t, "amt"), DefaultPolicy().Assets[h.Asset].Scale)
			b.try(o1, &SettleBody{HoldID: id, Amount: amt})
		} else {
			b.try(drawResident(t, "by"), &VoidBody{HoldID: id})
		}
	case 6:
		b.try(drawResident(t, "by"), &TransferBody{To: rapid.SampledFrom(residents).Draw(t, "to"), Asset: asset, Amount: drawAmount(t, "amt", scale)})
	case 7:
		b.try(drawResident(t, "by"), &DonationBody{Pool: "pool:public", Asset: asset, Amount: drawAmount(t, "amt", scale)})
	case 8:
		b.try(admin, &GrantBody{Pool: "pool:public", To: rapid.SampledFrom(residents).Draw(t, "to"), Asset: asset, Amount: drawAmount(t, "amt", scale), Memo: "test"})
	case 9:
		b.try(drawResident(t, "by"), &ConversionBody{Hours: drawAmount(t, "amt", 2)})
	case 10:
		by := rapid.SampledFrom([]Principal{admin, s1, s2}).Draw(t, "by")
		b.try(by, &ReversalBody{Seq: rapid.Uint64Range(1, b.seq).Draw(t, "seq"), Reason: "test"})
	case 11:
		id := rapid.SampledFrom(residents).Draw(t, "acct")
		b.try(admin, &FreezeBody{Account: id, Reason: "test", Unfreeze: rapid.Bool().Draw(t, "unfreeze")})
	}
	b.now += rapid.Int64Range(0, 120_000_000).Draw(t, "advance_us")
}

func checkInvariants(t *rapid.T, b *book) {
	sums := map[string]int64{}
	for _, a := range b.st.Accounts() {
		for asset, bal := range a.Balances {
			sums[asset] += bal.Balance
			if a.Kind == KindIssuer {
				continue
			}
			if bal.Balance < 0 || a.Available(asset, b.now) < 0 || bal.Earned < 0 {
				t.Fatalf("%s %s: balance %d available %d earned %d", a.ID, asset, bal.Balance, a.Available(asset, b.now), bal.Earned)
			}
		}
	}
	for asset, s := range sums {
		if s != 0 {
			t.Fatalf("%s sums to %d", asset, s)
		}
	}
}

func TestPropertyInvariantsAndReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := standard(t)
		b.must(admin, &LinkBody{A: "resident:alice", B: "resident:bob", Relation: "child"})
		n := rapid.IntRange(1, 80).Draw(t, "steps")
		for i := 0; i < n; i++ {
			step(t, b)
			checkInvariants(t, b)
		}
		st, err := replayLines(exportOf(t, b))
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if !statesEqual(st, b.st) {
			t.Fatal(fmt.Sprintf("replayed state differs after %d entries", b.seq))
		}
	})
}
