package api

import (
	"github.com/shopspring/decimal"

	"github.com/timebank/timebank/ledger"
)

// Amounts at the API edge (SPEC §2, STYLE.md). A request's amount string is checked for
// SPEC §2's shape first, byte by byte and without arithmetic (ledger.AmountShape), so a
// hostile amount costs microseconds; only then does shopspring/decimal parse it, and its
// value must be positive. Response amounts are formatted by decimal at the asset's scale.
//
// Inside, the ledger keeps int64 minor units. It parses the normalised amount strings of
// entry bodies with its own integer parser, because it imports only the standard library
// and verify replays entries with no API in front. amount_oracle_test.go checks that the
// edge and the core agree on every string and every value.

// parseAmount returns amount string s at scale in minor units, or invalid_amount.
func parseAmount(s string, scale int) (int64, error) {
	if !ledger.AmountShape(s, scale) {
		return 0, ledger.InvalidAmount(s, scale)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, ledger.InvalidAmount(s, scale)
	}
	// The shape allows at most scale fractional digits and 12 integer digits: the shifted
	// value is a whole number of at most 18 digits, exact in an int64.
	minor := d.Shift(int32(scale))
	if !minor.IsInteger() || minor.Sign() <= 0 {
		return 0, ledger.InvalidAmount(s, scale)
	}
	return minor.IntPart(), nil
}

// formatAmount formats minor units v at scale as a plain decimal with exactly scale
// fractional digits ("2.50", "-3", "0.00").
func formatAmount(v int64, scale int) string {
	return decimal.New(v, -int32(scale)).StringFixed(int32(scale))
}
