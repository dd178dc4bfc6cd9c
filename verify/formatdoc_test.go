package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// docs/FORMAT.md promises an auditor can write a verifier from it alone. Its examples are
// bytes, so they are tested as bytes: a wrong example there misleads every such verifier.
// (Its example credit entry is checked by ledger's TestCanonicalEncoding.)

// formatDocBlocks returns the contents of docs/FORMAT.md's fenced blocks.
func formatDocBlocks(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(doc), "```")
	var blocks []string
	for i := 1; i < len(parts); i += 2 {
		blocks = append(blocks, strings.TrimPrefix(parts[i], "\n"))
	}
	return blocks
}

func findBlock(t *testing.T, blocks []string, prefix string) string {
	t.Helper()
	for _, b := range blocks {
		if strings.HasPrefix(b, prefix) {
			return b
		}
	}
	t.Fatalf("docs/FORMAT.md has no example block starting %q", prefix)
	return ""
}

func TestFormatDocExamples(t *testing.T) {
	blocks := formatDocBlocks(t)
	assets := ledger.DefaultPolicy().Assets

	t.Run("default genesis body", func(t *testing.T) {
		body := strings.TrimSuffix(findBlock(t, blocks, `{"timezone":"Asia/Shanghai",`), "\n")
		g := &ledger.Entry{Seq: 1, Type: ledger.TypeGenesis, Actor: "system", IdempotencyKey: "genesis",
			Body: &ledger.GenesisBody{Policy: *ledger.DefaultPolicy()}}
		raw, err := ledger.EncodeEntry(g, assets)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw, []byte(`"body":`+body+`,"postings":[]}`)) {
			t.Fatalf("the page's default genesis body is not what the ledger writes:\n page  %s\n entry %s", body, raw)
		}
	})

	t.Run("checkpoint verifies with the key", func(t *testing.T) {
		ckpt := findBlock(t, blocks, "timebank\n41\n")
		vkey := findBlock(t, blocks, "timebank+")
		c, err := OpenCheckpoint([]byte(ckpt), vkey)
		if err != nil {
			t.Fatalf("the page's checkpoint does not verify with the page's key: %v", err)
		}
		if c.Origin != "timebank" || c.Size != 41 ||
			base64.StdEncoding.EncodeToString(c.Root[:]) != "Ub46ZRc8yUj2AI/XpqBJGVuiaI/BAcoKwkzJlTaSg6I=" {
			t.Fatalf("checkpoint parsed as %+v", c)
		}
		// The key hash the page describes: the first 4 bytes of the signature are the key's.
		sig := strings.Fields(strings.Split(ckpt, "\n")[4])[2]
		raw, _ := base64.StdEncoding.DecodeString(sig)
		if len(raw) != 4+64 || !strings.Contains(vkey, "+"+hex.EncodeToString(raw[:4])+"+") {
			t.Fatalf("signature %q does not open with the key hash of %q", sig, vkey)
		}
	})
}

// TestFormatDocPolicyFigures checks the page's statement of the policy's string figures: SPEC
// §2's plain decimals, HOURS amounts > 0 for the hour caps, amounts ≥ 0 at the asset's scale
// for upper limits, rates ≥ 0 with at most 6 decimals, each written exactly as sent.
func TestFormatDocPolicyFigures(t *testing.T) {
	assets := ledger.DefaultPolicy().Assets
	set := map[string]func(p *ledger.Policy, v string){
		"max_hours_per_entry": func(p *ledger.Policy, v string) { p.Credit.MaxHoursPerEntry = v },
		"max_hours_per_day":   func(p *ledger.Policy, v string) { p.Credit.MaxHoursPerDay = v },
		"upper": func(p *ledger.Policy, v string) {
			p.Limits[ledger.KindResident]["HOURS"] = ledger.LimitPolicy{Upper: v}
		},
		"points_per_hour": func(p *ledger.Policy, v string) { p.Credit.PointsPerHour = v },
		"category points_per_hour": func(p *ledger.Policy, v string) {
			p.Credit.Categories["elderly-care"] = ledger.CategoryPolicy{PointsPerHour: v}
		},
		"convert.points_per_hour": func(p *ledger.Policy, v string) { p.Convert.PointsPerHour = v },
	}
	cases := []struct {
		member string
		ok     []string
		bad    []string
	}{
		{"max_hours_per_entry", []string{"12", "12.0", "12.00", "0.01"}, []string{"0", "0.00", "12.345", "0012", "1.", ".5", "1e1", "-1", "+1", " 12"}},
		{"max_hours_per_day", []string{"24.5"}, []string{"0", "24.555"}},
		{"upper", []string{"0", "1500.5", "999999999999.99"}, []string{"1500.555", "01500", "1000000000000"}},
		{"points_per_hour", []string{"0", "2.5", "0.333333", "1.000000", "999999999999.999999"}, []string{"1.0000000", "1000000000000", "000.5", "07", "-1", "1."}},
		{"category points_per_hour", []string{"0", "0.5"}, []string{"0.1234567", ".5"}},
		{"convert.points_per_hour", []string{"0", "2.5"}, []string{"1e1", "2,5"}},
	}
	for _, c := range cases {
		for _, v := range append(append([]string{}, c.ok...), c.bad...) {
			p := ledger.DefaultPolicy()
			set[c.member](p, v)
			err := p.Compile(assets)
			if want := slices.Contains(c.ok, v); (err == nil) != want {
				t.Errorf("%s %q: Compile error %v; the page says it is %s", c.member, v, err, map[bool]string{true: "accepted", false: "refused"}[want])
				continue
			}
			if err != nil {
				continue
			}
			raw, err := ledger.EncodeEntry(&ledger.Entry{Seq: 2, Type: ledger.TypePolicy, Actor: "admin:tok_a", IdempotencyKey: "p",
				Body: &ledger.PolicyBody{Policy: *p}}, assets)
			if err != nil {
				t.Fatalf("%s %q: %v", c.member, v, err)
			}
			if !bytes.Contains(raw, []byte(`:"`+v+`"`)) {
				t.Errorf("%s %q is not written as sent: %s", c.member, v, raw)
			}
		}
	}
}

// TestFormatDocVerifierKeyLine: the verifier key file is the key and one "\n", as the page
// says (GET /v1/checkpoint/key answers the same bytes: api's TestFormatDocOnTheWire).
func TestFormatDocVerifierKeyLine(t *testing.T) {
	dir := t.TempDir()
	l, err := store.Open(dir, store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	vkey := l.VerifierKey()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, store.VerifierKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	// KEY is base64 and may hold "+" itself: NAME and HASH are the first two fields.
	f := strings.SplitN(vkey, "+", 3)
	if string(raw) != vkey+"\n" || len(f) != 3 || f[0] != "timebank" || len(f[1]) != 8 || strings.ContainsAny(vkey, " \n") {
		t.Fatalf("%s holds %q, the page says NAME+HASH+KEY and \\n (key %q)", store.VerifierKeyFile, raw, vkey)
	}
}

// TestFormatDocReversedSettleLeavesHoldSettled: the page tells a verifier that a reversed
// settle moves the amount back and leaves its hold settled, reserving nothing; the ledger and
// verify's replay must agree.
func TestFormatDocReversedSettleLeavesHoldSettled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := store.Open(dir, store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	do := func(p ledger.Principal, b ledger.Body) *ledger.Entry {
		t.Helper()
		n++
		e, _, err := l.Submit(context.Background(), ledger.Request{Principal: p, IdempotencyKey: fmt.Sprint("k", n), Body: b})
		if err != nil {
			t.Fatalf("%T: %v", b, err)
		}
		return e
	}
	for _, id := range []ledger.AccountID{"station:s1", "outlet:o1", "resident:alice"} {
		do(admin, &ledger.OpenBody{ID: id})
	}
	do(s1, &ledger.CreditBody{Volunteer: "resident:alice", Hours: "2",
		Activity: ledger.Activity{ID: "a", Category: "cleaning", StartedAt: at(-5 * time.Hour), EndedAt: at(-3 * time.Hour)}})
	h := do(alice, &ledger.HoldBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "1.50", TTLSeconds: 3600})
	s := do(o1, &ledger.SettleBody{HoldID: h.Seq, Amount: "1"})
	do(admin, &ledger.ReversalBody{Seq: s.Seq, Reason: "refund"})
	hold, err := l.Hold(h.Seq)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := l.Account("resident:alice")
	if err != nil {
		t.Fatal(err)
	}
	now := t0.UnixMicro()
	if hold.StatusAt(now) != ledger.HoldSettled || acc.Held("HOURS", now) != 0 || acc.Balances["HOURS"].Balance != 200 {
		t.Fatalf("after the settle's reversal: hold %s, held %d, balance %d; the page says settled, 0, 2.00",
			hold.StatusAt(now), acc.Held("HOURS", now), acc.Balances["HOURS"].Balance)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Data(dir, nil, "", nil); err != nil {
		t.Fatalf("verify disagrees with the ledger: %v", err)
	}
}

// TestFormatDocRequestTimes checks the page's rule for a time a request writes: RFC 3339's
// date-time with a fraction none of whose digits past the sixth is not 0, Z or ±HH:MM, at
// most 40 characters, a year 2000 to 9999 in UTC; and its examples of what is refused.
func TestFormatDocRequestTimes(t *testing.T) {
	zeros := func(n int) string { return strings.Repeat("0", n) }
	ok := []string{
		"2026-11-28T06:00:00Z", "2026-11-28T06:00:00.5Z", "2026-11-28T06:00:00.123456Z",
		"2026-11-28T06:00:00.1234560Z", "2026-11-28T06:00:00-00:00", "2026-11-28T06:00:00+23:59",
		"2026-11-28T06:00:00." + zeros(19) + "Z", "2026-11-28T06:00:00." + zeros(14) + "+08:00",
		"2000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2000-01-01T07:30:00+07:30",
	}
	bad := []string{
		"2026-11-28T06:00:00." + zeros(20) + "Z", "2026-11-28T06:00:00." + zeros(15) + "+08:00",
		"2026-11-28T06:00:00.1234561Z", "2026-11-28T06:00:00.Z", "2026-11-28T6:00:00Z",
		"2026-11-28T06:00:00,5Z", "2026-11-28T06:00:00+24:00", "2026-11-28T06:00:00+05:60",
		"2026-11-28T23:59:60Z", "2026-11-28t06:00:00Z", "2026-11-28T06:00:00z",
		"2000-01-01T00:30:00+01:00", "1999-12-31T23:30:00Z", "9999-12-31T23:30:00-01:00",
		"2026-11-28T06:00:00", "2026-11-28T06:00Z", "2026-11-28T06:00:00+0800", "2026-11-28 06:00:00Z",
	}
	for _, s := range ok {
		if _, err := ledger.ParseTime("started_at", s); err != nil {
			t.Errorf("%q refused (%v); the page accepts it", s, err)
		}
	}
	for _, s := range bad {
		if _, err := ledger.ParseTime("started_at", s); err == nil {
			t.Errorf("%q accepted; the page refuses it", s)
		}
	}
}

// TestFormatDocLedgerNames: the page says a ledger's name, the key's name and checkpoint
// origin, is 1 to 128 bytes of UTF-8 without white space or "+", so that a verifier key
// splits at its first two "+" (its base64 may hold more).
func TestFormatDocLedgerNames(t *testing.T) {
	for _, name := range []string{"a+b", "a b", "a\tb", "a\u3000b", strings.Repeat("n", 129), "\xff"} {
		if l, err := store.Open(t.TempDir(), store.Options{Name: name}); err == nil {
			l.Close()
			t.Errorf("ledger name %q accepted; the page refuses it", name)
		}
	}
	for _, name := range []string{"example.org/timebank", "时间银行", strings.Repeat("n", 128)} {
		l, err := store.Open(t.TempDir(), store.Options{Name: name, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Errorf("ledger name %q refused: %v", name, err)
			continue
		}
		f := strings.SplitN(l.VerifierKey(), "+", 3)
		if len(f) != 3 || f[0] != name {
			t.Errorf("ledger %q: verifier key %q does not split into NAME+HASH+KEY at its first two '+'", name, l.VerifierKey())
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
