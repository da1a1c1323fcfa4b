package core

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// Error is a failure with a stable Code. The routes render it as an RFC 9457 problem
// whose status is HTTPStatus; Detail is safe to show a customer.
type Error struct {
	Code   string // stable, e.g. "plan_unknown"
	Detail string // no secret, no full customer_uid, no card data
	Err    error  // cause, for errors.Is/As; never rendered
}

// HTTPStatus is the status the routes answer e with: the status of its Code (500 for a
// code billkey does not define). Codes of outcomes still pending (charge_in_progress)
// have a 2xx status: the routes answer them with the record, not a problem.
func (e *Error) HTTPStatus() int {
	if e == nil {
		return http.StatusInternalServerError
	}
	return codes.Status(e.Code)
}

// Error renders "billkey: CODE: DETAIL". The cause in Err is left out on purpose; it is
// reachable with errors.Is/As but never rendered.
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
// errors.Is(err, &core.Error{Code: codes.CardDeclined}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || e == nil || t == nil {
		return false
	}
	return t.Code != "" && t.Code == e.Code
}

// ErrorCode returns the Code of the first *Error in err's chain, or "" if there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code
	}
	return ""
}

// newError builds an *Error.
func newError(code, detail string, cause error) *Error {
	return &Error{Code: code, Detail: detail, Err: cause}
}

// withReason appends ": reason" to detail when there is a reason.
func withReason(detail, reason string) string {
	if reason == "" {
		return detail
	}
	return detail + ": " + reason
}

func errInvalid(detail string) *Error { return newError(codes.InvalidRequest, detail, nil) }

func errNotFound(detail string) *Error { return newError(codes.NotFound, detail, nil) }

func errInternal(cause error) *Error { return newError(codes.Internal, "internal error", cause) }

func errUpstream(cause error) *Error {
	return newError(codes.UpstreamUnavailable, "the payment service could not be reached; try again", cause)
}

func errUnauthenticated() *Error {
	return newError(codes.Unauthenticated, "no authenticated user", nil)
}

func errPlanUnknown() *Error {
	return newError(codes.PlanUnknown, "unknown plan", nil)
}

func errIssuanceExpired() *Error {
	return newError(codes.IssuanceExpired, "this billing-key request has expired; start again", nil)
}

func errIssuanceSettled(is *store.Issuance) *Error {
	d := "this billing-key request has already failed; start again"
	if is.FailReason != "" {
		d += " (" + is.FailReason + ")"
	}
	return newError(codes.IssuanceSettled, d, nil)
}

func errIssuanceFailed(reason string) *Error {
	return newError(codes.IssuanceFailed, withReason("the billing key was not issued", reason), nil)
}

func errPaymentMismatch() *Error {
	return newError(codes.PaymentMismatch, "iamport's record of this payment does not match ours", nil)
}

func errKeyMissing() *Error {
	return newError(codes.BillingKeyMissing, "no billing key registered for this user", nil)
}

// checkUserID validates a user id from the merchant's hook or from Go code.
func checkUserID(id string) *Error {
	if id == "" {
		return errUnauthenticated()
	}
	if !idrule.UserID.Valid(id) {
		return errInvalid("the user id must be " + idrule.UserID.Describe())
	}
	return nil
}

// storeErr logs an unexpected store failure and turns it into a 500.
func (s *Service) storeErr(ctx context.Context, op string, err error) *Error {
	level := slog.LevelError
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		level = slog.LevelDebug // the caller went away; not the store's fault
	}
	s.log.LogAttrs(ctx, level, "billkey: store failure",
		slog.String("op", op), slog.String("error", errText(err)))
	return errInternal(err)
}

// upstreamErr logs a failed iamport call and turns it into a 503.
func (s *Service) upstreamErr(ctx context.Context, op, merchantUID string, err error) *Error {
	s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: iamport call failed",
		slog.String("op", op), slog.String("merchant_uid", merchantUID),
		slog.String("error", errText(err)))
	return errUpstream(err)
}
