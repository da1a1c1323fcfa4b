// Package iamport is a client for the iamport (PortOne V1) REST API, limited to what
// subscription billing with a stored billing key needs: the access token, charging a key
// (POST /subscribe/payments/again), reading and deleting keys, payment lookups by imp_uid
// and merchant_uid, cancellation, and scheduled payments.
//
// Create one Client with New and share it; it is safe for concurrent use.
//
// # Tokens
//
// The client caches the access token and refreshes it one request at a time, however many
// goroutines ask at once. A token's lifetime is the server's expired_at minus the server's
// now, laid onto the local monotonic clock from the moment the getToken request was sent,
// less a safety margin (30 s, or a tenth of the lifetime for short-lived tokens), so a
// local clock that is off by minutes does no harm. A 401 answer drops the token (unless a
// concurrent caller already replaced it), fetches a new one and retries the call once.
// Tokens travel as "Authorization: Bearer <token>". TokenState tells a health check when
// the last token was fetched, when it expires and the last failure, never the token; a
// call to Token at start verifies the credentials.
//
// # Errors
//
// Every method returns errors to branch on with errors.Is and errors.As:
//
//   - *ValidationError (ErrInvalidInput, ErrNotSent): an identifier or field was rejected
//     before anything was sent, by billkey's one table of input rules (internal/idrule):
//     customer_uid (≤ 80) and merchant_uid (≤ 40 characters) are valid UTF-8 without
//     '/', '?', '#', '%', '\', spaces or control characters; imp_uid is 1 to 32
//     letters, digits, '_' and '-'; names, buyer fields and reasons are one line of
//     text within iamport's lengths.
//   - *APIError: iamport answered with a non-zero code or an HTTP error status. It
//     matches ErrNotFound for HTTP 404, and for a non-zero code with a "not found"
//     message on a lookup or delete (older accounts answer unknown customers with
//     HTTP 200 and code 1); it matches ErrUnauthorized for HTTP 401. It matches
//     ErrCustomerNotFound when the customer_uid has no billing key: again or a schedule
//     refused with "등록되지 않은 구매자입니다." (nothing charged), or a customer lookup or
//     delete that found nothing. Any other refusal of again (code -1, nothing charged)
//     is only an *APIError.
//   - *DeclinedError (ErrDeclined): Again was processed but the card was refused
//     (code 0, status failed). It carries the failed payment and its fail_reason.
//   - *TransportError: no readable answer. Sent false (ErrNotSent) means the request
//     provably never left this process (dial or DNS failure, context ended before a
//     connection, token fetch failed); it is safe to retry. Sent true
//     (ErrOutcomeUnknown) means it may have reached iamport: a timeout after sending, a
//     reset, a truncated or undecodable body, or a 5xx answer (errors.As then also finds
//     the *APIError with the status). After a POST, look the outcome up before anything
//     else.
//   - *MismatchError (ErrOutcomeUnknown): Again was answered with code 0 but the payment
//     is not the paid payment asked for (another status, merchant_uid or amount, or an
//     amount that is not a whole number of won). It is never success; settle it with a
//     lookup.
//
// Error strings and log lines name the endpoint by its path template
// ("/subscribe/customers/{customer_uid}"), never the raw path, and never contain the
// secret, a token or an Authorization header; a customer_uid echoed in iamport's
// message is masked with MaskID.
//
// # Retries and time
//
// Lookups (GET) are retried on transport failures, 5xx and 429 answers, up to
// Config.MaxRetries times with jittered exponential backoff (100 ms doubling to at most
// 2 s) that ends when the context does. A POST or DELETE is never repeated once it may
// have been sent; it is retried only when it provably never left (at most twice) and once
// after a 401. Calls whose context has no deadline get Config.Timeout (10 s by default).
//
// # Decoding
//
// Every answer is read to at most 1 MiB and closed; the envelope {code, message,
// response} is parsed whatever the HTTP status, and decoded together with its response
// in one pass. Decoding is tolerant where sources disagree: amounts as 1000, 1000.0,
// 1e3 or "1000"; card_type as a number, a string or null; timestamps as 0, null, a
// float, a numeric or RFC 3339 string (0 means not set); booleans as 0/1 or strings;
// custom_data (or any string field) as a string or the JSON value it encodes; null
// strings as "".
//
// KRW has no minor unit. An amount that is not a whole number of won (1000.5, or beyond
// int64) still decodes, so a paid charge never turns into an unreadable answer: the field
// holds NotWholeAmount (negative, so it equals no amount charged or shown) and the
// record's AmountNotWhole is set. Treat such a payment as a mismatch.
//
// A sandbox key that is absent (real answers captured from 2022 to 2024 carry none) or
// null decodes as a nil Payment.Sandbox or Customer.Sandbox: absent is not false.
//
// # Logging
//
// Logging is off unless Config.Logger is set; then each HTTP attempt produces one line
// with method, endpoint template, status, duration and attempt number.
package iamport
