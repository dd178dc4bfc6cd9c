package ledger

import (
	"math"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"2.50", 2, 250, true}, {"2.5", 2, 250, true}, {"10", 0, 10, true}, {"0.01", 2, 1, true},
		{"999999999999.99", 2, 99999999999999, true}, {"0.5", 1, 5, true},
		{"0", 2, 0, false}, {"0.00", 2, 0, false}, {"1e3", 2, 0, false}, {"-1", 2, 0, false}, {"+1", 2, 0, false},
		{".5", 2, 0, false}, {"1.", 2, 0, false}, {"NaN", 2, 0, false}, {"1,5", 2, 0, false}, {"01", 2, 0, false},
		{"1.234", 2, 0, false}, {"1.5", 0, 0, false}, {"1000000000000", 2, 0, false}, {"", 2, 0, false},
		{"1.5a", 2, 0, false}, {"1.:", 2, 0, false}, {"1.~5", 2, 0, false},
		{" 1", 2, 0, false}, {"1 ", 2, 0, false}, {"１", 2, 0, false}, {"1.2.3", 2, 0, false}, {"−1", 2, 0, false},
		{strings.Repeat("9", 10000), 2, 0, false},
		// A scale out of range comes only from a hostile log's genesis, decoded before the
		// replay refuses it: an error, not a panic or a message sized by the scale.
		{"1", -1, 0, false}, {"1", MaxScale + 1, 0, false}, {"1", 1 << 62, 0, false},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.in, c.scale)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseAmount(%q, %d) = %d, %v; want %d ok=%v", c.in, c.scale, got, err, c.want, c.ok)
		}
		if err != nil && CodeOf(err) != CodeInvalidAmount {
			t.Errorf("ParseAmount(%q) code %s", c.in, CodeOf(err))
		}
	}
}

func TestFormatAmount(t *testing.T) {
	cases := []struct {
		v     int64
		scale int
		want  string
	}{{250, 2, "2.50"}, {1, 2, "0.01"}, {0, 2, "0.00"}, {-250, 2, "-2.50"}, {-1, 2, "-0.01"}, {10, 0, "10"}, {-7, 0, "-7"},
		{-9223372036854775808, 2, "-92233720368547758.08"}}
	for _, c := range cases {
		if got := FormatAmount(c.v, c.scale); got != c.want {
			t.Errorf("FormatAmount(%d, %d) = %q, want %q", c.v, c.scale, got, c.want)
		}
		// The canonical encoder's own formatter (codec_encode.go) must agree, sign included.
		if got := string(appendAmount(nil, c.v, c.scale)); got != c.want {
			t.Errorf("appendAmount(%d, %d) = %q, want %q", c.v, c.scale, got, c.want)
		}
	}
}

func TestRateApply(t *testing.T) {
	r, ok := ParseRate("15")
	if !ok {
		t.Fatal("15 is a rate")
	}
	// 2.50 h × 15 = 37.5 points: floor 37, inexact.
	if got, exact, ok := r.Apply(250, 2, 0); got != 37 || exact || !ok {
		t.Fatalf("2.50 × 15 = %d exact=%v ok=%v", got, exact, ok)
	}
	if got, exact, _ := r.Apply(200, 2, 0); got != 30 || !exact {
		t.Fatalf("2.00 × 15 = %d exact=%v", got, exact)
	}
	if _, ok := ParseRate("1.0000001"); ok {
		t.Fatal("seven decimals accepted")
	}
	// A result must be an amount that reads back: at most 12 integer digits at its scale.
	one, _ := ParseRate("1")
	if got, _, ok := one.Apply(999_999_999_999, 0, 0); !ok || got != 999_999_999_999 {
		t.Fatalf("the largest amount: %d ok=%v", got, ok)
	}
	if _, err := ParseAmount(FormatAmount(maxAmount(2), 2), 2); err != nil {
		t.Fatalf("maxAmount(2) does not parse: %v", err)
	}
	if got, _, ok := one.Apply(999_999_999_999_99+1, 2, 2); ok {
		t.Fatalf("one minor unit beyond the largest amount gave %d, ok", got)
	}
}

// FuzzParseAmount checks that whatever parses formats back to an equivalent string, and that
// the parser never panics nor accepts a shape SPEC §2 forbids.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"2.50", "0.01", "1e3", "-1", "999999999999.99", ".5", "1.", "00", "１"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, scale int) {
		scale = ((scale % (MaxScale + 1)) + MaxScale + 1) % (MaxScale + 1)
		v, err := ParseAmount(s, scale)
		if err != nil {
			return
		}
		if v <= 0 {
			t.Fatalf("%q parsed to %d", s, v)
		}
		back, err := ParseAmount(FormatAmount(v, scale), scale)
		if err != nil || back != v {
			t.Fatalf("%q → %d → %q → %d, %v", s, v, FormatAmount(v, scale), back, err)
		}
		for _, c := range s {
			if !(c >= '0' && c <= '9') && c != '.' {
				t.Fatalf("%q accepted with %q", s, c)
			}
		}
	})
}

func TestAccountIDs(t *testing.T) {
	ok := []string{"resident:alice", "station:s-1", "outlet:o.1", "pool:public", "resident:0", "resident:13812345678x",
		"resident:11010519491231002y", "resident:1381234567"}
	bad := []string{"alice", "resident:", "resident:Alice", "resident:_a", "citizen:a", "issuer:HOURS", "resident:a b",
		"resident:11010519491231002x", "resident:13812345678", "resident:19912345678", "resident:" + strings.Repeat("a", 65)}
	for _, s := range ok {
		if _, err := ParseAccountID(s, false); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range bad {
		if _, err := ParseAccountID(s, false); CodeOf(err) != CodeInvalidAccount {
			t.Errorf("%q: got %v, want invalid_account", s, err)
		}
	}
	if _, err := ParseAccountID("issuer:HOURS", true); err != nil {
		t.Errorf("issuer refused where allowed: %v", err)
	}
	// A resident identity number whose check digit is wrong is not personal data by this rule.
	if IsPRCResidentID("110105194912310021") {
		t.Error("wrong check digit accepted as identity number")
	}
	if !IsPRCResidentID("11010519491231002x") {
		t.Error("valid identity number not recognised")
	}
}

func TestRateApplyExtremes(t *testing.T) {
	max, _ := ParseRate("999999999999.999999")
	// The largest amount at the largest rate does not fit: not ok, never a wrong answer.
	if _, _, ok := max.Apply(99999999999999, 2, 0); ok {
		t.Fatal("overflow not reported")
	}
	one, _ := ParseRate("1")
	if got, exact, ok := one.Apply(99999999999999, 2, 6); !ok || !exact || got != 999999999999990000 {
		t.Fatalf("1 × 999999999999.99 at scale 6 = %d exact=%v ok=%v", got, exact, ok)
	}
	third, _ := ParseRate("0.333333")
	if got, exact, _ := third.Apply(300, 2, 0); got != 0 || exact {
		t.Fatalf("3 h × 0.333333 = %d exact=%v, want 0 inexact", got, exact)
	}
	if !hoursFit(100, 2, microsPerHour) || hoursFit(101, 2, microsPerHour) {
		t.Fatal("hoursFit at the boundary")
	}
	// Products at the edges of 128 bits: a quotient of exactly 2^64 (2^62 × 400 / 10^8) and a
	// product that wraps to 0 past 2^128 (2^62 × 2^60 × 10^6) are overflows, not answers.
	four, _ := ParseRate("400")
	if got, _, ok := four.Apply(1<<62, 2, 0); ok {
		t.Fatalf("2^62 × 400 at scale 2 = %d, want an overflow", got)
	}
	if got, _, ok := (Rate{Num: 1 << 60}).Apply(1<<62, 6, 6); ok {
		t.Fatalf("2^62 × 2^60 × 10^6 = %d, want an overflow", got)
	}
	// a·b ≤ c·d compares the high words first: 2^65 > 2^64 − 1 although its low word is 0.
	if lessOrEqual128(1<<32, 1<<33, 1, 1<<64-1) || !lessOrEqual128(1, 1<<64-1, 1<<32, 1<<33) {
		t.Fatal("lessOrEqual128 across the 64-bit boundary")
	}
	if _, ok := addChecked(math.MinInt64+1, -2); ok {
		t.Fatal("addChecked missed an overflow below MinInt64")
	}
	if _, ok := addChecked(math.MaxInt64-1, 2); ok {
		t.Fatal("addChecked missed an overflow above MaxInt64")
	}
}
