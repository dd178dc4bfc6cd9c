package ledger

import "math/big"

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
// false when the result does not fit an int64. The arithmetic is exact (math/big): this is
// a rare path, and exactness is the point.
func (r Rate) Apply(amount int64, fromScale, toScale int) (result int64, exact, ok bool) {
	num := new(big.Int).Mul(big.NewInt(amount), big.NewInt(r.Num))
	num.Mul(num, big.NewInt(pow10(toScale)))
	den := big.NewInt(pow10(fromScale + RateScale))
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if !q.IsInt64() {
		return 0, false, false
	}
	return q.Int64(), m.Sign() == 0, true
}
