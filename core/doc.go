// Package core is billkey's billing service: it issues card billing keys through the NHN
// KCP payment window (iamport V1, pg "kcp_billing"), verifies them, charges them from the
// server with POST /subscribe/payments/again, applies iamport's webhooks and reconciles
// what is left open. It also holds the route table the framework adapters mount, but it
// imports no web framework: only the standard library, package iamport and
// validator/v10.
//
// # Setting up
//
// New takes a Config (merchant code, an *iamport.Client, a Store, the plan catalogue, the
// public URL the routes are mounted under and the landing pages of the mobile redirect)
// and validates all of it up front. The Service is safe for concurrent use; several
// processes may share one Store (a database), see Reconcile.
//
// # One billing key
//
//  1. PrepareIssuance records a pending issuance (a fresh merchant_uid and a random
//     128-bit customer_uid bound to the user) and returns the IMP.request_pay parameters.
//  2. The payment window reports back through the PC callback, the mobile redirect and
//     the webhook. All three go through CompleteIssuance, the one verification step: the
//     record must be the user's, pending and unexpired; iamport must confirm the payment
//     (merchant_uid, customer_uid, status, amount, sandbox) and the key. Flags from the
//     browser are hints only. Whichever signal arrives first settles it; the others get
//     the same answer. A plan attached to the issuance is charged once, with its own
//     merchant_uid.
//  3. Charge charges the key for a plan (or, from Go code, an explicit amount) under an
//     idempotency key. The charge row is committed before `again` is sent, and moves
//     pending -> charging -> paid | failed | unknown (and paid -> cancelled) by
//     compare-and-set only, so a key used by any number of concurrent requests or
//     instances sends `again` once.
//  4. An unknown outcome (timeout, reset, 5xx after sending) is never retried blindly:
//     Reconcile (or RunReconciler) looks the merchant_uid up at iamport and settles the
//     row, sending `again` with the same merchant_uid only when iamport has no payment
//     under it.
//  5. ApplyNotification treats a webhook as a trigger: it re-fetches the payment and
//     applies the same transitions, idempotently and in any order.
//
// # Errors and events
//
// Operations fail with *Error, whose Code is stable (CodePlanUnknown, CodeCardDeclined,
// ...) and whose Status is the HTTP status the routes answer with; Charge also returns the
// charge's view when a row exists. The configured EventSink hears about each state change
// once, after it is committed, from the caller that made it: billing key issued or
// deleted, issuance failed, charge paid, failed, unknown or cancelled, payment mismatch
// and late payment.
//
// Logging goes to Config.Logger only (silent by default). Secrets, tokens, full
// customer_uids and card numbers never reach a log line, an event, an error or a view.
package core
