package api

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/timebank/timebank/ledger"
)

// The ledger parses and formats amounts with integer arithmetic after a byte-by-byte shape
// check (SPEC §2); shopspring/decimal is the independent oracle that checks it does so
// exactly. decimal itself is never on the request path: it accepts shapes the SPEC forbids
// (1e3, .5, +1) and allocates on every operation.

// checkAgainstDecimal asserts that ParseAmount and FormatAmount agree with decimal for s.
func checkAgainstDecimal(t *testing.T, s string, scale int) {
	t.Helper()
	got, err := ledger.ParseAmount(s, scale)
	if err != nil {
		return // shape refusals are tested in package ledger
	}
	d, derr := decimal.NewFromString(s)
	if derr != nil {
		t.Fatalf("ledger accepted %q, decimal cannot parse it: %v", s, derr)
	}
	want := d.Shift(int32(scale))
	if !want.IsInteger() || !want.Equal(decimal.NewFromInt(got)) {
		t.Fatalf("ParseAmount(%q, %d) = %d, decimal says %s", s, scale, got, want)
	}
	if f := ledger.FormatAmount(got, scale); f != d.StringFixed(int32(scale)) {
		t.Fatalf("FormatAmount(%d, %d) = %q, decimal says %q", got, scale, f, d.StringFixed(int32(scale)))
	}
	if neg := ledger.FormatAmount(-got, scale); neg != d.Neg().StringFixed(int32(scale)) {
		t.Fatalf("FormatAmount(%d, %d) = %q, decimal says %q", -got, scale, neg, d.Neg().StringFixed(int32(scale)))
	}
}

func TestAmountsAgreeWithDecimal(t *testing.T) {
	for _, s := range []string{"0.01", "2.5", "2.50", "10", "999999999999.99", "999999999999", "1.000001", "0.000001", "120.3"} {
		for scale := 0; scale <= ledger.MaxScale; scale++ {
			checkAgainstDecimal(t, s, scale)
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
		checkAgainstDecimal(t, string(b), r.IntN(ledger.MaxScale+1))
	}
}

func FuzzAmountsAgreeWithDecimal(f *testing.F) {
	f.Add("2.50", 2)
	f.Add("999999999999.999999", 6)
	f.Fuzz(func(t *testing.T, s string, scale int) {
		checkAgainstDecimal(t, s, ((scale%(ledger.MaxScale+1))+ledger.MaxScale+1)%(ledger.MaxScale+1))
	})
}
