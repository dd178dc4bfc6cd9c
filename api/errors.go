package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/timebank/timebank/ledger"
)

// statusOf is the one table from error code to HTTP status (SPEC §7). A test checks that it
// covers every code of ledger.Codes.
var statusOf = map[ledger.Code]int{
	ledger.CodeMalformedJSON:         http.StatusBadRequest,
	ledger.CodeUnknownField:          http.StatusBadRequest,
	ledger.CodeInvalidField:          http.StatusBadRequest,
	ledger.CodeInvalidAmount:         http.StatusBadRequest,
	ledger.CodeInvalidAccount:        http.StatusBadRequest,
	ledger.CodeInvalidTime:           http.StatusBadRequest,
	ledger.CodeInvalidPolicy:         http.StatusBadRequest,
	ledger.CodeMissingIdempotencyKey: http.StatusBadRequest,

	ledger.CodeUnauthenticated: http.StatusUnauthorized,
	ledger.CodeForbidden:       http.StatusForbidden,
	ledger.CodeNotFound:        http.StatusNotFound,

	ledger.CodeAccountExists:     http.StatusConflict,
	ledger.CodeAlreadyReversed:   http.StatusConflict,
	ledger.CodeHoldNotOpen:       http.StatusConflict,
	ledger.CodeRequestInProgress: http.StatusConflict,

	ledger.CodeBodyTooLarge:         http.StatusRequestEntityTooLarge,
	ledger.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,

	ledger.CodeInsufficientBalance:    http.StatusUnprocessableEntity,
	ledger.CodeBalanceCapExceeded:     http.StatusUnprocessableEntity,
	ledger.CodeEntryCapExceeded:       http.StatusUnprocessableEntity,
	ledger.CodeDailyCapExceeded:       http.StatusUnprocessableEntity,
	ledger.CodeDurationExceeded:       http.StatusUnprocessableEntity,
	ledger.CodeOverlappingSession:     http.StatusUnprocessableEntity,
	ledger.CodeBackdateWindowExceeded: http.StatusUnprocessableEntity,
	ledger.CodeFutureTime:             http.StatusUnprocessableEntity,
	ledger.CodeUnknownAccount:         http.StatusUnprocessableEntity,
	ledger.CodeAccountFrozen:          http.StatusUnprocessableEntity,
	ledger.CodeInvalidPayee:           http.StatusUnprocessableEntity,
	ledger.CodeTransferNotAllowed:     http.StatusUnprocessableEntity,
	ledger.CodeConversionDisabled:     http.StatusUnprocessableEntity,
	ledger.CodeInexactConversion:      http.StatusUnprocessableEntity,
	ledger.CodeHoldExpired:            http.StatusUnprocessableEntity,
	ledger.CodeSettleExceedsHold:      http.StatusUnprocessableEntity,
	ledger.CodeNotReversible:          http.StatusUnprocessableEntity,
	ledger.CodeReversalWindowPassed:   http.StatusUnprocessableEntity,
	ledger.CodeIdempotencyKeyReused:   http.StatusUnprocessableEntity,

	ledger.CodeRateLimited: http.StatusTooManyRequests,
	ledger.CodeUnavailable: http.StatusServiceUnavailable,
	ledger.CodeInternal:    http.StatusInternalServerError,
}

// StatusOf returns the HTTP status of code; an unknown code is a programmer error and
// answers 500.
func StatusOf(code ledger.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON of every error answer: {"error":{"code","message","details"}}.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code    ledger.Code    `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// fromEcho turns Echo's own errors (no route, wrong method, …) into catalogue errors.
func fromEcho(he *echo.HTTPError) *ledger.Error {
	switch he.Code {
	case http.StatusNotFound:
		return ledger.Errorf(ledger.CodeNotFound, "There is no such resource.")
	case http.StatusMethodNotAllowed:
		// The catalogue has no code for a wrong method, and a status that no code maps to
		// would break the one-table rule: answer as if the route did not exist (the Allow
		// header Echo sets still tells a client what would work).
		return ledger.Errorf(ledger.CodeNotFound, "There is no such resource for this method.")
	case http.StatusUnauthorized:
		return errUnauthenticated()
	case http.StatusForbidden:
		return errForbidden()
	case http.StatusRequestEntityTooLarge:
		return errTooLarge()
	case http.StatusUnsupportedMediaType:
		return errMediaType()
	case http.StatusTooManyRequests:
		return errRateLimited()
	case http.StatusServiceUnavailable:
		return ledger.Errorf(ledger.CodeUnavailable, "The service is unavailable; try again shortly.")
	case http.StatusBadRequest:
		return ledger.Errorf(ledger.CodeInvalidField, "The request is not valid.")
	}
	return nil
}

// handleError is the Echo HTTPErrorHandler: every error answers the JSON of SPEC §7. An
// error that is not a *ledger.Error is internal: the client sees only the request id, the
// server log gets the detail.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		// A streamed answer (export, backup) failed half-way: the status is gone, the
		// client sees a cut stream (handledOnce); the log keeps the cause.
		s.log.Error("error after the answer started", "request_id", requestID(c), "err", err)
		c.Set(cutKey, true)
		return
	}
	var le *ledger.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &le):
	case errors.As(err, &he):
		le = fromEcho(he)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// The client left (or the server is stopping) while its write waited for the
		// sequencer: the write is committed whole or not at all, and a retry with the same
		// Idempotency-Key tells which. Not a server fault.
		le = &ledger.Error{Code: ledger.CodeUnavailable,
			Message: "The request was cancelled before its answer; retry with the same Idempotency-Key to learn its outcome."}
	}
	if le == nil || le.Code == ledger.CodeInternal {
		rid := requestID(c)
		s.log.Error("internal error", "request_id", rid, "method", c.Request().Method,
			"path", redactSecrets(c.Request().URL.Path), "err", err)
		le = &ledger.Error{Code: ledger.CodeInternal,
			Message: "Something went wrong on the server; quote request id " + rid + " to its operator.",
			Details: map[string]any{"request_id": rid}}
	}
	details := le.Details
	if details == nil {
		details = map[string]any{}
	}
	status := StatusOf(le.Code)
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="timebank"`) // RFC 6750
	}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, errorBody{Error: errorObject{Code: le.Code, Message: le.Message, Details: details}})
	}
	if err != nil {
		s.log.Warn("cannot write error answer", "request_id", requestID(c), "err", err)
	}
}

func errUnauthenticated() *ledger.Error {
	return ledger.Errorf(ledger.CodeUnauthenticated,
		"Send a valid token as 'Authorization: Bearer TOKEN'; this one is missing, unknown or revoked.")
}

func errForbidden() *ledger.Error {
	return ledger.Errorf(ledger.CodeForbidden, "Your token's role may not do this.")
}

func errNotFound(what string) *ledger.Error {
	return ledger.Errorf(ledger.CodeNotFound, "There is no %s you can see with this id.", what)
}

func errTooLarge() *ledger.Error {
	return ledger.Errorf(ledger.CodeBodyTooLarge, "The request body is over %d bytes.", maxBodyBytes).
		With("limit_bytes", maxBodyBytes)
}

func errMediaType() *ledger.Error {
	return ledger.Errorf(ledger.CodeUnsupportedMediaType, "Send the body as JSON with 'Content-Type: application/json'.")
}

func errRateLimited() *ledger.Error {
	return ledger.Errorf(ledger.CodeRateLimited, "Too many requests from your address; slow down and retry.")
}

func invalidField(field, format string, args ...any) *ledger.Error {
	return ledger.Errorf(ledger.CodeInvalidField, format, args...).With("field", field)
}
