package iamport

import "errors"

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: HTTP 404, or the code-1 "not found" answer older accounts give for
	// customers. APIError values for such answers match it with errors.Is.
	ErrNotFound = errors.New("iamport: not found")
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
type APIError struct {
	HTTPStatus int    // HTTP status code of the answer
	Code       int    // envelope code (0 if the body had none)
	Message    string // envelope message, as iamport wrote it
	Method     string // HTTP method
	Endpoint   string // path template, e.g. "/subscribe/customers/{customer_uid}" (never a raw id)
}

// DeclinedError reports a charge that iamport processed (code 0) but the card company
// refused (status failed). It can never be mistaken for success: the charge did not pay.
type DeclinedError struct {
	Payment    *Payment // the failed payment, with its own imp_uid
	FailReason string
}

// ValidationError names the field that failed validation before any request was sent.
// It matches ErrInvalidInput and ErrNotSent.
type ValidationError struct {
	Field  string
	Reason string
}

// TransportError wraps a failure below HTTP (dial, reset, timeout, truncated body) or a
// 5xx answer. Sent reports whether the request may have reached iamport; it matches
// ErrOutcomeUnknown when Sent is true and ErrNotSent otherwise.
type TransportError struct {
	Method   string
	Endpoint string
	Sent     bool
	Err      error
}
