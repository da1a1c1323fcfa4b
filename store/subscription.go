package store

import (
	"context"
	"time"
)

// SubscriptionStatus is the state of a subscription. incomplete -> active | ended (the
// first period's charge settles); trialing -> active | past_due | ended; active ->
// past_due | canceled | ended; past_due -> active | ended; canceled -> active (resumed
// before the period ends) | ended. ended is final. core moves it; the store only keeps it
// and compares versions.
type SubscriptionStatus string

// Subscription states.
const (
	SubscriptionIncomplete SubscriptionStatus = "incomplete" // the first period's charge is not settled yet
	SubscriptionTrialing   SubscriptionStatus = "trialing"
	SubscriptionActive     SubscriptionStatus = "active"
	SubscriptionPastDue    SubscriptionStatus = "past_due" // a renewal failed; dunning retries it
	SubscriptionCanceled   SubscriptionStatus = "canceled" // runs to PeriodEnd, then ends
	SubscriptionEnded      SubscriptionStatus = "ended"
)

// Subscription is one user's subscription to one plan. core computes every field; the
// store keeps it, hands out copies, and updates it by compare-and-set on Version.
type Subscription struct {
	ID             string // unique; alphanumeric, made by core
	UserID         string
	IdempotencyKey string // unique per user: the request that started it
	PlanID         string // the plan of the current period
	NextPlanID     string // the plan from the next period on; "" = PlanID
	// Slot, when not "", is unique among the user's subscriptions: core sets it to the
	// plan group while a subscription is live and clears it when it ends, so that a user
	// holds at most one live subscription per group.
	Slot   string
	Status SubscriptionStatus
	// Anchor is the instant periods are counted from; Period is the index of the current
	// period (0 = the first paid period), which PeriodStart and PeriodEnd bound.
	Anchor            time.Time
	Period            int
	PeriodStart       time.Time
	PeriodEnd         time.Time
	TrialEnd          time.Time // zero without a trial
	CancelAtPeriodEnd bool
	CanceledAt        time.Time
	EndedAt           time.Time
	EndReason         string
	// Retries counts the failed charges of the renewal in progress (dunning).
	Retries int
	// ChargeMerchantUID is the charge of the renewal in progress, until its outcome is
	// applied to the subscription.
	ChargeMerchantUID string
	// NextActionAt is when the renewal engine looks at the subscription next (a charge, a
	// retry, a notice, the end of a period); zero = never.
	NextActionAt time.Time
	// Notices is the set of notices (bits, core's) already sent for the coming period.
	Notices   int
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is 1 when created and grows by one with every update.
	Version int
	// ClaimedBy and ClaimedUntil are the renewal engine's lease, on the store's clock.
	ClaimedBy    string
	ClaimedUntil time.Time
}

// SubscriptionClaim asks for subscriptions whose next action is due.
type SubscriptionClaim struct {
	// Due is the caller's business time: subscriptions with a NextActionAt (not zero) at or
	// before it are due. Instances may disagree on it by a few seconds: that only moves a
	// renewal by as much, while the lease keeps two instances off one subscription.
	Due   time.Time
	Lease Lease // taken on each claimed subscription, on the store's clock
	Limit int
}

// Subscriptions keeps subscriptions. Every method is safe for concurrent use and, for
// stores shared by several instances, across processes.
type Subscriptions interface {
	// CreateSubscription inserts sub (Version 1) unless the user already has a
	// subscription with sub.IdempotencyKey, in which case it returns that one and
	// created=false. ErrDuplicate if sub.ID exists, or sub.Slot is set and taken by
	// another of the user's subscriptions.
	CreateSubscription(ctx context.Context, sub *Subscription) (stored *Subscription, created bool, err error)
	// GetSubscription finds a subscription by id. ErrNotFound if none.
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	// ListSubscriptions returns the user's subscriptions, newest CreatedAt first.
	ListSubscriptions(ctx context.Context, userID string) ([]*Subscription, error)
	// UpdateSubscription stores every field of sub but ID, UserID, IdempotencyKey,
	// CreatedAt and the lease, if the stored Version equals sub.Version, and returns the
	// stored subscription with Version one higher. release clears the lease; otherwise it
	// is kept. ErrConflict if the version differs; ErrNotFound if none; ErrDuplicate if
	// sub.Slot is taken by another of the user's subscriptions.
	UpdateSubscription(ctx context.Context, sub *Subscription, release bool) (*Subscription, error)
	// ClaimSubscriptions claims up to req.Limit due subscriptions whose lease has run out
	// by the store's clock (or that hold none), earliest NextActionAt first, taking
	// req.Lease on each. Concurrent callers never receive the same subscription while a
	// lease holds. Bounded: a store reads no more rows than the limit needs.
	ClaimSubscriptions(ctx context.Context, req SubscriptionClaim) ([]*Subscription, error)
}
