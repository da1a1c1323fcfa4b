// Package core is billkey's billing service: it issues card billing keys through the NHN
// KCP payment window (iamport V1, pg "kcp_billing"), verifies them, charges them from the
// server with POST /subscribe/payments/again, applies iamport's webhooks and reconciles
// what is left open. Mount its routes on Gin, Fiber or net/http with the adapters in
// billkey/adapters; core itself imports no web framework.
//
// # Setting up
//
// New takes a Config (merchant code, an *iamport.Client, a store from store/sqlstore or
// store/memstore, the plan catalogue, the public URLs the routes are mounted under and the
// landing pages of the mobile return) and validates all of it up front. The Service is
// safe for concurrent use; several processes may share one PostgreSQL store.
//
// # One billing key
//
//  1. PrepareIssuance records a pending issuance (a fresh merchant_uid and a random
//     128-bit customer_uid bound to the user) and returns the IMP.request_pay parameters.
//  2. The payment window reports back through the PC callback, the mobile return and the
//     webhook. All three go through CompleteIssuance, the one verification step: the
//     record must be pending and unexpired (and the signed-in user's, for the PC
//     callback); iamport must confirm the payment (merchant_uid, customer_uid, status,
//     amount, not a test channel) and the key. Flags from the browser are hints only.
//     Whichever signal arrives first settles it; the others get the same answer. A plan
//     attached to the issuance is charged once, with its own merchant_uid.
//  3. Charge charges the key for a plan (or, from Go code, an explicit amount) under an
//     idempotency key. The charge row is committed before `again` is sent, and moves
//     pending -> charging -> paid | failed | unknown (and paid -> cancelled) by
//     compare-and-set only; every attempt holds a lease on the row, measured on the store's
//     clock, so a key used by any number of concurrent requests or instances sends `again`
//     once.
//  4. An unknown outcome (timeout, reset, 5xx after sending) is never retried blindly:
//     Reconcile (or RunReconciler) looks the merchant_uid up at iamport and settles the
//     row, sending `again` with the same merchant_uid only when iamport has no payment
//     under it.
//  5. ApplyNotification treats a webhook as a trigger: it re-fetches the payment and
//     applies the same transitions, idempotently and in any order.
//
// # Errors and events
//
// Operations fail with *Error, whose Code is stable (codes.PlanUnknown, codes.CardDeclined,
// ...) and whose HTTPStatus is what the routes answer with; Charge also returns the
// charge's view whenever a row exists. The configured event.Sink hears about each state
// change once, after it is committed, from the caller that made it.
//
// Logging goes to Config.Logger only (silent by default). Secrets, tokens, full
// customer_uids and card numbers never reach a log line, an event, an error or a view.
// What billkey promises, and the tests that hold it to that, is in docs/guarantees.md.
package core
