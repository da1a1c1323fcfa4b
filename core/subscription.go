package core

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// prefixSubscription starts every subscription id billkey makes.
const prefixSubscription = "bks"

func errSubscriptionState(detail string) *Error {
	return newError(codes.SubscriptionState, detail, nil)
}

// Subscribe starts a subscription of the user to a plan with a billing period, once per
// idempotency key: the same key returns the same subscription (another plan under it is
// codes.IdempotencyKeyReused). A plan with a trial starts trialing and is first charged when
// the trial ends; any other is charged for its first period at once, and is active once
// that charge is paid. The user needs a billing key. A user holds one live subscription per
// plan group unless SubscriptionPolicy.SeveralPerGroup.
//
// The view is returned whenever a subscription exists, also with an error: the first
// charge's (codes.CardDeclined, codes.ChargeRefused, codes.BillingKeyGone: the subscription ended
// before it started) or codes.ChargeInProgress (incomplete until the charge settles).
// Errors without a view: codes.Unauthenticated, codes.InvalidRequest,
// codes.IdempotencyKeyRequired, codes.PlanUnknown (no such plan, or one without a billing
// period), codes.IdempotencyKeyReused, codes.BillingKeyMissing, codes.SubscriptionExists,
// codes.Internal.
func (s *Service) Subscribe(ctx context.Context, req SubscribeRequest) (*SubscriptionView, error) {
	ctx, span := s.tel.span(ctx, "subscribe", attribute.String("plan", req.PlanID))
	out, err := s.subscribeTraced(ctx, req)
	endSpan(span, err)
	return out, err
}

// subscribeTraced is Subscribe inside its span.
func (s *Service) subscribeTraced(ctx context.Context, req SubscribeRequest) (*SubscriptionView, error) {
	ctx = withSource(ctx, srcRequest)
	if e := checkUserID(req.UserID); e != nil {
		return nil, e
	}
	switch {
	case req.IdempotencyKey == "":
		return nil, newError(codes.IdempotencyKeyRequired, "an idempotency key is required", nil)
	case !idrule.IdempotencyKey.Valid(req.IdempotencyKey):
		return nil, errInvalid("the idempotency key must be " + idrule.IdempotencyKey.Describe())
	case strings.HasPrefix(req.IdempotencyKey, firstChargeKeyPrefix):
		return nil, errInvalid("idempotency keys starting with " + firstChargeKeyPrefix + " are reserved")
	}
	return s.subscribe(ctx, req)
}

// subscribe is Subscribe without the checks of the caller's key (the issuance path uses a
// key of its own).
func (s *Service) subscribe(ctx context.Context, req SubscribeRequest) (*SubscriptionView, error) {
	plan, ok := s.plans[req.PlanID]
	if !ok || plan.Every.IsZero() {
		return nil, newError(codes.PlanUnknown, "no subscription plan with this id", nil)
	}
	if existing, err := s.subscriptionByKey(ctx, req.UserID, req.IdempotencyKey); err != nil || existing != nil {
		if err != nil {
			return nil, err
		}
		return s.subscribeAnswer(ctx, existing, req.PlanID)
	}
	if _, err := s.store.GetBillingKey(ctx, req.UserID); errors.Is(err, store.ErrNotFound) {
		return nil, errKeyMissing()
	} else if err != nil {
		return nil, s.storeErr(ctx, "get billing key", err)
	}
	sub := s.newSubscription(req, plan)
	stored, created, err := s.store.CreateSubscription(ctx, sub)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return nil, newError(codes.SubscriptionExists, "a live subscription of this plan's group exists", err)
	case err != nil:
		return nil, s.storeErr(ctx, "create subscription", err)
	case !created:
		return s.subscribeAnswer(ctx, stored, req.PlanID)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: subscription created", slog.String("subscription", stored.ID), slog.String("plan", plan.ID))
	if stored.Status == store.SubscriptionTrialing {
		s.emit(ctx, event.Event{Kind: event.SubscriptionStarted, UserID: stored.UserID, SubscriptionID: stored.ID,
			PlanID: plan.ID, Amount: plan.Amount, Due: stored.TrialEnd, At: stored.CreatedAt})
	}
	var rep RenewReport
	cur, err := s.advance(ctx, stored, &rep)
	if cur == nil {
		return nil, s.storeErr(ctx, "advance subscription", err)
	}
	return s.subscribeAnswer(ctx, cur, req.PlanID)
}

// newSubscription is the row of a new subscription: trialing, or incomplete until its
// first charge is paid.
func (s *Service) newSubscription(req SubscribeRequest, plan Plan) *store.Subscription {
	now := s.now()
	sub := &store.Subscription{
		ID:             newMerchantUID(prefixSubscription, now),
		UserID:         req.UserID,
		IdempotencyKey: req.IdempotencyKey,
		PlanID:         plan.ID,
		Status:         store.SubscriptionIncomplete,
		Anchor:         now,
		CreatedAt:      now,
		UpdatedAt:      now,
		// Taken up by the engine only if the first charge below does not finish.
		NextActionAt: now.Add(s.cfg.ReconcileAfter),
	}
	if !s.cfg.Subscriptions.SeveralPerGroup {
		sub.Slot = "group:" + plan.Group
	}
	if !plan.Trial.IsZero() {
		sub.Status = store.SubscriptionTrialing
		sub.TrialEnd = trialEnd(now, plan.Trial, s.cfg.Subscriptions.Location)
		sub.NextActionAt = s.nextActionAt(sub)
	}
	return sub
}

// subscriptionByKey finds the user's subscription started with key, nil if none.
func (s *Service) subscriptionByKey(ctx context.Context, userID, key string) (*store.Subscription, error) {
	subs, err := s.store.ListSubscriptions(ctx, userID)
	if err != nil {
		return nil, s.storeErr(ctx, "list subscriptions", err)
	}
	for _, sub := range subs {
		if sub.IdempotencyKey == key {
			return sub, nil
		}
	}
	return nil, nil
}

// subscribeAnswer is Subscribe's result for a stored subscription: its view, with the
// first charge's error while it is not active.
func (s *Service) subscribeAnswer(ctx context.Context, sub *store.Subscription, planID string) (*SubscriptionView, error) {
	if sub.PlanID != planID && sub.NextPlanID != planID {
		return nil, newError(codes.IdempotencyKeyReused, "this idempotency key started another subscription", nil)
	}
	v, err := s.viewWithCharges(ctx, sub)
	if err != nil {
		return nil, err
	}
	switch sub.Status {
	case store.SubscriptionIncomplete:
		return v, errInProgress()
	case store.SubscriptionEnded:
		if len(v.Charges) > 0 && v.Charges[0].Status == ChargeFailed {
			return v, newError(v.Charges[0].FailCode, withReason("the subscription did not start", v.Charges[0].FailReason), nil)
		}
	}
	return v, nil
}

// viewWithCharges is sub's view with its charges.
func (s *Service) viewWithCharges(ctx context.Context, sub *store.Subscription) (*SubscriptionView, error) {
	cs, err := s.store.ListCharges(ctx, sub.UserID, maxListLimit)
	if err != nil {
		return nil, s.storeErr(ctx, "list charges", err)
	}
	return s.subscriptionView(sub, cs), nil
}

// Subscription returns one of the user's subscriptions with its charges. Another user's,
// a malformed and a missing id all give codes.NotFound alike.
func (s *Service) Subscription(ctx context.Context, userID, id string) (*SubscriptionView, error) {
	sub, err := s.usersSubscription(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	return s.viewWithCharges(ctx, sub)
}

// Subscriptions returns the user's subscriptions, newest first, with their charges.
func (s *Service) Subscriptions(ctx context.Context, userID string) ([]SubscriptionView, error) {
	if e := checkUserID(userID); e != nil {
		return nil, e
	}
	subs, err := s.store.ListSubscriptions(ctx, userID)
	if err != nil {
		return nil, s.storeErr(ctx, "list subscriptions", err)
	}
	cs, err := s.store.ListCharges(ctx, userID, maxListLimit)
	if err != nil {
		return nil, s.storeErr(ctx, "list charges", err)
	}
	out := make([]SubscriptionView, 0, len(subs))
	for _, sub := range subs {
		if sub.UserID == userID {
			out = append(out, *s.subscriptionView(sub, cs))
		}
	}
	return out, nil
}

// usersSubscription loads subscription id if it is the user's.
func (s *Service) usersSubscription(ctx context.Context, userID, id string) (*store.Subscription, error) {
	if e := checkUserID(userID); e != nil {
		return nil, e
	}
	if !idrule.SubscriptionID.Valid(id) {
		return nil, errNotFound("no such subscription")
	}
	sub, err := s.store.GetSubscription(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && sub.UserID != userID {
		return nil, errNotFound("no such subscription")
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get subscription", err)
	}
	return sub, nil
}

// CancelSubscription cancels one of the user's subscriptions: at the end of the period
// paid for (atPeriodEnd; a trial at its end), when it becomes canceled and is no longer
// charged, or now, when it ends at once. A past_due or incomplete subscription has no
// paid period to run to: it ends now either way. Errors: codes.NotFound,
// codes.SubscriptionState (already ended, or a charge of it is in flight: ask again in a
// moment), codes.Conflict (changed meanwhile: ask again), codes.Internal.
func (s *Service) CancelSubscription(ctx context.Context, userID, id string, atPeriodEnd bool) (*SubscriptionView, error) {
	return s.changeSubscription(ctx, userID, id, func(sub *store.Subscription) ([]event.Event, *Error) {
		now := s.now()
		switch {
		case sub.Status == store.SubscriptionEnded:
			return nil, errSubscriptionState("the subscription has ended")
		case sub.ChargeMerchantUID != "":
			return nil, errSubscriptionState("a charge of this subscription is in progress; try again in a moment")
		case atPeriodEnd && (sub.Status == store.SubscriptionActive || sub.Status == store.SubscriptionTrialing):
			sub.Status, sub.CancelAtPeriodEnd, sub.CanceledAt = store.SubscriptionCanceled, true, now
			sub.NextActionAt = renewalDue(sub)
			return []event.Event{{Kind: event.SubscriptionCanceled, PlanID: sub.PlanID, Due: renewalDue(sub)}}, nil
		case atPeriodEnd && sub.Status == store.SubscriptionCanceled:
			return nil, nil // already
		}
		sub.CanceledAt = now
		var rep RenewReport
		next, events, _, _ := s.end(sub, now, "cancelled", &rep)
		*sub = *next
		return append([]event.Event{{Kind: event.SubscriptionCanceled, PlanID: sub.PlanID}}, events...), nil
	})
}

// ResumeSubscription undoes a cancellation at period end before the period ends: the
// subscription renews again. Errors: codes.NotFound, codes.SubscriptionState (not cancelled
// at period end, or its period is over), codes.Conflict, codes.Internal.
func (s *Service) ResumeSubscription(ctx context.Context, userID, id string) (*SubscriptionView, error) {
	return s.changeSubscription(ctx, userID, id, func(sub *store.Subscription) ([]event.Event, *Error) {
		if sub.Status != store.SubscriptionCanceled || !s.now().Before(renewalDue(sub)) {
			return nil, errSubscriptionState("only a subscription cancelled at period end can be resumed, before the period ends")
		}
		sub.Status, sub.CancelAtPeriodEnd, sub.CanceledAt = store.SubscriptionActive, false, time.Time{}
		if sub.PeriodEnd.IsZero() {
			sub.Status = store.SubscriptionTrialing
		}
		sub.NextActionAt = s.nextActionAt(sub)
		return []event.Event{{Kind: event.SubscriptionResumed, PlanID: sub.PlanID, Due: renewalDue(sub)}}, nil
	})
}

// ChangePlan switches one of the user's subscriptions to another subscription plan of
// the same group from the next period on: the current period stays as paid for, and the
// next charge is the new plan's price. There is no proration and no immediate switch.
// Changing back to the current plan before the period ends cancels the change. Errors:
// codes.NotFound, codes.PlanUnknown, codes.SubscriptionState (ended, or the plan is of another
// group), codes.Conflict, codes.Internal.
func (s *Service) ChangePlan(ctx context.Context, userID, id, planID string) (*SubscriptionView, error) {
	plan, ok := s.plans[planID]
	if !ok || plan.Every.IsZero() {
		return nil, newError(codes.PlanUnknown, "no subscription plan with this id", nil)
	}
	return s.changeSubscription(ctx, userID, id, func(sub *store.Subscription) ([]event.Event, *Error) {
		cur := s.plans[sub.PlanID]
		switch {
		case sub.Status == store.SubscriptionEnded:
			return nil, errSubscriptionState("the subscription has ended")
		case cur.Group != plan.Group:
			return nil, errSubscriptionState("the plan belongs to another plan group; start a subscription to it instead")
		}
		sub.NextPlanID = plan.ID
		if plan.ID == sub.PlanID {
			sub.NextPlanID = ""
		}
		sub.Notices &^= noticeRenewalUpcoming | noticeTrialEnding // the customer is told the new price
		sub.NextActionAt = s.nextActionAt(sub)
		return []event.Event{{Kind: event.SubscriptionPlanChanged, PlanID: plan.ID, Amount: plan.Amount, Due: renewalDue(sub)}}, nil
	})
}

// changeSubscription applies change to the user's subscription by compare-and-set and
// raises its events once it is saved.
func (s *Service) changeSubscription(ctx context.Context, userID, id string, change func(*store.Subscription) ([]event.Event, *Error)) (*SubscriptionView, error) {
	sub, err := s.usersSubscription(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	events, e := change(sub)
	if e != nil {
		return nil, e
	}
	if events == nil {
		return s.viewWithCharges(ctx, sub)
	}
	sub.UpdatedAt = s.now()
	saved, err := s.store.UpdateSubscription(ctx, sub, false)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, newError(codes.Conflict, "the subscription changed meanwhile; try again", err)
	case err != nil:
		return nil, s.storeErr(ctx, "update subscription", err)
	}
	for _, ev := range events {
		ev.UserID, ev.SubscriptionID, ev.At = saved.UserID, saved.ID, saved.UpdatedAt
		s.emit(ctx, ev)
	}
	return s.viewWithCharges(ctx, saved)
}

// chargesSubscription reports whether the user has a subscription billkey will charge
// again (incomplete, trialing, active or past_due).
func (s *Service) chargesSubscription(ctx context.Context, userID string) (bool, error) {
	subs, err := s.store.ListSubscriptions(ctx, userID)
	if err != nil {
		return false, s.storeErr(ctx, "list subscriptions", err)
	}
	for _, sub := range subs {
		if live(sub) {
			return true, nil
		}
	}
	return false, nil
}
