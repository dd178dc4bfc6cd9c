package ledger

import "fmt"

// Code is a stable error code of SPEC §7. Clients switch on it; never rename one.
type Code string

// The catalogue of SPEC §7. The HTTP status of each code lives in one table in package api.
const (
	// 400: the request's own shape.
	CodeMalformedJSON         Code = "malformed_json"
	CodeUnknownField          Code = "unknown_field"
	CodeInvalidField          Code = "invalid_field"
	CodeInvalidAmount         Code = "invalid_amount"
	CodeInvalidAccount        Code = "invalid_account"
	CodeInvalidTime           Code = "invalid_time"
	CodeInvalidPolicy         Code = "invalid_policy"
	CodeMissingIdempotencyKey Code = "missing_idempotency_key"
	// 401, 403, 404.
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodeNotFound        Code = "not_found"
	// 409.
	CodeAccountExists     Code = "account_exists"
	CodeAlreadyReversed   Code = "already_reversed"
	CodeHoldNotOpen       Code = "hold_not_open"
	CodeRequestInProgress Code = "request_in_progress"
	// 413, 415.
	CodeBodyTooLarge         Code = "body_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// 422: the rules.
	CodeInsufficientBalance    Code = "insufficient_balance"
	CodeBalanceCapExceeded     Code = "balance_cap_exceeded"
	CodeEntryCapExceeded       Code = "entry_cap_exceeded"
	CodeDailyCapExceeded       Code = "daily_cap_exceeded"
	CodeDurationExceeded       Code = "duration_exceeded"
	CodeOverlappingSession     Code = "overlapping_session"
	CodeBackdateWindowExceeded Code = "backdate_window_exceeded"
	CodeFutureTime             Code = "future_time"
	CodeUnknownAccount         Code = "unknown_account"
	CodeAccountFrozen          Code = "account_frozen"
	CodeInvalidPayee           Code = "invalid_payee"
	CodeTransferNotAllowed     Code = "transfer_not_allowed"
	CodeConversionDisabled     Code = "conversion_disabled"
	CodeInexactConversion      Code = "inexact_conversion"
	CodeHoldExpired            Code = "hold_expired"
	CodeSettleExceedsHold      Code = "settle_exceeds_hold"
	CodeNotReversible          Code = "not_reversible"
	CodeReversalWindowPassed   Code = "reversal_window_passed"
	CodeIdempotencyKeyReused   Code = "idempotency_key_reused"
	// 429, 503, 500.
	CodeRateLimited Code = "rate_limited"
	CodeUnavailable Code = "unavailable"
	CodeInternal    Code = "internal"
)

// Codes lists every code of the catalogue, in SPEC §7 order. Tests use it to check that the
// HTTP status table covers each one.
var Codes = []Code{
	CodeMalformedJSON, CodeUnknownField, CodeInvalidField, CodeInvalidAmount, CodeInvalidAccount,
	CodeInvalidTime, CodeInvalidPolicy, CodeMissingIdempotencyKey,
	CodeUnauthenticated, CodeForbidden, CodeNotFound,
	CodeAccountExists, CodeAlreadyReversed, CodeHoldNotOpen, CodeRequestInProgress,
	CodeBodyTooLarge, CodeUnsupportedMediaType,
	CodeInsufficientBalance, CodeBalanceCapExceeded, CodeEntryCapExceeded, CodeDailyCapExceeded,
	CodeDurationExceeded, CodeOverlappingSession, CodeBackdateWindowExceeded, CodeFutureTime,
	CodeUnknownAccount, CodeAccountFrozen, CodeInvalidPayee, CodeTransferNotAllowed,
	CodeConversionDisabled, CodeInexactConversion, CodeHoldExpired, CodeSettleExceedsHold,
	CodeNotReversible, CodeReversalWindowPassed, CodeIdempotencyKeyReused,
	CodeRateLimited, CodeUnavailable, CodeInternal,
}

// Error is a user error with a stable code. Message is one sentence a station clerk could act
// on; Details carries the figures (account, available, limit) for programs.
type Error struct {
	Code    Code
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf makes an *Error with a formatted message and no details.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns e with one more detail; it mutates e, which is always freshly made.
func (e *Error) With(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// CodeOf returns the code of err if it is an *Error, else CodeInternal.
func CodeOf(err error) Code {
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	return CodeInternal
}
