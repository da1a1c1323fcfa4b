package iamport

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: HTTP 404, or the code-1 "not found" answer older accounts give for
	// customers. APIError values for such answers match it with errors.Is.
	ErrNotFound = errors.New("iamport: not found")
	// ErrCustomerNotFound: iamport has no billing key under the customer_uid. again (or a
	// schedule) refused with "등록되지 않은 구매자입니다." or "등록된 고객정보가 없습니다."
	// (nothing was charged), and a customer lookup or delete that found nothing (which also
	// matches ErrNotFound) match it. Other refusals of again, such as code -1, do not.
	ErrCustomerNotFound = errors.New("iamport: no billing key under the customer_uid")
	// ErrUnauthorized: HTTP 401 after the one refresh-and-retry (bad key/secret, or a
	// token iamport refuses).
	ErrUnauthorized = errors.New("iamport: unauthorized")
	// ErrOutcomeUnknown: a POST that may have reached iamport failed without a readable
	// answer (timeout after sending, reset, truncated body, 5xx). Whatever it asked for
	// may or may not have happened: look it up before doing anything else.
	ErrOutcomeUnknown = errors.New("iamport: outcome unknown")
	// ErrNotSent: the request provably never left this process (dial failure, invalid
	// input, context ended before sending). Safe to retry.
	ErrNotSent = errors.New("iamport: request not sent")
	// ErrInvalidInput: an identifier or field failed validation before any request.
	ErrInvalidInput = errors.New("iamport: invalid input")
	// ErrDeclined: a charge came back code 0 with status failed. See *DeclinedError.
	ErrDeclined = errors.New("iamport: payment declined")
)

// APIError is an answer from iamport with a non-zero code or an HTTP error status.
//
// A 5xx answer is not returned bare: it arrives wrapped in a *TransportError with Sent
// true (it matches ErrOutcomeUnknown), and errors.As still finds the *APIError inside.
type APIError struct {
	HTTPStatus int    // HTTP status code of the answer
	Code       int    // envelope code (0 if the body had none)
	Message    string // envelope message, as iamport wrote it
	Method     string // HTTP method
	Endpoint   string // path template, e.g. "/subscribe/customers/{customer_uid}" (never a raw id)
}

// Error renders "iamport: METHOD /endpoint/template: HTTP 200 code 1: message".
func (e *APIError) Error() string {
	if e == nil {
		return "iamport: <nil APIError>"
	}
	var b strings.Builder
	b.WriteString("iamport: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Endpoint)
	b.WriteString(": HTTP ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	b.WriteString(" code ")
	b.WriteString(strconv.Itoa(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether the answer means ErrNotFound (HTTP 404, or a non-zero code with a
// "not found" message on a lookup or delete that is not a 5xx), ErrCustomerNotFound (see
// there) or ErrUnauthorized (HTTP 401).
func (e *APIError) Is(target error) bool {
	if e == nil {
		return false
	}
	switch target {
	case ErrNotFound:
		return e.notFound()
	case ErrCustomerNotFound:
		switch e.Endpoint {
		case epCustomer:
			return e.notFound()
		case epAgain, epSchedule:
			return e.HTTPStatus < 500 && e.Code != 0 && hasPhrase(e.Message, unknownCustomerPhrases)
		}
	case ErrUnauthorized:
		return e.HTTPStatus == 401
	}
	return false
}

func (e *APIError) notFound() bool {
	if e.HTTPStatus == 404 {
		return true
	}
	// Never for a 5xx: a server that failed has not said the thing is absent.
	return e.HTTPStatus < 500 && e.Code != 0 && (e.Method == "GET" || e.Method == "DELETE") && hasPhrase(e.Message, notFoundPhrases)
}

// notFoundPhrases are the fragments of iamport's "not found" messages, Korean and English:
// "…등록된 정보를 찾을 수 없습니다.", "존재하지 않는 결제정보입니다.", "등록되지 않은 구매자입니다.".
var notFoundPhrases = []string{
	"찾을 수 없",
	"존재하지 않",
	"등록되지 않",
	"등록된 정보가 없",
	"not found",
	"not exist",
}

// unknownCustomerPhrases are the fragments of the refusals of again and schedule for a
// customer_uid without a billing key: "등록되지 않은 구매자입니다.", "등록된 고객정보가 없습니다.".
var unknownCustomerPhrases = []string{
	"등록되지 않은 구매자",
	"등록된 고객정보가 없",
}

func hasPhrase(msg string, phrases []string) bool {
	if msg == "" {
		return false
	}
	lower := strings.ToLower(msg)
	for _, p := range phrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}

// DeclinedError reports a charge that iamport processed (code 0) but the card company
// refused (status failed). It can never be mistaken for success: the charge did not pay.
type DeclinedError struct {
	Payment    *Payment // the failed payment, with its own imp_uid
	FailReason string
}

// Error renders the decline with the card company's reason.
func (e *DeclinedError) Error() string {
	if e == nil {
		return "iamport: payment declined"
	}
	if e.FailReason == "" {
		return "iamport: payment declined"
	}
	return "iamport: payment declined: " + e.FailReason
}

// Is makes a DeclinedError match ErrDeclined.
func (e *DeclinedError) Is(target error) bool { return target == ErrDeclined }

// ValidationError names the field that failed validation before any request was sent.
// It matches ErrInvalidInput and ErrNotSent. It never carries the rejected value.
type ValidationError struct {
	Field  string
	Reason string
}

// Error renders "iamport: invalid FIELD: REASON".
func (e *ValidationError) Error() string {
	if e == nil {
		return "iamport: invalid input"
	}
	return "iamport: invalid " + e.Field + ": " + e.Reason
}

// Is makes a ValidationError match ErrInvalidInput and ErrNotSent.
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalidInput || target == ErrNotSent
}

// TransportError wraps a failure below HTTP (dial, reset, timeout, truncated body) or a
// 5xx answer. Sent reports whether the request may have reached iamport; it matches
// ErrOutcomeUnknown when Sent is true and ErrNotSent otherwise. Err never holds a URL:
// the client strips *url.Error so that identifiers in paths cannot leak into messages.
type TransportError struct {
	Method   string
	Endpoint string
	Sent     bool
	Err      error
}

// Error renders "iamport: METHOD /endpoint/template: outcome unknown|not sent: cause".
func (e *TransportError) Error() string {
	if e == nil {
		return "iamport: transport error"
	}
	var b strings.Builder
	b.WriteString("iamport: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Endpoint)
	if e.Sent {
		b.WriteString(": outcome unknown")
	} else {
		b.WriteString(": not sent")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is matches ErrOutcomeUnknown when Sent is true and ErrNotSent when it is false.
func (e *TransportError) Is(target error) bool {
	if e == nil {
		return false
	}
	switch target {
	case ErrOutcomeUnknown:
		return e.Sent
	case ErrNotSent:
		return !e.Sent
	}
	return false
}

// Unwrap returns the cause (a net error, a context error, a decoding error or, for a 5xx
// answer, the *APIError).
func (e *TransportError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// MismatchError reports a charge answered with code 0 whose payment is neither the paid
// payment asked for nor a decline: another status (ready, cancelled), another
// merchant_uid or another amount. It is never success. Because money may have moved,
// it matches ErrOutcomeUnknown: look the merchant_uid up before anything else.
type MismatchError struct {
	Endpoint string   // path template
	Reason   string   // what differed, e.g. "status ready", "amount differs"
	Payment  *Payment // the payment as answered
}

// Error renders "iamport: POST /endpoint: unexpected payment: reason".
func (e *MismatchError) Error() string {
	if e == nil {
		return "iamport: unexpected payment"
	}
	return "iamport: POST " + e.Endpoint + ": unexpected payment: " + e.Reason
}

// Is makes a MismatchError match ErrOutcomeUnknown.
func (e *MismatchError) Is(target error) bool { return target == ErrOutcomeUnknown }

// tokenError wraps a failed token fetch made on behalf of another request. That request
// was not sent, so whatever the fetch's own transport failure looked like, it must not
// match ErrOutcomeUnknown; ErrUnauthorized and the *APIError of a 401 stay visible.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "access token: " + e.err.Error() }

func (e *tokenError) Unwrap() error {
	var te *TransportError
	if errors.As(e.err, &te) {
		return te.Err
	}
	return e.err
}
