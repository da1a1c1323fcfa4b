package core

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/billkey/billkey/iamport"
)

// Codes the routes add to the contract's list.
const (
	// CodeConflict (409): a record changed concurrently or already exists; retry.
	CodeConflict = "conflict"
	// CodeIssuancePending (202 on the JSON route): iamport has not settled the issuance
	// yet; the webhook or the reconciler will.
	CodeIssuancePending = "issuance_pending"
	// CodeMethodNotAllowed (405): the route exists for another method (e.g. a HEAD that a
	// router matched to a GET route, which must not create an issuance).
	CodeMethodNotAllowed = "method_not_allowed"
)

// ProblemTypeBase prefixes a problem's code to form its RFC 9457 "type" URI. The code
// member carries the same stable identifier for clients that do not parse URIs.
const ProblemTypeBase = "https://billkey.dev/problems/"

// ProblemContentType is the media type of problem bodies (RFC 9457).
const ProblemContentType = "application/problem+json"

// JSONContentType is the media type of every JSON success body.
const JSONContentType = "application/json; charset=utf-8"

// Problem is an RFC 9457 problem details object as billkey renders it. Member order is
// fixed, so every adapter answers byte for byte alike. Detail is safe to show a user: it
// never holds a secret, a full customer_uid, or the text of an internal cause.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Code is the stable machine-readable identifier (the Code* constants).
	Code string `json:"code"`
	// MerchantUID names the charge or issuance concerned, when useful (e.g. card_declined).
	MerchantUID string `json:"merchant_uid,omitempty"`
	// Errors lists invalid fields for CodeInvalidRequest.
	Errors []FieldError `json:"errors,omitempty"`
}

type codeInfo struct {
	status int
	title  string
	detail string
}

var problemCodes = map[string]codeInfo{
	CodeUnauthenticated:        {http.StatusUnauthorized, "Authentication required", "Sign in to use billing."},
	CodeForbiddenCrossSite:     {http.StatusForbidden, "Cross-site request refused", "This request must come from the site itself."},
	CodeForbiddenSource:        {http.StatusForbidden, "Webhook source not allowed", "Notifications are accepted only from the configured addresses."},
	CodeNotFound:               {http.StatusNotFound, "Not found", "No such record for this user."},
	CodeBodyTooLarge:           {http.StatusRequestEntityTooLarge, "Request body too large", "The request body is too large."},
	CodeUnsupportedMediaType:   {http.StatusUnsupportedMediaType, "Unsupported media type", "The request body has an unsupported content type."},
	CodeInvalidRequest:         {http.StatusBadRequest, "Invalid request", "The request is invalid."},
	CodePlanUnknown:            {http.StatusUnprocessableEntity, "Unknown plan", "No plan with this id."},
	CodeIdempotencyKeyRequired: {http.StatusBadRequest, "Idempotency key required", "Send an Idempotency-Key header."},
	CodeIdempotencyKeyReused:   {http.StatusUnprocessableEntity, "Idempotency key reused", "This Idempotency-Key was used for a different request."},
	CodeIssuanceExpired:        {http.StatusGone, "Issuance expired", "This billing key request has expired; start again."},
	CodeIssuanceSettled:        {http.StatusConflict, "Issuance already settled", "This billing key request is already settled."},
	CodeIssuanceFailed:         {http.StatusUnprocessableEntity, "Issuance failed", "The billing key was not issued."},
	CodeIssuancePending:        {http.StatusAccepted, "Issuance pending", "The billing key is not confirmed yet."},
	CodeBillingKeyMissing:      {http.StatusConflict, "No billing key", "Register a card first."},
	CodeCardDeclined:           {http.StatusPaymentRequired, "Card declined", "The card company declined the charge."},
	CodePaymentMismatch:        {http.StatusUnprocessableEntity, "Payment mismatch", "The payment does not match what was requested."},
	CodeChargeInProgress:       {http.StatusConflict, "Charge in progress", "The outcome of this charge is not known yet."},
	CodeUpstreamUnavailable:    {http.StatusServiceUnavailable, "Payment provider unavailable", "The payment provider could not be reached; try again later."},
	CodeInternal:               {http.StatusInternalServerError, "Internal error", "Something went wrong on our side."},
	CodeConflict:               {http.StatusConflict, "Conflict", "The record changed concurrently; try again."},
	CodeMethodNotAllowed:       {http.StatusMethodNotAllowed, "Method not allowed", "This route does not answer that method."},
}

// validProblemCode reports whether s looks like a stable code (lower-case words joined by _).
func validProblemCode(s string) bool {
	return inCharset(s, 64, func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' })
}

// ProblemFor maps an error to the problem the routes answer:
//   - an *Error keeps its Code, Status (or the code's usual status when 0) and Detail (or
//     the code's usual detail when empty); an *InputError inside becomes the errors member;
//   - ErrNotFound is 404 not_found; ErrConflict and ErrDuplicate are 409 conflict;
//   - iamport failures that escaped the service are 503 upstream_unavailable (402
//     card_declined for a decline);
//   - context.DeadlineExceeded is 503 upstream_unavailable;
//   - anything else is 500 internal with a generic detail: the cause's text is never shown.
func ProblemFor(err error) Problem {
	if err == nil {
		return newProblem(CodeInternal, 0, "")
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		code, status := e.Code, e.Status
		if !validProblemCode(code) {
			code, status = CodeInternal, 0
		}
		p := newProblem(code, status, e.Detail)
		if code == CodeInternal {
			p.Detail = problemCodes[CodeInternal].detail
		}
		var ie *InputError
		if errors.As(e.Err, &ie) && ie != nil && len(ie.Fields) > 0 {
			p.Errors = append([]FieldError(nil), ie.Fields...)
		}
		return p
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return newProblem(CodeNotFound, 0, "")
	case errors.Is(err, ErrConflict), errors.Is(err, ErrDuplicate):
		return newProblem(CodeConflict, 0, "")
	case errors.Is(err, iamport.ErrDeclined):
		return newProblem(CodeCardDeclined, 0, "")
	case errors.Is(err, iamport.ErrOutcomeUnknown), errors.Is(err, iamport.ErrNotSent),
		errors.Is(err, iamport.ErrUnauthorized), errors.Is(err, iamport.ErrNotFound),
		errors.Is(err, context.DeadlineExceeded):
		return newProblem(CodeUpstreamUnavailable, 0, "")
	}
	return newProblem(CodeInternal, 0, "")
}

func newProblem(code string, status int, detail string) Problem {
	info, known := problemCodes[code]
	if !known {
		info = codeInfo{status: http.StatusInternalServerError, title: http.StatusText(http.StatusInternalServerError)}
	}
	if status < 400 || status > 599 {
		status = info.status
	}
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	title := info.title
	if title == "" {
		title = http.StatusText(status)
	}
	if detail == "" {
		detail = info.detail
	}
	return Problem{
		Type:   ProblemTypeBase + code,
		Title:  title,
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// WriteProblem renders p as application/problem+json with the billing headers
// (Cache-Control: no-store, X-Content-Type-Options: nosniff).
func WriteProblem(w Response, p Problem) {
	if p.Status < 400 || p.Status > 599 {
		p.Status = http.StatusInternalServerError
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: Problem holds only strings and ints
		body = []byte(`{"type":"` + ProblemTypeBase + CodeInternal + `","title":"Internal error","status":500,"code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	writeBody(w, p.Status, ProblemContentType, append(body, '\n'))
}

// WriteError renders err with ProblemFor and WriteProblem. Adapters may use it for the
// few answers they make themselves, so that every billing error looks alike.
func WriteError(w Response, err error) { WriteProblem(w, ProblemFor(err)) }

// logProblem records a server-side failure (5xx) that the service has not logged itself
// (an error that is not an *Error), without the cause's identifiers: the cause text
// passes through redactLog.
func logProblem(ctx context.Context, logger *slog.Logger, route string, p Problem, err error) {
	if logger == nil || p.Status < 500 {
		return
	}
	var e *Error
	if errors.As(err, &e) {
		return
	}
	level := slog.LevelError
	if p.Code == CodeUpstreamUnavailable {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("route", route),
		slog.String("code", p.Code),
		slog.Int("status", p.Status),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", redactLog(err.Error())))
	}
	logger.LogAttrs(ctx, level, "billkey: request failed", attrs...)
}

// redactLog masks every run of 20 or more letters and digits (customer_uids, tokens,
// secrets) to its first four characters, so a cause's text can be logged.
func redactLog(s string) string {
	const minRun, keep = 20, 4
	isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			out = append(out, s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if j-i >= minRun {
			out = append(out, s[i:i+keep]...)
			out = append(out, "…("...)
			out = strconv.AppendInt(out, int64(j-i), 10)
			out = append(out, ')')
		} else {
			out = append(out, s[i:j]...)
		}
		i = j
	}
	return string(out)
}
