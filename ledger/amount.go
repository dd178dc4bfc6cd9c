package ledger

import (
	"strconv"
	"strings"
)

// MaxIntegerDigits bounds the integer part of an amount (SPEC §2: at most 12 digits), so that
// every valid amount at any scale ≤ MaxScale fits an int64 with room for sums.
const MaxIntegerDigits = 12

// MaxScale is the largest asset scale a policy may set: 10^12 · 10^6 < 2^63 / 1000.
const MaxScale = 6

// ParseAmount parses a positive amount string of SPEC §2 at the given scale and returns it in
// minor units. It checks the shape byte by byte before any arithmetic, so hostile input costs
// its length in steps at most: ^(0|[1-9][0-9]{0,11})(\.[0-9]+)?$, at most scale fractional
// digits, value > 0. Every failure is *Error invalid_amount.
func ParseAmount(s string, scale int) (int64, error) {
	v, ok := parseDecimal(s, scale)
	if !ok || v <= 0 {
		return 0, invalidAmount(s, scale)
	}
	return v, nil
}

// parseDecimal parses ^(0|[1-9][0-9]{0,11})(\.[0-9]+)?$ with at most scale fractional
// digits into minor units at scale. Zero is allowed here; callers decide.
func parseDecimal(s string, scale int) (int64, bool) {
	intDigits, ok := amountShape(s, scale)
	if !ok {
		return 0, false
	}
	frac := ""
	if intDigits < len(s) {
		frac = s[intDigits+1:]
	}
	var v int64
	for j := 0; j < intDigits; j++ {
		v = v*10 + int64(s[j]-'0')
	}
	for j := 0; j < scale; j++ {
		v *= 10
		if j < len(frac) {
			v += int64(frac[j] - '0')
		}
	}
	return v, true
}

// AmountShape reports whether s has SPEC §2's shape at scale, looking at each byte once and
// doing no arithmetic: ^(0|[1-9][0-9]{0,11})(\.[0-9]+)?$ with at most scale fractional
// digits (zero passes; its value is the caller's to check). The API checks this before
// handing s to shopspring/decimal, which accepts shapes the SPEC forbids.
func AmountShape(s string, scale int) bool {
	_, ok := amountShape(s, scale)
	return ok
}

// amountShape is AmountShape, also returning the number of integer digits.
func amountShape(s string, scale int) (intDigits int, ok bool) {
	if len(s) == 0 || len(s) > MaxIntegerDigits+1+MaxScale || scale < 0 || scale > MaxScale {
		return 0, false
	}
	for intDigits < len(s) && s[intDigits] >= '0' && s[intDigits] <= '9' {
		intDigits++
	}
	if intDigits == 0 || intDigits > MaxIntegerDigits || (s[0] == '0' && intDigits > 1) {
		return 0, false
	}
	if intDigits == len(s) {
		return intDigits, true
	}
	frac := s[intDigits+1:]
	if s[intDigits] != '.' || len(frac) == 0 || len(frac) > scale {
		return 0, false
	}
	for j := 0; j < len(frac); j++ {
		if frac[j] < '0' || frac[j] > '9' {
			return 0, false
		}
	}
	return intDigits, true
}

// InvalidAmount is the invalid_amount error for amount string s at scale.
func InvalidAmount(s string, scale int) *Error { return invalidAmount(s, scale) }

func invalidAmount(s string, scale int) *Error {
	shown := s
	if len(shown) > 32 {
		shown = shown[:32] + "…"
	}
	if scale < 0 || scale > MaxScale {
		// No policy sets such a scale; a hostile log's genesis can, and the entries after it
		// are decoded before the replay refuses it. The message must not be sized by it.
		return Errorf(CodeInvalidAmount, "Amount %q is not valid: its asset's scale %d is not 0 to %d.", shown, scale, MaxScale).
			With("scale", scale)
	}
	if scale == 0 {
		return Errorf(CodeInvalidAmount, "Amount %q is not valid: write a positive whole number such as \"10\".", shown).
			With("scale", scale)
	}
	return Errorf(CodeInvalidAmount,
		"Amount %q is not valid: write a positive plain decimal such as \"2.%s\", with at most %d decimal places.",
		shown, "5"+strings.Repeat("0", scale-1), scale).With("scale", scale)
}

// FormatAmount formats minor units v at scale as a plain decimal with exactly scale
// fractional digits ("2.50", "-3", "0.00").
func FormatAmount(v int64, scale int) string {
	if scale < 0 || scale > MaxScale {
		panic("ledger: FormatAmount scale out of range")
	}
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v) // two's complement: correct also for math.MinInt64
	}
	digits := strconv.FormatUint(u, 10)
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// addChecked returns a+b, or false when it overflows.
func addChecked(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// pow10 returns 10^n for 0 ≤ n ≤ 18.
// maxAmount is the largest amount at scale that ParseAmount accepts: 12 nines, then scale
// nines, in minor units (below 2^63 for every scale ≤ MaxScale).
func maxAmount(scale int) int64 { return pow10(MaxIntegerDigits+scale) - 1 }

func pow10(n int) int64 {
	v := int64(1)
	for i := 0; i < n; i++ {
		v *= 10
	}
	return v
}
