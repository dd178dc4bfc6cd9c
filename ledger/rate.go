package ledger

import "math/bits"

// RateScale is the number of fractional digits a policy rate may have ("12.5", "0.001").
const RateScale = 6

// Rate is a non-negative decimal rate of a policy (points per hour) as Num / 10^RateScale.
type Rate struct{ Num int64 }

// ParseRate parses a policy rate: the amount syntax of SPEC §2 with at most RateScale
// fractional digits, zero allowed.
func ParseRate(s string) (Rate, bool) {
	v, ok := parseDecimal(s, RateScale)
	return Rate{Num: v}, ok
}

// IsZero reports whether the rate is 0 (a disabled conversion).
func (r Rate) IsZero() bool { return r.Num == 0 }

// Apply converts an amount of the from asset (minor units at fromScale) into the to asset at
// toScale: floor(amount · rate) in toScale minor units, and whether that was exact. ok is
// false when amount is negative or the result is larger than any amount can be (SPEC §2's
// 12 integer digits): an entry holding it could not be read back, by the server or by
// verify. The arithmetic is
// exact, in 128 bits: amount < 2^63, Num < 10^19 and 10^toScale ≤ 10^6 keep every product
// below 2^128.
func (r Rate) Apply(amount int64, fromScale, toScale int) (result int64, exact, ok bool) {
	if amount < 0 || r.Num < 0 {
		return 0, false, false
	}
	hi, lo := bits.Mul64(uint64(amount), uint64(r.Num))
	hi, lo, ok = mul128(hi, lo, uint64(pow10(toScale)))
	den := uint64(pow10(fromScale + RateScale))
	if !ok || hi >= den {
		return 0, false, false // the quotient would not fit 64 bits
	}
	q, rem := bits.Div64(hi, lo, den)
	if q > uint64(maxAmount(toScale)) {
		return 0, false, false
	}
	return int64(q), rem == 0, true
}

// mul128 multiplies the 128-bit (hi, lo) by m; ok is false on overflow.
func mul128(hi, lo, m uint64) (uint64, uint64, bool) {
	h1, l1 := bits.Mul64(lo, m)
	h2, l2 := bits.Mul64(hi, m)
	sum, carry := bits.Add64(h1, l2, 0)
	return sum, l1, h2 == 0 && carry == 0
}

// lessOrEqual128 reports whether a·b ≤ c·d for non-negative a, b, c, d, exactly.
func lessOrEqual128(a, b, c, d uint64) bool {
	h1, l1 := bits.Mul64(a, b)
	h2, l2 := bits.Mul64(c, d)
	return h1 < h2 || (h1 == h2 && l1 <= l2)
}
