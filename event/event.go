// Package event holds what billkey tells the merchant's code when something happens: an
// Event per state change (a key issued, a charge paid, a subscription renewed, a refund
// settled, ...), delivered to the Sink set in core.Config.Events.
package event

import (
	"context"
	"time"
)

// Kind names what happened.
type Kind string

// Events the merchant's sink receives, once per state change.
const (
	BillingKeyIssued  Kind = "billing_key.issued"
	BillingKeyDeleted Kind = "billing_key.deleted"
	IssuanceFailed    Kind = "issuance.failed"
	ChargePaid        Kind = "charge.paid"
	ChargeFailed      Kind = "charge.failed"
	ChargeUnknown     Kind = "charge.unknown"
	ChargeCancelled   Kind = "charge.cancelled" // refunded in full
	ChargeRefunded    Kind = "charge.refunded"  // refunded in part (Refunded so far)
	PaymentMismatch   Kind = "payment.mismatch" // iamport's record disagrees with ours
	LatePayment       Kind = "payment.late"     // paid after we settled otherwise

	// Subscriptions. Reason says why for renewal_failed, past_due and ended; Due is when
	// the coming charge is due for trial_ending and renewal_upcoming, with Amount.
	SubscriptionStarted         Kind = "subscription.started"
	SubscriptionTrialEnding     Kind = "subscription.trial_ending"
	SubscriptionRenewalUpcoming Kind = "subscription.renewal_upcoming"
	SubscriptionRenewed         Kind = "subscription.renewed"
	SubscriptionRenewalFailed   Kind = "subscription.renewal_failed"
	SubscriptionPastDue         Kind = "subscription.past_due"
	SubscriptionRecovered       Kind = "subscription.recovered"
	SubscriptionCanceled        Kind = "subscription.canceled"
	SubscriptionResumed         Kind = "subscription.resumed"
	SubscriptionPlanChanged     Kind = "subscription.plan_changed"
	SubscriptionEnded           Kind = "subscription.ended"

	// Refunds, with RefundID, Amount (the refund's) and Operator.
	RefundSucceeded Kind = "refund.succeeded"
	RefundFailed    Kind = "refund.failed"
	RefundUnknown   Kind = "refund.unknown" // sent; the reconciler settles it
)

// Event is delivered to the Sink. It carries no secret and no full customer_uid.
type Event struct {
	Kind           Kind
	UserID         string
	MerchantUID    string
	ImpUID         string
	PlanID         string
	SubscriptionID string
	RefundID       string
	Amount         int64
	Refunded       int64 // charge.refunded and charge.cancelled: refunded so far
	Operator       string
	Reason         string
	At             time.Time
	Due            time.Time
}

// Sink receives events. Handle is called synchronously after the state change is
// committed; keep it fast.
type Sink interface {
	Handle(ctx context.Context, e Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, e Event)

// Handle calls f.
func (f SinkFunc) Handle(ctx context.Context, e Event) { f(ctx, e) }
