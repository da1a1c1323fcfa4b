package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
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
	// SubscriptionID names the subscription concerned (one whose first charge failed).
	SubscriptionID string `json:"subscription_id,omitempty"`
	// Errors lists invalid fields for codes.InvalidRequest.
	Errors []FieldError `json:"errors,omitempty"`
}

// ProblemFor maps an error to the problem the routes answer; its status is always the
// one the code table (package codes) gives its code:
//   - a *core.Error keeps its Code and Detail (the code's usual detail when empty); an
//     *InputError inside becomes the errors member;
//   - store.ErrNotFound is not_found; store.ErrConflict and store.ErrDuplicate are conflict;
//   - iamport failures that escaped the service are upstream_unavailable (card_declined
//     for a decline), and so is context.DeadlineExceeded;
//   - anything else is internal with a generic detail: a cause's text is never shown.
func ProblemFor(err error) Problem {
	if err == nil {
		return newProblem(codes.Internal, "")
	}
	var e *core.Error
	if errors.As(err, &e) && e != nil {
		code, detail := e.Code, e.Detail
		if _, known := codes.Lookup(code); !known || code == codes.Internal {
			code, detail = codes.Internal, ""
		}
		p := newProblem(code, detail)
		var ie *InputError
		if errors.As(e.Err, &ie) && ie != nil && len(ie.Fields) > 0 {
			p.Errors = append([]FieldError(nil), ie.Fields...)
		}
		return p
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newProblem(codes.NotFound, "")
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDuplicate):
		return newProblem(codes.Conflict, "")
	case errors.Is(err, iamport.ErrDeclined):
		return newProblem(codes.CardDeclined, "")
	case errors.Is(err, iamport.ErrOutcomeUnknown), errors.Is(err, iamport.ErrNotSent),
		errors.Is(err, iamport.ErrUnauthorized), errors.Is(err, iamport.ErrNotFound),
		errors.Is(err, context.DeadlineExceeded):
		return newProblem(codes.UpstreamUnavailable, "")
	}
	return newProblem(codes.Internal, "")
}

// newProblem is the problem for code, with the code table's status and title; an empty
// detail becomes the code's usual detail. A code outside the table renders as internal.
func newProblem(code, detail string) Problem {
	info, known := codes.Lookup(code)
	if !known {
		code, detail = codes.Internal, ""
		info, _ = codes.Lookup(code)
	}
	if detail == "" {
		detail = info.Detail
	}
	return Problem{
		Type:   ProblemTypeBase + code,
		Title:  info.Title,
		Status: info.Status,
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
		body = []byte(`{"type":"` + ProblemTypeBase + codes.Internal + `","title":"Internal error","status":500,"code":"internal"}`)
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
	var e *core.Error
	if errors.As(err, &e) {
		return
	}
	level := slog.LevelError
	if p.Code == codes.UpstreamUnavailable {
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
