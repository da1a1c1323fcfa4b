package core

import (
	"time"

	"github.com/billkey/billkey/store"
)

// SubscriptionStatus is the state of a subscription: incomplete (its first charge is not
// settled yet), trialing, active, past_due (a renewal failed and is being retried),
// canceled (cancelled at period end: it runs to the end of the period paid for) or ended.
type SubscriptionStatus = store.SubscriptionStatus

// Subscription states, as SubscriptionView.Status shows them.
const (
	SubscriptionIncomplete = store.SubscriptionIncomplete
	SubscriptionTrialing   = store.SubscriptionTrialing
	SubscriptionActive     = store.SubscriptionActive
	SubscriptionPastDue    = store.SubscriptionPastDue
	SubscriptionCanceled   = store.SubscriptionCanceled
	SubscriptionEnded      = store.SubscriptionEnded
)

// SubscriptionView is what a user may see of a subscription.
type SubscriptionView struct {
	ID         string             `json:"id"`
	PlanID     string             `json:"plan"`
	NextPlanID string             `json:"next_plan,omitempty"` // from the next period on
	Status     SubscriptionStatus `json:"status"`
	// CurrentPeriodStart and CurrentPeriodEnd bound the period paid for (none yet while
	// incomplete or trialing).
	CurrentPeriodStart *time.Time `json:"current_period_start,omitempty"`
	CurrentPeriodEnd   *time.Time `json:"current_period_end,omitempty"`
	TrialEnd           *time.Time `json:"trial_end,omitempty"`
	// NextChargeAt and NextAmount are the next charge billkey will make, if any.
	NextChargeAt      *time.Time `json:"next_charge_at,omitempty"`
	NextAmount        int64      `json:"next_amount,omitempty"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	// Retries counts the failed charges of a renewal being retried (past_due).
	Retries   int        `json:"retries,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	EndReason string     `json:"end_reason,omitempty"`
	// EntitledUntil is when the customer's access ends as things stand (see Entitled).
	EntitledUntil *time.Time   `json:"entitled_until,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	Charges       []ChargeView `json:"charges,omitempty"` // newest first
}

// Entitled reports whether the customer has what they subscribed to at now: during a
// trial, during a paid period (and the renewal's grace after it), after cancelling until
// the paid period ends, and while past_due until the last retry, or, with
// SubscriptionPolicy.LockPastDue, only until the paid period ends.
func (v *SubscriptionView) Entitled(now time.Time) bool {
	return v != nil && v.EntitledUntil != nil && now.Before(*v.EntitledUntil)
}

// SubscribeRequest asks to start a subscription to a plan with a billing period.
type SubscribeRequest struct {
	UserID         string
	PlanID         string
	IdempotencyKey string // required: the same key returns the same subscription
}

// subscriptionView is what the user may see of sub, with its charges (newest first).
func (s *Service) subscriptionView(sub *store.Subscription, charges []*store.Charge) *SubscriptionView {
	v := &SubscriptionView{
		ID:                 sub.ID,
		PlanID:             sub.PlanID,
		NextPlanID:         sub.NextPlanID,
		Status:             sub.Status,
		CurrentPeriodStart: timePtr(sub.PeriodStart),
		CurrentPeriodEnd:   timePtr(sub.PeriodEnd),
		TrialEnd:           timePtr(sub.TrialEnd),
		CancelAtPeriodEnd:  sub.CancelAtPeriodEnd,
		Retries:            sub.Retries,
		EndedAt:            timePtr(sub.EndedAt),
		EndReason:          sub.EndReason,
		EntitledUntil:      timePtr(s.entitledUntil(sub)),
		CreatedAt:          sub.CreatedAt,
	}
	if at, amount, ok := s.nextCharge(sub); ok {
		v.NextChargeAt, v.NextAmount = &at, amount
	}
	for _, c := range charges {
		if c.SubscriptionID == sub.ID {
			v.Charges = append(v.Charges, *viewOf(c))
		}
	}
	return v
}

// timePtr is t, or nil for the zero time (left out of the JSON).
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// entitledUntil is when sub's customer loses access as things stand.
func (s *Service) entitledUntil(sub *store.Subscription) time.Time {
	pol := s.cfg.Subscriptions
	switch sub.Status {
	case store.SubscriptionTrialing:
		return sub.TrialEnd
	case store.SubscriptionActive:
		return sub.PeriodEnd.Add(pol.Grace)
	case store.SubscriptionCanceled:
		if sub.PeriodEnd.IsZero() {
			return sub.TrialEnd
		}
		return sub.PeriodEnd
	case store.SubscriptionPastDue:
		if pol.LockPastDue || len(pol.Retries) == 0 {
			return sub.PeriodEnd
		}
		return renewalDue(sub).Add(pol.Retries[len(pol.Retries)-1])
	}
	return time.Time{}
}

// nextCharge is the next charge billkey will make for sub: when, and how much.
func (s *Service) nextCharge(sub *store.Subscription) (time.Time, int64, bool) {
	plan, ok := s.plans[nextPlanID(sub)]
	if !ok {
		return time.Time{}, 0, false
	}
	switch sub.Status {
	case store.SubscriptionTrialing:
		return sub.TrialEnd, plan.Amount, true
	case store.SubscriptionActive:
		return sub.PeriodEnd, plan.Amount, true
	case store.SubscriptionPastDue:
		if !sub.NextActionAt.IsZero() {
			return sub.NextActionAt, plan.Amount, true
		}
	}
	return time.Time{}, 0, false
}

// nextPlanID is the plan the next period is charged for.
func nextPlanID(sub *store.Subscription) string {
	if sub.NextPlanID != "" {
		return sub.NextPlanID
	}
	return sub.PlanID
}

// renewalDue is when the renewal in sub's future (or being retried) was due: the end of
// the paid period, or of the trial before any period was paid.
func renewalDue(sub *store.Subscription) time.Time {
	if sub.PeriodEnd.IsZero() {
		return sub.TrialEnd
	}
	return sub.PeriodEnd
}

// live reports whether sub still holds its plan group's slot.
func live(sub *store.Subscription) bool {
	switch sub.Status {
	case store.SubscriptionIncomplete, store.SubscriptionTrialing, store.SubscriptionActive, store.SubscriptionPastDue:
		return true
	}
	return false
}
