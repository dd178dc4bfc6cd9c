package store

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/timebank/timebank/ledger"
)

var testTable = newAssetTable(ledger.DefaultPolicy().Assets)

func TestAccountRoundTrip(t *testing.T) {
	cases := []*ledger.Account{
		{ID: "issuer:HOURS", Kind: ledger.KindIssuer, OpenedSeq: 1, OpenedAt: -5,
			Balances: map[string]ledger.Balance{"HOURS": {Balance: math.MinInt64, Earned: 0}}},
		{ID: "resident:v1", Kind: ledger.KindResident, Frozen: true, OpenedSeq: math.MaxUint64, OpenedAt: math.MaxInt64,
			Balances: map[string]ledger.Balance{"HOURS": {Balance: 150000, Earned: 150000}, "POINTS": {Balance: 7, Earned: -3}},
			Holds:    []ledger.OpenHold{{ID: 9, Asset: "POINTS", Amount: 5, ExpiresAt: 1 << 60}, {ID: 3, Asset: "HOURS", Amount: 1, ExpiresAt: 0}}},
		{ID: "pool:public", Kind: ledger.KindPool, Balances: map[string]ledger.Balance{}},
	}
	for _, a := range cases {
		b, err := encodeAccount(nil, testTable, a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeAccount(a.ID, testTable, b)
		if err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip of %s:\n got  %+v\n want %+v", a.ID, got, a)
		}
		for i := 0; i < len(b); i++ { // every truncation is refused, never a panic
			if _, err := decodeAccount(a.ID, testTable, b[:i]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s truncated to %d bytes: %v", a.ID, i, err)
			}
		}
		if _, err := decodeAccount(a.ID, testTable, append(b, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s with a trailing byte: %v", a.ID, err)
		}
	}
	if _, err := encodeAccount(nil, testTable, &ledger.Account{Kind: ledger.KindResident,
		Balances: map[string]ledger.Balance{"GOLD": {}}}); err == nil {
		t.Fatal("encoded an account holding an unknown asset")
	}
	if _, err := encodeAccount(nil, testTable, &ledger.Account{Kind: "robot"}); err == nil {
		t.Fatal("encoded an account of an unknown kind")
	}
}

func TestDecodersRefuseNonCanonical(t *testing.T) {
	acct := &ledger.Account{ID: "resident:v1", Kind: ledger.KindResident,
		Balances: map[string]ledger.Balance{"HOURS": {Balance: 1}, "POINTS": {Balance: 2}}}
	b, _ := encodeAccount(nil, testTable, acct)
	// flags, kind, seq 0, time 0, count 2, HOURS(0) 1 0, POINTS(1) 2 0, holds 0
	want := []byte{0, 1, 0, 0, 2, 0, 2, 0, 1, 4, 0, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding % x, want % x (the layout changed: bump formatVersion)", b, want)
	}
	bad := map[string][]byte{
		"overlong varint": {0, 1, 0x80, 0x00, 0, 2, 0, 2, 0, 1, 4, 0, 0},
		"assets reversed": {0, 1, 0, 0, 2, 1, 4, 0, 0, 2, 0, 0},
		"asset repeated":  {0, 1, 0, 0, 2, 0, 2, 0, 0, 4, 0, 0},
		"unknown asset":   {0, 1, 0, 0, 1, 7, 2, 0, 0},
		"unknown flag":    {2, 1, 0, 0, 0, 0},
		"kind zero":       {0, 0, 0, 0, 0, 0},
		"kind too big":    {0, 6, 0, 0, 0, 0},
		"huge count":      {0, 1, 0, 0, 0xff, 0xff, 0x03},
	}
	for name, v := range bad {
		if _, err := decodeAccount("resident:v1", testTable, v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValueRoundTrips(t *testing.T) {
	h := &ledger.Hold{ID: 42, Resident: "resident:alice", Payee: "outlet:o1", Asset: "POINTS", Amount: 30,
		ExpiresAt: 1_800_000_000_000_000, Status: ledger.HoldSettled, ClosedSeq: 77}
	hb, err := encodeHold(testTable, h)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeHold(42, testTable, hb); err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("hold: %+v, %v", got, err)
	}
	if _, err := encodeHold(testTable, &ledger.Hold{Asset: "HOURS", Status: ledger.HoldExpired}); err == nil {
		t.Fatal("stored the derived status expired")
	}

	bal := map[string]ledger.Balance{"HOURS": {Balance: -12345, Earned: 99}, "POINTS": {Balance: 0}}
	sb, err := encodeStatement(nil, testTable, bal)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeStatement(testTable, sb); err != nil || !reflect.DeepEqual(got, map[string]int64{"HOURS": -12345, "POINTS": 0}) {
		t.Fatalf("statement: %v, %v", got, err)
	}

	s := ledger.Session{Start: -1_000_000, End: 3_600_000_000, Seq: 5, Hours: 100}
	rest := sessionKey("resident:v", s.Start, s.Seq)[len(sessionPrefix("resident:v")):]
	start, seq, err := parseSessionRest(rest)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeSession(start, seq, encodeSession(nil, s)); err != nil || got != s {
		t.Fatalf("session: %+v, %v", got, err)
	}

	fp := [32]byte{1, 2, 3, 31: 9}
	if seq, got, err := decodeIdem(encodeIdem(1<<40, fp)); err != nil || seq != 1<<40 || got != fp {
		t.Fatalf("idem: %d %x %v", seq, got, err)
	}

	tok := ledger.Token{ID: "tok_0123456789abcdef", Role: ledger.RoleStation, Account: "station:s1",
		Label: "前台 desk", CreatedAt: 1_700_000_000_000_000, SecretSHA256: [32]byte{7, 31: 8}}
	if got, err := decodeToken(tok.ID, encodeToken(&tok)); err != nil || got != tok {
		t.Fatalf("token: %+v, %v", got, err)
	}

	for _, v := range []uint64{0, 1, 127, 128, math.MaxUint64} {
		if got, err := decodeUvarint(encodeUvarint(v)); err != nil || got != v {
			t.Fatalf("uvarint %d: %d %v", v, got, err)
		}
	}
	for _, v := range []int64{0, -1, 1, math.MinInt64, math.MaxInt64} {
		if got, err := decodeVarint(encodeVarint(v)); err != nil || got != v {
			t.Fatalf("varint %d: %d %v", v, got, err)
		}
	}
}

// TestKeyOrder checks the orders the reads rely on: sessions by signed start, statement lines
// by seq, and no owner's prefix inside another's range.
func TestKeyOrder(t *testing.T) {
	starts := []int64{math.MinInt64, -2, -1, 0, 1, 1 << 40, math.MaxInt64}
	var keys [][]byte
	for _, s := range starts {
		keys = append(keys, sessionKey("resident:a", s, 1))
	}
	if !sort.SliceIsSorted(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 }) {
		t.Fatal("session keys do not sort by signed start")
	}
	if bytes.Compare(statementKey("resident:a", 255), statementKey("resident:a", 256)) >= 0 {
		t.Fatal("statement keys do not sort by seq")
	}
	// resident:a's whole range sorts before resident:a0's.
	if bytes.Compare(statementKey("resident:a", math.MaxUint64), accountKey("resident:a0")) >= 0 {
		t.Fatal("one owner's keys interleave with another's")
	}
	owner, tag, rest, err := splitStateKey(idemKey("admin:tok_1", "key with spaces"))
	if err != nil || owner != "admin:tok_1" || tag != tagIdem || string(rest) != "key with spaces" {
		t.Fatalf("split: %q %q %q %v", owner, tag, rest, err)
	}
}

// FuzzDecoders feeds arbitrary bytes to every value decoder: none may panic, and whatever
// decodes must encode back to the same bytes (the encodings are canonical).
func FuzzDecoders(f *testing.F) {
	a, _ := encodeAccount(nil, testTable, &ledger.Account{ID: "resident:v", Kind: ledger.KindResident,
		Balances: map[string]ledger.Balance{"HOURS": {Balance: 5, Earned: 5}},
		Holds:    []ledger.OpenHold{{ID: 3, Asset: "HOURS", Amount: 2, ExpiresAt: 99}}})
	h, _ := encodeHold(testTable, &ledger.Hold{Resident: "resident:v", Payee: "outlet:o", Asset: "HOURS", Amount: 1, Status: ledger.HoldOpen})
	s, _ := encodeStatement(nil, testTable, map[string]ledger.Balance{"POINTS": {Balance: -4}})
	tok := encodeToken(&ledger.Token{Role: ledger.RoleAdmin, Label: "x"})
	revoked := encodeToken(&ledger.Token{Role: ledger.RoleAdmin, Label: "x", RevokedAt: 7})
	il, _ := encodeIssuerLines(nil, testTable, []issuerLine{{asset: 0, balances: map[string]ledger.Balance{"HOURS": {Balance: -7}}},
		{asset: 1, balances: map[string]ledger.Balance{"POINTS": {Balance: -70}}}})
	for _, seed := range [][]byte{a, h, s, tok, revoked, encodeIdem(7, [32]byte{}), encodeSession(nil, ledger.Session{End: 10, Hours: 3}), il, {}, {0x80}} {
		for kind := byte(0); kind < 7; kind++ {
			f.Add(kind, seed)
		}
	}
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		var again []byte
		var err error
		switch kind % 7 {
		case 0:
			var v *ledger.Account
			if v, err = decodeAccount("resident:v", testTable, b); err == nil {
				again, err = encodeAccount(nil, testTable, v)
			}
		case 1:
			var v *ledger.Hold
			if v, err = decodeHold(1, testTable, b); err == nil {
				again, err = encodeHold(testTable, v)
			}
		case 2:
			var v map[string]int64
			if v, err = decodeStatement(testTable, b); err == nil {
				m := map[string]ledger.Balance{}
				for k, x := range v {
					m[k] = ledger.Balance{Balance: x}
				}
				again, err = encodeStatement(nil, testTable, m)
			}
		case 3:
			var v ledger.Token
			if v, err = decodeToken("tok", b); err == nil {
				again = encodeToken(&v)
			}
		case 4:
			var seq uint64
			var fp [32]byte
			if seq, fp, err = decodeIdem(b); err == nil {
				again = encodeIdem(seq, fp)
			}
		case 5:
			var v ledger.Session
			if v, err = decodeSession(1000, 1, b); err == nil {
				again = encodeSession(nil, v)
			}
		case 6:
			var lines []issuerLine
			err = readIssuerLines(testTable, b, func(id ledger.AccountID, line []byte) error {
				n, err := testTable.issuerAsset(id)
				if err != nil {
					return err
				}
				v, err := decodeStatement(testTable, line)
				m := map[string]ledger.Balance{}
				for k, x := range v {
					m[k] = ledger.Balance{Balance: x}
				}
				lines = append(lines, issuerLine{asset: n, balances: m})
				return err
			})
			if err == nil {
				again, err = encodeIssuerLines(nil, testTable, lines)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decoder %d: error %v is not ErrCorrupt", kind%7, err)
			}
			return
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoder %d: % x decodes, but encodes back as % x", kind%7, b, again)
		}
	})
}

// TestDecodersRefuseWhatIsNeverWritten: a string longer than any the store writes (a label
// of 1,025 bytes, all there) and an issuer-lines value naming no issuer are refused as
// corrupt, though their bytes are otherwise well formed.
func TestDecodersRefuseWhatIsNeverWritten(t *testing.T) {
	tok := &ledger.Token{ID: "tok_x", Role: ledger.RoleAdmin, Label: strings.Repeat("l", maxStringBytes), CreatedAt: 1}
	if _, err := decodeToken(tok.ID, encodeToken(tok)); err != nil {
		t.Fatalf("a label of %d bytes: %v", maxStringBytes, err)
	}
	tok.Label += "l"
	if _, err := decodeToken(tok.ID, encodeToken(tok)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a label of %d bytes: %v, want ErrCorrupt", maxStringBytes+1, err)
	}
	err := readIssuerLines(testTable, []byte{0}, func(ledger.AccountID, []byte) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("issuer lines of no issuer: %v, want ErrCorrupt", err)
	}
}
