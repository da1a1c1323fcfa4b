// Package codes is the one table of billkey's error codes: each code's HTTP status, the
// title of its RFC 9457 problem and the detail shown when an error carries none. A
// *core.Error carries one in Code (compare with core.ErrorCode(err) == codes.CardDeclined);
// the HTTP routes render every one of them as a problem body.
package codes

import (
	"net/http"
	"slices"
)

// Codes, as they appear in problem bodies and in core.Error.Code.
const (
	Unauthenticated        = "unauthenticated"
	CrossSiteRequest       = "cross_site_request"
	WebhookSourceForbidden = "webhook_source_forbidden"
	NotFound               = "not_found"
	MethodNotAllowed       = "method_not_allowed"
	BodyTooLarge           = "body_too_large"
	UnsupportedMediaType   = "unsupported_media_type"
	InvalidRequest         = "invalid_request"
	PlanUnknown            = "plan_unknown"
	IdempotencyKeyRequired = "idempotency_key_required"
	IdempotencyKeyReused   = "idempotency_key_reused"
	IssuanceExpired        = "issuance_expired"
	IssuanceSettled        = "issuance_settled"
	IssuanceFailed         = "issuance_failed"
	IssuancePending        = "issuance_pending"
	BillingKeyMissing      = "billing_key_missing"
	BillingKeyGone         = "billing_key_gone"
	BillingKeyInUse        = "billing_key_in_use"
	SubscriptionExists     = "subscription_exists"
	SubscriptionState      = "subscription_state"
	CardDeclined           = "card_declined"
	ChargeRefused          = "charge_refused"
	PaymentMismatch        = "payment_mismatch"
	ChargeInProgress       = "charge_in_progress"
	ChargeNotRefundable    = "charge_not_refundable"
	RefundExceedsBalance   = "refund_exceeds_balance"
	RefundInProgress       = "refund_in_progress"
	RefundFailed           = "refund_failed"
	Conflict               = "conflict"
	UpstreamUnavailable    = "upstream_unavailable"
	Internal               = "internal"
)

// Info is what the table holds for one code.
type Info struct {
	Status int    // the HTTP status; 2xx for outcomes still pending, answered with the record
	Title  string // the problem's title
	Detail string // shown when the error carries no detail of its own
}

var table = map[string]Info{
	Unauthenticated:        {http.StatusUnauthorized, "Authentication required", "Sign in to use billing."},
	CrossSiteRequest:       {http.StatusForbidden, "Cross-site request refused", "This request must come from the site itself."},
	WebhookSourceForbidden: {http.StatusForbidden, "Webhook source not allowed", "Notifications are accepted only from the configured addresses."},
	NotFound:               {http.StatusNotFound, "Not found", "No such record for this user."},
	MethodNotAllowed:       {http.StatusMethodNotAllowed, "Method not allowed", "This route does not answer that method."},
	BodyTooLarge:           {http.StatusRequestEntityTooLarge, "Request body too large", "The request body is too large."},
	UnsupportedMediaType:   {http.StatusUnsupportedMediaType, "Unsupported media type", "The request body has an unsupported content type."},
	InvalidRequest:         {http.StatusBadRequest, "Invalid request", "The request is invalid; nothing was changed."},
	PlanUnknown:            {http.StatusUnprocessableEntity, "Unknown plan", "No plan with this id."},
	IdempotencyKeyRequired: {http.StatusBadRequest, "Idempotency key required", "Send an Idempotency-Key header."},
	IdempotencyKeyReused:   {http.StatusUnprocessableEntity, "Idempotency key reused", "This Idempotency-Key was used for a different request."},
	IssuanceExpired:        {http.StatusGone, "Issuance expired", "This card registration has expired; start again."},
	IssuanceSettled:        {http.StatusConflict, "Issuance already settled", "This card registration has already ended; start again."},
	IssuanceFailed:         {http.StatusUnprocessableEntity, "Issuance failed", "The card was not registered."},
	IssuancePending:        {http.StatusAccepted, "Issuance pending", "The card registration is not confirmed yet."},
	BillingKeyMissing:      {http.StatusNotFound, "No billing key", "Register a card first."},
	BillingKeyGone:         {http.StatusGone, "Billing key gone", "The registered card is no longer available; register a card again."},
	BillingKeyInUse:        {http.StatusConflict, "Billing key in use", "A live subscription is charged to this card; cancel it or register another card first."},
	SubscriptionExists:     {http.StatusConflict, "Subscription exists", "You already have a live subscription of this kind."},
	SubscriptionState:      {http.StatusConflict, "Subscription state", "The subscription is not in a state that allows this."},
	CardDeclined:           {http.StatusPaymentRequired, "Card declined", "The card company declined the charge."},
	ChargeRefused:          {http.StatusBadGateway, "Charge refused", "The payment service did not process the charge; nothing was charged. Try again later."},
	PaymentMismatch:        {http.StatusUnprocessableEntity, "Payment mismatch", "The payment does not match what was requested."},
	ChargeInProgress:       {http.StatusAccepted, "Charge in progress", "The outcome of this charge is not known yet; repeat the request with the same Idempotency-Key."},
	ChargeNotRefundable:    {http.StatusConflict, "Charge not refundable", "Only a paid charge can be refunded."},
	RefundExceedsBalance:   {http.StatusUnprocessableEntity, "Refund exceeds balance", "The refund is larger than what is left of the charge; nothing was sent."},
	RefundInProgress:       {http.StatusConflict, "Refund in progress", "Another refund of this charge is not settled yet; try again once it is."},
	RefundFailed:           {http.StatusBadGateway, "Refund failed", "The payment service did not refund; nothing was refunded."},
	Conflict:               {http.StatusConflict, "Conflict", "The record changed concurrently; try again."},
	UpstreamUnavailable:    {http.StatusServiceUnavailable, "Payment provider unavailable", "The payment service could not be reached; nothing was changed. Try again later."},
	Internal:               {http.StatusInternalServerError, "Internal error", "Something went wrong on our side."},
}

// Lookup returns the table's entry for code.
func Lookup(code string) (Info, bool) {
	i, ok := table[code]
	return i, ok
}

// Status is code's HTTP status; 500 for a code the table does not hold.
func Status(code string) int {
	if i, ok := table[code]; ok {
		return i.Status
	}
	return http.StatusInternalServerError
}

// All lists every code, sorted.
func All() []string {
	out := make([]string, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
