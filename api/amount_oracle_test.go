package api

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/timebank/timebank/ledger"
)

// Two parsers read amounts: the API edge (shape check, then shopspring/decimal) and the
// ledger core (shape check, then integer arithmetic), which also reads them back from
// entries on replay. They must agree on every string: accept the same ones, with the same
// value, and format values the same.

// checkEdgeAndCore asserts that parseAmount/formatAmount and ledger.ParseAmount/FormatAmount
// agree for s at scale, and that an accepted s has decimal's value.
func checkEdgeAndCore(t *testing.T, s string, scale int) {
	t.Helper()
	core, cerr := ledger.ParseAmount(s, scale)
	edge, eerr := parseAmount(s, scale)
	if (cerr == nil) != (eerr == nil) || core != edge {
		t.Fatalf("%q at scale %d: the edge says %d, %v; the core %d, %v", s, scale, edge, eerr, core, cerr)
	}
	if eerr != nil {
		if ledger.CodeOf(eerr) != ledger.CodeInvalidAmount {
			t.Fatalf("%q at scale %d: %v, want invalid_amount", s, scale, eerr)
		}
		return
	}
	d, err := decimal.NewFromString(s)
	if err != nil || !d.Shift(int32(scale)).Equal(decimal.NewFromInt(core)) {
		t.Fatalf("%q at scale %d parsed as %d; decimal says %v, %v", s, scale, core, d.Shift(int32(scale)), err)
	}
	for _, v := range []int64{core, -core} {
		if e, c := formatAmount(v, scale), ledger.FormatAmount(v, scale); e != c {
			t.Fatalf("%d at scale %d: the edge formats %q, the core %q", v, scale, e, c)
		}
	}
}

func TestAmountsEdgeAgreesWithCore(t *testing.T) {
	for _, s := range []string{"0.01", "2.5", "2.50", "10", "999999999999.99", "999999999999", "1.000001",
		"0.000001", "120.3", "0", "0.00", "00.1", "01", "1e3", "1E3", ".5", "5.", "+1", "-1", "1,5", "NaN",
		"Infinity", " 1", "1 ", "0x10", "1_000", "１", "\u22121", "1000000000000", "1.0000001", ""} {
		for scale := 0; scale <= ledger.MaxScale; scale++ {
			checkEdgeAndCore(t, s, scale)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	digits := "0123456789"
	for i := 0; i < 20000; i++ {
		n := 1 + r.IntN(12)
		b := []byte{digits[1+r.IntN(9)]}
		for j := 1; j < n; j++ {
			b = append(b, digits[r.IntN(10)])
		}
		if f := r.IntN(ledger.MaxScale + 1); f > 0 {
			b = append(b, '.')
			for j := 0; j < f; j++ {
				b = append(b, digits[r.IntN(10)])
			}
		}
		checkEdgeAndCore(t, string(b), r.IntN(ledger.MaxScale+1))
	}
	// Formatting alone, over the whole int64 range the ledger may hold (issuer balances).
	for _, v := range []int64{0, 1, -1, 99, -100, 1 << 62, -(1 << 62), 9223372036854775807, -9223372036854775808} {
		for scale := 0; scale <= ledger.MaxScale; scale++ {
			if e, c := formatAmount(v, scale), ledger.FormatAmount(v, scale); e != c {
				t.Fatalf("%d at scale %d: the edge formats %q, the core %q", v, scale, e, c)
			}
		}
	}
}

func FuzzAmountsEdgeAgreesWithCore(f *testing.F) {
	f.Add("2.50", 2)
	f.Add("999999999999.999999", 6)
	f.Add("1e3", 0)
	f.Fuzz(func(t *testing.T, s string, scale int) {
		checkEdgeAndCore(t, s, ((scale%(ledger.MaxScale+1))+ledger.MaxScale+1)%(ledger.MaxScale+1))
	})
}
