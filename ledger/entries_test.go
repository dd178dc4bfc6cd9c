package ledger

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func postingsOf(e *Entry) []Posting { return e.Postings }

func TestCreditPostsHoursAndPoints(t *testing.T) {
	b := standard(t)
	e := b.must(s1, credit("resident:bob", "2.5", -3*time.Hour, -30*time.Minute))
	want := []Posting{{"issuer:HOURS", "resident:bob", AssetHours, 250}, {"issuer:POINTS", "resident:bob", AssetPoints, 25}}
	if !reflect.DeepEqual(postingsOf(e), want) {
		t.Fatalf("postings %+v", e.Postings)
	}
	c := credit("resident:carol", "2.5", -3*time.Hour, -30*time.Minute)
	c.Activity.Category = "elderly-care"
	e = b.must(s1, c)
	if e.Postings[1].Amount != 37 { // floor(2.5 × 15)
		t.Fatalf("elderly-care points %d, want 37", e.Postings[1].Amount)
	}
	if got := e.Body.(*CreditBody); got.Station != "station:s1" || got.Hours != "2.50" || got.Activity.StartedAt != FormatTime(t0.Add(-3*time.Hour).UnixMicro()) {
		t.Fatalf("body not normalised: %+v", got)
	}
	if b.balance("issuer:HOURS", AssetHours) != -(1000 + 250 + 250) {
		t.Fatalf("issuer balance %d", b.balance("issuer:HOURS", AssetHours))
	}
}

func TestHoldSettleAndEarned(t *testing.T) {
	b := standard(t)
	h := holdFor(b, "8", 0)
	a, _ := b.st.Account("resident:alice")
	if a.Held(AssetHours, b.now) != 800 || a.Available(AssetHours, b.now) != 200 {
		t.Fatalf("held %d available %d", a.Held(AssetHours, b.now), a.Available(AssetHours, b.now))
	}
	b.must(o1, &SettleBody{HoldID: h, Amount: "5"})
	a, _ = b.st.Account("resident:alice")
	if a.Balances[AssetHours].Balance != 500 || a.Held(AssetHours, b.now) != 0 || len(a.Holds) != 0 {
		t.Fatalf("after settle: %+v", a)
	}
	if b.balance("outlet:o1", AssetHours) != 500 {
		t.Fatal("payee not paid")
	}
	hold, _ := b.st.Hold(h)
	if hold.StatusAt(b.now) != HoldSettled || hold.ClosedSeq != b.seq {
		t.Fatalf("hold %+v", hold)
	}
	if _, err := b.try(o1, &SettleBody{HoldID: h, Amount: "1"}); CodeOf(err) != CodeHoldNotOpen {
		t.Fatalf("second settle: %v", err)
	}
	// Earned counts credits only, net of their reversals.
	if a.Balances[AssetHours].Earned != 1000 {
		t.Fatalf("earned %d", a.Balances[AssetHours].Earned)
	}
	b.must(s1, credit("resident:bob", "1", -2*time.Hour, -1*time.Hour))
	bob, _ := b.st.Account("resident:bob")
	if bob.Balances[AssetHours].Earned != 100 {
		t.Fatal("bob earned")
	}
	b.must(admin, &ReversalBody{Seq: b.seq, Reason: "wrong volunteer"})
	bob, _ = b.st.Account("resident:bob")
	if bob.Balances[AssetHours].Earned != 0 || bob.Balances[AssetHours].Balance != 0 || bob.Balances[AssetPoints].Balance != 0 {
		t.Fatalf("after reversal: %+v", bob.Balances)
	}
}

func TestConversionPostings(t *testing.T) {
	b := standard(t)
	e := b.must(alice, &ConversionBody{Hours: "1.5"})
	want := []Posting{{"resident:alice", "issuer:HOURS", AssetHours, 150}, {"issuer:POINTS", "resident:alice", AssetPoints, 15}}
	if !reflect.DeepEqual(e.Postings, want) {
		t.Fatalf("postings %+v", e.Postings)
	}
}

func TestCanonicalEncoding(t *testing.T) {
	b := standard(t)
	e, _ := b.st.Entry(9)
	got, err := EncodeEntry(e, b.rp.St.Policy().Assets)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":9,"time":"2026-11-29T02:00:00.008000Z","type":"credit","actor":"station:s1","idempotency_key":"k8",` +
		`"body":{"station":"station:s1","volunteer":"resident:alice","hours":"10.00","activity":{"id":"act-1","category":"cleaning",` +
		`"started_at":"2026-11-28T06:00:00.000000Z","ended_at":"2026-11-28T16:00:00.000000Z"},"memo":""},` +
		`"postings":[{"from":"issuer:HOURS","to":"resident:alice","asset":"HOURS","amount":"10.00"},` +
		`{"from":"issuer:POINTS","to":"resident:alice","asset":"POINTS","amount":"100"}]}`
	if string(got) != want {
		t.Fatalf("canonical bytes:\n got %s\nwant %s", got, want)
	}
	if doc, err := os.ReadFile("../docs/FORMAT.md"); err != nil || !strings.Contains(string(doc), "```\n"+want+"\n```") {
		t.Errorf("docs/FORMAT.md's example credit is not this entry's canonical bytes (%v)", err)
	}
	back, err := DecodeEntry(got, DefaultPolicy().Assets)
	if err != nil || !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, back, e)
	}
	for _, bad := range [][]byte{
		bytes.Replace(got, []byte(`"amount":"10.00"`), []byte(`"amount":"10.0"`), 1), // posting not at scale
		bytes.Replace(got, []byte(`{"seq":9,`), []byte(`{"seq": 9,`), 1),             // whitespace
		bytes.Replace(got, []byte(`"memo":""`), []byte(`"memo":"","x":1`), 1),
		append(append([]byte{}, got...), ' '),
	} {
		if _, err := DecodeEntry(bad, DefaultPolicy().Assets); err == nil {
			t.Errorf("accepted non-canonical %s", bad)
		}
	}
}

// FuzzDecodeEntry: whatever decodes must re-encode to the same bytes (canonical), and the
// decoder never panics.
func FuzzDecodeEntry(f *testing.F) {
	b := standard(f)
	b.must(alice, &RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1", Memo: "soap <&> 肥皂"})
	holdFor(b, "1", 0)
	assets := DefaultPolicy().Assets
	for seq := uint64(1); seq <= b.seq; seq++ {
		e, _ := b.st.Entry(seq)
		raw, _ := EncodeEntry(e, assets)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := DecodeEntry(raw, assets)
		if err != nil {
			return
		}
		again, err := EncodeEntry(e, assets)
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("decoded but not canonical: %s", raw)
		}
	})
}

// TestParties: a credit's parties are its postings' accounts and the station, sorted, each
// once (the station is both the actor and named in the body); AppendParties keeps what dst
// held and sorts only what it adds.
func TestParties(t *testing.T) {
	b := standard(t)
	e := b.must(s1, credit("resident:bob", "2.5", -3*time.Hour, -30*time.Minute))
	want := []AccountID{"issuer:HOURS", "issuer:POINTS", "resident:bob", "station:s1"}
	got, err := Parties(b.st, e)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Parties = %v, %v; want %v", got, err, want)
	}
	prefix := []AccountID{"zz:kept", "aa:kept"}
	got, err = AppendParties(append(make([]AccountID, 0, 16), prefix...), b.st, e)
	if err != nil || !reflect.DeepEqual(got, append(prefix, want...)) {
		t.Fatalf("AppendParties = %v, %v; want %v then %v", got, err, prefix, want)
	}
	// An admin's reversal of the credit is the station's business too: the parties of the
	// entry it reverses are its parties (else the station's statement shows its credit but
	// never the reversal, and GET /v1/entries/{seq} hides the reversal from it).
	rev := b.must(admin, &ReversalBody{Seq: e.Seq, Reason: "entered twice"})
	got, err = Parties(b.st, rev)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Parties of the reversal = %v, %v; want %v", got, err, want)
	}
}

// TestPartiesOfHoldsAndLinks: a hold moves nothing, yet it is the business of its resident
// (the actor) and its payee (named in the body); a void by an admin is the business of the
// hold's resident and payee; a link is the business of both residents. Each must find the
// entry in its statement.
func TestPartiesOfHoldsAndLinks(t *testing.T) {
	b := standard(t)
	link := b.must(admin, &LinkBody{A: "resident:alice", B: "resident:bob", Relation: "spouse"})
	hold := b.must(alice, &HoldBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1"})
	void := b.must(admin, &VoidBody{HoldID: hold.Seq})
	for _, c := range []struct {
		e    *Entry
		want []AccountID
	}{
		{link, []AccountID{"resident:alice", "resident:bob"}},
		{hold, []AccountID{"outlet:o1", "resident:alice"}},
		{void, []AccountID{"outlet:o1", "resident:alice"}},
	} {
		got, err := Parties(b.st, c.e)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parties of %s entry %d = %v, %v; want %v", c.e.Type, c.e.Seq, got, err, c.want)
		}
	}
}

// TestFingerprintNamesTheType: a freeze and an unfreeze of one account for one reason have
// the same JSON body; only the type tells them apart, so an unfreeze sent with a freeze's
// key must not replay the freeze.
func TestFingerprintNamesTheType(t *testing.T) {
	freeze := Request{Principal: admin, IdempotencyKey: "k", Body: &FreezeBody{Account: "resident:bob", Reason: "x"}}
	unfreeze := Request{Principal: admin, IdempotencyKey: "k", Body: &FreezeBody{Account: "resident:bob", Reason: "x", Unfreeze: true}}
	if Fingerprint(freeze) == Fingerprint(unfreeze) {
		t.Fatal("a freeze and an unfreeze have the same fingerprint")
	}
}

// TestCreditWithoutPoints: a credit whose points floor to 0 has no POINTS posting (decision
// 0003), not a posting of 0, which SPEC §2 forbids (every posting moves a positive amount).
func TestCreditWithoutPoints(t *testing.T) {
	b := standard(t)
	e := b.must(s1, credit("resident:bob", "0.05", -2*time.Hour, -1*time.Hour)) // 0.5 points
	want := []Posting{{"issuer:HOURS", "resident:bob", AssetHours, 5}}
	if !reflect.DeepEqual(e.Postings, want) {
		t.Fatalf("postings %+v, want %+v", e.Postings, want)
	}
}

// TestDecideWantsAKey: the ledger itself refuses an entry without a valid Idempotency-Key
// (SPEC §3: every write that creates an entry needs one), so neither a Go caller nor a
// replayed log can make one.
func TestDecideWantsAKey(t *testing.T) {
	b := standard(t)
	for _, key := range []string{"", "a b\x00", strings.Repeat("k", 129)} {
		_, err := Decide(b.st, Request{Principal: admin, IdempotencyKey: key, Body: &OpenBody{ID: "resident:dave"}}, b.seq+1, b.now+1000)
		if CodeOf(err) != CodeMissingIdempotencyKey {
			t.Errorf("key %q: got %v, want missing_idempotency_key", key, err)
		}
	}
}
