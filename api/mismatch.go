package api

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/timebank/timebank/ledger"
)

// typeError refuses a value of the wrong JSON type for field (a dotted path as the body
// names it) with a sentence a clerk can act on: what the field takes, and what was sent.
// An entry's amount is invalid_amount, anything in a policy invalid_policy, the rest
// invalid_field.
func typeError(field string, te *json.UnmarshalTypeError, kind kindOfBody) error {
	last := field[strings.LastIndexByte(field, '.')+1:]
	switch {
	case kind == policyBody:
		return ledger.Errorf(ledger.CodeInvalidPolicy, "The policy is not valid: %s", mismatch(field, te)).
			With("field", field)
	case kind == entryBody && (last == "amount" || last == "hours"):
		return ledger.Errorf(ledger.CodeInvalidAmount, "%s must be a string such as \"2.50\", not %s.", field, sent(te.Value)).
			With("field", field)
	}
	return invalidField(field, "%s", mismatch(field, te))
}

// mismatch says what field takes and what was sent instead, as one sentence.
func mismatch(field string, te *json.UnmarshalTypeError) string {
	switch te.Type.Kind() {
	case reflect.String:
		return fmt.Sprintf("%s must be text in double quotes, not %s.", field, sent(te.Value))
	case reflect.Bool:
		return fmt.Sprintf("%s must be true or false, not %s.", field, sent(te.Value))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return wholeNumber(field, te)
	case reflect.Float32, reflect.Float64:
		return fmt.Sprintf("%s must be a number, not %s.", field, sent(te.Value))
	case reflect.Struct, reflect.Map:
		return fmt.Sprintf("%s must be a JSON object {…}, not %s.", field, sent(te.Value))
	case reflect.Slice, reflect.Array:
		return fmt.Sprintf("%s must be a JSON array […], not %s.", field, sent(te.Value))
	}
	return fmt.Sprintf("%s cannot be %s.", field, sent(te.Value))
}

// wholeNumber says that field takes a whole number in plain digits (1.5 and 1e2 are not),
// in its range, and of which unit when its name says (ttl_seconds, backdate_days).
func wholeNumber(field string, te *json.UnmarshalTypeError) string {
	unit := ""
	switch {
	case strings.HasSuffix(field, "_seconds"):
		unit = " of seconds"
	case strings.HasSuffix(field, "_days"):
		unit = " of days"
	}
	lit, ok := strings.CutPrefix(te.Value, "number ")
	if !ok || !isIntegerLiteral(lit) {
		return fmt.Sprintf("%s must be a whole number%s in plain digits, not %s.", field, unit, sent(te.Value))
	}
	// Digits that do not fit the field's Go type.
	bits := te.Type.Bits()
	switch unsigned := te.Type.Kind() >= reflect.Uint && te.Type.Kind() <= reflect.Uintptr; {
	case unsigned && lit[0] == '-':
		return fmt.Sprintf("%s must be a whole number%s from 0 up, not %s.", field, unit, lit)
	case unsigned:
		return fmt.Sprintf("%s must be a whole number%s no larger than %d, not %s.", field, unit, uint64(math.MaxUint64)>>(64-bits), lit)
	case lit[0] == '-':
		return fmt.Sprintf("%s must be a whole number%s no smaller than %d, not %s.", field, unit, int64(math.MinInt64)>>(64-bits), lit)
	}
	return fmt.Sprintf("%s must be a whole number%s no larger than %d, not %s.", field, unit, int64(math.MaxInt64)>>(64-bits), lit)
}

// isIntegerLiteral reports whether a JSON number is written as an integer: digits, perhaps
// after a minus sign.
func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// sent describes the value of an encoding/json type error ("number 1.5", "array", …) as a
// clerk would read it.
func sent(value string) string {
	if lit, ok := strings.CutPrefix(value, "number "); ok {
		return lit
	}
	switch value {
	case "string":
		return "text in quotes"
	case "number":
		return "a number"
	case "bool":
		return "true or false"
	case "array":
		return "an array"
	case "object":
		return "an object"
	}
	return value
}
