// Package iamporttest is an in-process fake of the iamport (PortOne V1) REST API, its
// payment window and its webhooks: what httptest is to net/http, for code built on package
// iamport. It runs offline, on loopback or mounted into any http.Handler tree.
//
// # Starting it
//
//	srv := iamporttest.NewServer()          // httptest on 127.0.0.1
//	defer srv.Close()
//	client := srv.Client()                  // *iamport.Client with the fake's key and secret
//
// New returns a Fake that does not listen; mount Fake.Handler() where you like, also under
// a prefix with http.StripPrefix: every URL the fake hands out (receipt_url, the window)
// is derived from the request it answers.
//
// # Endpoints
//
// Every answer is iamport's envelope {code, message, response}. The fake keeps and writes
// its records in its own types, key for key as iamport's V1 specification defines them
// (PaymentAnnotation and the rest): every key a real answer carries, with null or 0 where
// a real answer leaves a value empty, and nothing borrowed from package iamport's struct
// tags, so a client that reads a field under the wrong name fails against it. The
// endpoints:
//
//	POST   /users/getToken                              JSON or form; 401 for bad key/secret
//	POST   /subscribe/payments/again                    JSON, urlencoded or multipart form
//	GET    /subscribe/customers/{customer_uid}
//	DELETE /subscribe/customers/{customer_uid}?reason=
//	GET    /payments/{imp_uid}?include_sandbox=
//	GET    /payments/find/{merchant_uid}[/{status}]?sorting=
//	GET    /payments/findAll/{merchant_uid}[/{status}]?page=&limit=&sorting=
//	POST   /payments/cancel
//	POST   /subscribe/payments/schedule
//	POST   /subscribe/payments/unschedule
//	GET    /subscribe/payments/schedule/{merchant_uid}
//	GET    /receipts/{imp_uid}                          the page receipt_url points to
//	GET    /iamport.js, GET|POST /window/...            the IMP shim and the payment window
//
// Statuses follow iamport: HTTP 200 with code 1 or -1 for business failures (unknown
// customer on again, duplicate merchant_uid, nothing to cancel, invalid fields); 404 for
// an unknown imp_uid, find without match, an unknown schedule and, by default, an unknown
// customer (WithLegacyNotFound answers HTTP 200 code 1 instead); 400 for bad search
// parameters or an unreadable body; 401 for a missing, wrong or expired token.
//
// The token lives 30 minutes on the fake clock (WithTokenLifetime). Asking again before
// expiry returns the same token and expiry; asking within its last minute pushes the
// expiry back five minutes; after expiry a new token is issued. The token is accepted as
// "Authorization: Bearer X", "Authorization: X" or "X-ImpTokenHeader: X" (Authorization
// wins).
//
// A declined charge is code 0 with status "failed" and fail_reason FailReasonDeclined; its
// merchant_uid can be used again. A merchant_uid with a paid or cancelled payment is
// refused with code -1.
//
// # Channel
//
// Payments and keys carry sandbox false, or true with WithSandbox (then GET
// /payments/{imp_uid} hides them without include_sandbox=true). WithoutSandboxField leaves
// the sandbox key out of every answer, as real answers captured from 2022 to 2024 do. The
// pg_id is KCP's test site code T0000 for a sandbox fake and LiveSiteCode otherwise
// (WithPGID; "kcp_billing.{site}" in request_pay wins).
//
// # Clock and schedules
//
// By default the fake clock starts at the real time (WithClock) and moves only with
// Advance, which also runs the scheduled payments that became due (customer_uid_usage
// "payment.scheduled"; notified whether paid or failed). WithRealClock makes it follow the
// wall clock instead, plus an offset that Advance grows; schedules then also run when they
// come due, at the next API call.
//
// # Persistence
//
// WithStateFile keeps keys (with their test cards and charge counts), payments,
// schedules, counters and the clock in a file, rewritten atomically after every change,
// and loads it at New: a restarted fake knows what it knew. NewWithState reports an
// unreadable file as an error; StateError the last failed write.
//
// # Test cards
//
// The payment window and IssueBillingKey take a card number; dashes and spaces are ignored:
//
//	CardOK                4111-1111-1111-1111  issued (BC카드); every charge pays
//	CardRefused           4000-0000-0000-0002  refused at issuance; no key stored
//	CardDeclined          4000-0000-0000-0069  issued (국민KB카드); every charge declined
//	CardDeclineAfter+NN   4000-0000-0000-03NN  issued (신한카드); NN charges pay, then declined
//	anything else                              refused at issuance, like an invalid card
//
// A refused issuance records a failed payment (fail_reason FailReasonRefused, error_code
// IssueErrRefused); a request that breaks a kcp_billing rule (pg not kcp_billing[.site],
// pay_method not card, customer_uid or merchant_uid missing or too long, amount < 0, a
// mobile request without m_redirect_url, a merchant_uid already paid) records nothing and
// answers error_code IssueErrInvalid with imp_uid null.
//
// # Webhooks
//
// After an issuance, a successful again, a schedule run (paid or failed), a cancel with
// enable_webhook=true or CancelFromConsole, the fake POSTs {imp_uid, merchant_uid, status
// [, cancellation_id]} to the payment's notice_url or the configured URL, as JSON or form
// (WebhookConfig), optionally duplicated, delayed or reordered. Delivery runs in the
// background and never holds up an API answer; Webhooks lists what was sent and
// WaitWebhooks waits for the queue to drain.
//
// # State
//
// Payment, PaymentsByMerchantUID, Customer and Schedule read the fake's state as the API
// answers it; PutPayment and PutCustomer store records as given (to make the fake answer
// mismatches); SetAmountJSON makes a payment's amount a number that is not whole;
// DeleteCustomerKey drops a key as the console would; CancelFromConsole cancels and
// notifies. Close (Server.Close for a listening fake) stops webhook delivery so no
// goroutine outlives the test.
//
// # Faults and counters
//
// Inject queues Faults for the next calls of an endpoint, one per call: Latency; Status
// (an HTTP 5xx, nothing done); Code (a non-zero code with Message, nothing done: e.g. -1
// for a refusal of again that charged nothing); DropBefore (connection closed, nothing
// done); DropAfter (done, then the connection closed unanswered); Truncate (done, then
// half the body and the connection closed); Stall (done, then the answer held until the
// client gives up or the stall ends); AmountJSON (done, and the payment answered with an
// amount that is not whole). WithLatency delays every call. Count and Calls tell how many
// calls each endpoint got; MaxConcurrentAgain how many again requests for one
// merchant_uid overlapped; Server.Connections how many TCP connections were opened.
package iamporttest
