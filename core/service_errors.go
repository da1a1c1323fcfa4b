package core

import (
	"errors"
	"net/http"
)

// Error implements the error interface: "billkey: CODE: DETAIL". The cause in Err is
// left out on purpose; it is reachable with errors.Is/As (Unwrap) but never rendered.
func (e *Error) Error() string {
	if e == nil {
		return "billkey: <nil error>"
	}
	if e.Detail == "" {
		return "billkey: " + e.Code
	}
	return "billkey: " + e.Code + ": " + e.Detail
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, &core.Error{Code: core.CodeCardDeclined}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || e == nil || t == nil {
		return false
	}
	return t.Code != "" && t.Code == e.Code
}

// ErrorCode returns the stable Code of the first *Error in err's chain, or "" if there is
// none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code
	}
	return ""
}

// newError builds an *Error.
func newError(code string, status int, detail string, cause error) *Error {
	return &Error{Code: code, Status: status, Detail: detail, Err: cause}
}

// withReason appends ": reason" to detail when there is a reason.
func withReason(detail, reason string) string {
	if reason == "" {
		return detail
	}
	return detail + ": " + reason
}

func errInvalid(detail string) *Error {
	return newError(CodeInvalidRequest, http.StatusBadRequest, detail, nil)
}

func errNotFound(detail string) *Error {
	return newError(CodeNotFound, http.StatusNotFound, detail, nil)
}

func errInternal(cause error) *Error {
	return newError(CodeInternal, http.StatusInternalServerError, "internal error", cause)
}

func errUpstream(cause error) *Error {
	return newError(CodeUpstreamUnavailable, http.StatusServiceUnavailable,
		"the payment service could not be reached; try again", cause)
}
