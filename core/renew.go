package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/store"
)

// The renewal engine: every subscription carries the time its next action is due (a
// charge, a retry, a notice, its end); Renew claims due subscriptions in bounded batches,
// holding a lease on each measured on the store's clock, and moves each as far as it can.
// Every charge of a subscription is an ordinary charge whose idempotency key is made of
// the subscription, the period and the retry, so a renewal is charged exactly once
// however many instances, crashes and restarts there are; a charge whose outcome is
// unknown waits for the reconciler and is never sent twice.

// Bounds of a renewal sweep.
const (
	renewBatch = 50
	maxRenewal = 5000 // subscriptions one sweep works on
	maxSteps   = 6    // steps one subscription may take in one claim
)

// Notices (store.Subscription.Notices bits) sent for the coming charge.
const (
	noticeTrialEnding = 1 << iota
	noticeRenewalUpcoming
)

// renewLease is how long the engine holds a subscription it claimed: at least an
// attempt's lease, since a step may charge.
func (s *Service) renewLease() store.Lease {
	return store.Lease{Owner: s.cfg.InstanceID, For: max(s.cfg.ReconcileAfter, time.Minute)}
}

// RenewReport counts what one renewal sweep did.
type RenewReport struct {
	Claimed, Charged, Renewed, Failed, Ended, Notices, Waiting int
}

// Renew runs one sweep of the renewal engine: subscriptions whose next action is due by
// Config.Now are claimed in batches of 50 and moved on: trials converted, periods renewed,
// failed renewals retried on the SubscriptionPolicy's schedule, notices sent, cancelled
// subscriptions ended. A process that was down catches up here: a renewal that fell due
// meanwhile is charged once (for one period, never for each period missed), and one more
// than SubscriptionPolicy.Grace late starts its new period when it is charged. Safe on
// several instances at once. The error is about the sweep itself; the report counts what
// was done until then.
func (s *Service) Renew(ctx context.Context) (RenewReport, error) {
	ctx, span := s.tel.span(ctx, "renew")
	out, err := s.renewTraced(ctx)
	for result, n := range map[string]int{"claimed": out.Claimed, "charged": out.Charged, "renewed": out.Renewed,
		"failed": out.Failed, "ended": out.Ended, "waiting": out.Waiting} {
		s.tel.count(ctx, s.tel.renewals, "result", result, n)
	}
	endSpan(span, err)
	return out, err
}

// renewTraced is Renew inside its span.
func (s *Service) renewTraced(ctx context.Context) (RenewReport, error) {
	ctx = withSource(ctx, srcRenewal)
	var rep RenewReport
	seen := make(map[string]bool)
	for rep.Claimed < maxRenewal {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		lease := s.renewLease()
		claimedAt := s.cfg.Now()
		batch, err := s.store.ClaimSubscriptions(ctx, store.SubscriptionClaim{Due: s.now(), Lease: lease, Limit: renewBatch})
		if err != nil {
			return rep, s.storeErr(ctx, "claim subscriptions", err)
		}
		fresh := 0
		for _, sub := range batch {
			if sub == nil || seen[sub.ID] {
				continue
			}
			seen[sub.ID] = true
			fresh++
			if s.cfg.Now().Sub(claimedAt) > lease.For/2 {
				continue // the claim may have run out: another instance may hold it
			}
			rep.Claimed++
			s.renewOne(ctx, sub, &rep)
		}
		if len(batch) < renewBatch || fresh == 0 {
			break
		}
	}
	if rep != (RenewReport{}) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: renewed",
			slog.Int("claimed", rep.Claimed), slog.Int("charged", rep.Charged),
			slog.Int("renewed", rep.Renewed), slog.Int("failed", rep.Failed),
			slog.Int("ended", rep.Ended), slog.Int("notices", rep.Notices), slog.Int("waiting", rep.Waiting))
	}
	return rep, nil
}

// renewOne moves one claimed subscription as far as it can and gives its lease back (with
// its last write, when it had one to make).
func (s *Service) renewOne(ctx context.Context, sub *store.Subscription, rep *RenewReport) {
	cur, released, err := s.advanceReleasing(ctx, sub, rep, true)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: renewal step failed",
			slog.String("subscription", sub.ID), slog.String("error", errText(err)))
	}
	if cur == nil || released {
		return
	}
	wctx, cancel := afterwards(ctx)
	defer cancel()
	if _, err := s.store.UpdateSubscription(wctx, cur, true); err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not give a subscription back",
			slog.String("subscription", sub.ID), slog.String("error", errText(err)))
	}
}

// advance takes the steps that are due for sub now, saving after each, and returns the
// subscription as last saved (nil if it could not be read back).
func (s *Service) advance(ctx context.Context, sub *store.Subscription, rep *RenewReport) (*store.Subscription, error) {
	cur, _, err := s.advanceReleasing(ctx, sub, rep, false)
	return cur, err
}

// advanceReleasing is advance for a subscription the engine claimed: with release, the
// last write also gives the lease back (released reports whether it did).
func (s *Service) advanceReleasing(ctx context.Context, sub *store.Subscription, rep *RenewReport, release bool) (cur *store.Subscription, released bool, err error) {
	for range maxSteps {
		next, events, done, err := s.step(ctx, sub, rep)
		if err != nil {
			return sub, false, err
		}
		if next != nil {
			last := release && done
			saved, err := s.saveSubscription(ctx, next, last)
			if errors.Is(err, store.ErrConflict) && next.ChargeMerchantUID != "" && next.ChargeMerchantUID != sub.ChargeMerchantUID {
				// Changed meanwhile (the customer cancelled, say) after a charge was made:
				// the charge must not be lost to the subscription.
				saved, err = s.attachCharge(ctx, sub.ID, next.ChargeMerchantUID)
			}
			if err != nil {
				return s.rereadSubscription(ctx, sub), false, err
			}
			sub, released = saved, last
			for _, e := range events {
				e.SubscriptionID, e.UserID = sub.ID, sub.UserID
				if e.At.IsZero() {
					e.At = sub.UpdatedAt
				}
				s.emit(ctx, e)
			}
		}
		if done {
			return sub, released, nil
		}
	}
	return sub, false, nil
}

// saveSubscription writes sub by compare-and-set, keeping its lease unless release.
func (s *Service) saveSubscription(ctx context.Context, sub *store.Subscription, release bool) (*store.Subscription, error) {
	sub.UpdatedAt = s.now()
	wctx, cancel := afterwards(ctx)
	defer cancel()
	saved, err := s.store.UpdateSubscription(wctx, sub, release)
	if err != nil {
		return nil, err
	}
	return saved, nil
}

// attachCharge records charge mu on subscription id as it now is, retrying a few times
// against concurrent changes. A subscription that ended meanwhile cannot take it: a
// payment of it is reported as a late payment for a person to refund.
func (s *Service) attachCharge(ctx context.Context, id, mu string) (*store.Subscription, error) {
	for range 3 {
		cur, err := s.store.GetSubscription(ctx, id)
		if err != nil {
			return nil, err
		}
		if cur.Status == store.SubscriptionEnded {
			s.log.LogAttrs(ctx, slog.LevelError, "billkey: a renewal was charged for a subscription that ended meanwhile",
				slog.String("subscription", id), slog.String("merchant_uid", mu))
			s.emit(ctx, event.Event{Kind: event.LatePayment, UserID: cur.UserID, SubscriptionID: id, MerchantUID: mu,
				Reason: "renewal charged after the subscription ended: refund it if it was paid", At: s.now()})
			return cur, nil
		}
		if cur.ChargeMerchantUID == mu {
			return cur, nil
		}
		cur.ChargeMerchantUID = mu
		saved, err := s.saveSubscription(ctx, cur, false)
		if !errors.Is(err, store.ErrConflict) {
			return saved, err
		}
	}
	return nil, store.ErrConflict
}

// rereadSubscription reads sub again, nil if it cannot be.
func (s *Service) rereadSubscription(ctx context.Context, sub *store.Subscription) *store.Subscription {
	cur, err := s.store.GetSubscription(ctx, sub.ID)
	if err != nil {
		return nil
	}
	return cur
}

// step works out the next thing due for sub: the subscription to save (nil: nothing
// changed), the events to raise once it is saved, and whether nothing more is due now.
func (s *Service) step(ctx context.Context, sub *store.Subscription, rep *RenewReport) (*store.Subscription, []event.Event, bool, error) {
	now := s.now()
	if sub.Status == store.SubscriptionEnded {
		return nil, nil, true, nil
	}
	next := *sub
	if sub.ChargeMerchantUID != "" {
		return s.applyRenewalCharge(ctx, &next, now, rep)
	}
	switch sub.Status {
	case store.SubscriptionIncomplete:
		return s.chargeRenewal(ctx, &next, now, rep)
	case store.SubscriptionCanceled:
		if end := renewalDue(sub); !now.Before(end) {
			return s.end(&next, now, "cancelled at the end of the period", rep)
		}
		next.NextActionAt = renewalDue(sub)
		return &next, nil, true, nil
	case store.SubscriptionPastDue:
		if sub.NextActionAt.IsZero() || now.Before(sub.NextActionAt) {
			return nil, nil, true, nil
		}
		return s.chargeRenewal(ctx, &next, now, rep)
	}
	// trialing or active: a notice, the renewal itself, or nothing yet.
	due := renewalDue(sub)
	if !now.Before(due) {
		if late := now.Sub(due); late > s.cfg.Subscriptions.Grace && sub.Retries == 0 && !sub.PeriodEnd.IsZero() {
			// Nothing could charge it in time (the process was down): the period due is
			// stretched to now and the next one starts when it is paid.
			next.PeriodEnd, next.Anchor = now, now
		}
		return s.chargeRenewal(ctx, &next, now, rep)
	}
	if e, ok := s.noticeDue(&next, now); ok {
		rep.Notices++
		next.NextActionAt = s.nextActionAt(&next)
		return &next, []event.Event{e}, false, nil
	}
	if at := s.nextActionAt(sub); !at.Equal(sub.NextActionAt) {
		next.NextActionAt = at
		return &next, nil, true, nil
	}
	return nil, nil, true, nil
}

// noticeDue says whether the trial-ending or renewal-upcoming notice is due and unsent,
// and marks it sent on sub.
func (s *Service) noticeDue(sub *store.Subscription, now time.Time) (event.Event, bool) {
	lead := s.cfg.Subscriptions.Notice
	if lead <= 0 {
		return event.Event{}, false
	}
	due := renewalDue(sub)
	kind, bit := event.SubscriptionRenewalUpcoming, noticeRenewalUpcoming
	if sub.Status == store.SubscriptionTrialing {
		kind, bit = event.SubscriptionTrialEnding, noticeTrialEnding
	}
	if sub.Notices&bit != 0 || now.Before(due.Add(-lead)) {
		return event.Event{}, false
	}
	sub.Notices |= bit
	plan := s.plans[nextPlanID(sub)]
	return event.Event{Kind: kind, PlanID: plan.ID, Amount: plan.Amount, Due: due}, true
}

// nextActionAt is when the engine must look at sub next.
func (s *Service) nextActionAt(sub *store.Subscription) time.Time {
	switch sub.Status {
	case store.SubscriptionEnded:
		return time.Time{}
	case store.SubscriptionIncomplete:
		return s.now().Add(s.cfg.ReconcileAfter)
	case store.SubscriptionCanceled:
		return renewalDue(sub)
	case store.SubscriptionPastDue:
		return sub.NextActionAt
	}
	due := renewalDue(sub)
	lead := s.cfg.Subscriptions.Notice
	bit := noticeRenewalUpcoming
	if sub.Status == store.SubscriptionTrialing {
		bit = noticeTrialEnding
	}
	if lead > 0 && sub.Notices&bit == 0 && s.now().Before(due.Add(-lead)) {
		return due.Add(-lead)
	}
	return due
}

// renewalKey is the idempotency key of the charge for period of subscription id, at
// retry: one charge per (subscription, period, retry), so a renewal is charged exactly once
// however often the engine gets to it.
func renewalKey(id string, period, retry int) string {
	return firstChargeKeyPrefix + "sub:" + id + ":" + strconv.Itoa(period) + ":" + strconv.Itoa(retry)
}

// chargingPeriod is the index of the period sub's next charge pays for.
func chargingPeriod(sub *store.Subscription) int {
	if sub.PeriodEnd.IsZero() {
		return 0 // the first paid period (after a trial, or at the start)
	}
	return sub.Period + 1
}

// chargeRenewal charges the period sub's next charge pays for, with the user's current
// billing key, and records the charge on sub.
func (s *Service) chargeRenewal(ctx context.Context, sub *store.Subscription, now time.Time, rep *RenewReport) (*store.Subscription, []event.Event, bool, error) {
	plan, ok := s.plans[nextPlanID(sub)]
	if !ok {
		return s.end(sub, now, "the plan "+nextPlanID(sub)+" is no longer offered", rep)
	}
	// The charge takes the user's billing key as it is stored, after its idempotency key:
	// a period charged before the key went away (its write on sub lost) is found again,
	// not failed for a missing key.
	c := &store.Charge{
		UserID:         sub.UserID,
		IdempotencyKey: renewalKey(sub.ID, chargingPeriod(sub), sub.Retries),
		PlanID:         plan.ID,
		Name:           plan.Name,
		Amount:         plan.Amount,
		SubscriptionID: sub.ID,
		Period:         chargingPeriod(sub),
	}
	view, cerr := s.createAndRun(ctx, c, true)
	if view == nil {
		if ErrorCode(cerr) == codes.BillingKeyMissing {
			return s.renewalFailed(sub, now, codes.BillingKeyMissing, "no billing key registered", rep)
		}
		return nil, nil, true, cerr // nothing was created: the next sweep tries again
	}
	rep.Charged++
	switch view.Status {
	case store.ChargePaid, store.ChargeFailed, store.ChargeCancelled:
		// Settled at once: its outcome goes on the subscription in the same write. Were
		// that write lost, the next sweep would find the same charge under the same key.
		c.MerchantUID, c.Status, c.FailCode, c.FailReason = view.MerchantUID, view.Status, view.FailCode, view.FailReason
		if view.PaidAt != nil {
			c.PaidAt = *view.PaidAt
		}
		sub.ChargeMerchantUID = view.MerchantUID
		return s.applySettledRenewal(sub, c, now, rep)
	}
	sub.ChargeMerchantUID = view.MerchantUID
	sub.NextActionAt = now.Add(s.cfg.ReconcileAfter / 2)
	return sub, nil, false, nil
}

// applyRenewalCharge applies the outcome of sub's charge in progress.
func (s *Service) applyRenewalCharge(ctx context.Context, sub *store.Subscription, now time.Time, rep *RenewReport) (*store.Subscription, []event.Event, bool, error) {
	c, err := s.store.GetCharge(ctx, sub.ChargeMerchantUID)
	if err != nil {
		return nil, nil, true, err
	}
	switch c.Status {
	case store.ChargePaid, store.ChargeFailed, store.ChargeCancelled:
		return s.applySettledRenewal(sub, c, now, rep)
	}
	// Not settled yet: the reconciler settles it; look again in a while.
	rep.Waiting++
	sub.NextActionAt = now.Add(s.cfg.ReconcileAfter / 2)
	return sub, nil, true, nil
}

// applySettledRenewal applies the outcome of sub's settled charge c.
func (s *Service) applySettledRenewal(sub *store.Subscription, c *store.Charge, now time.Time, rep *RenewReport) (*store.Subscription, []event.Event, bool, error) {
	if c.Status == store.ChargePaid {
		return s.renewalPaid(sub, c, now, rep)
	}
	code := failError(c).Code
	if c.Status == store.ChargeCancelled {
		code = codes.CardDeclined
	}
	return s.renewalFailed(sub, now, code, c.FailReason, rep)
}

// renewalPaid starts the period the paid charge c paid for.
func (s *Service) renewalPaid(sub *store.Subscription, c *store.Charge, now time.Time, rep *RenewReport) (*store.Subscription, []event.Event, bool, error) {
	loc := s.cfg.Subscriptions.Location
	plan := s.plans[c.PlanID]
	first := sub.PeriodEnd.IsZero()
	start := sub.PeriodEnd
	switch {
	case first && sub.TrialEnd.IsZero(): // the first charge of a subscription without a trial
		start = c.PaidAt
		if start.IsZero() {
			start = now
		}
		sub.Anchor = start
	case first: // the trial's conversion
		start = sub.TrialEnd
		if now.Sub(start) > s.cfg.Subscriptions.Grace {
			start = now
		}
		sub.Anchor = start
	case sub.Status == store.SubscriptionPastDue && now.After(s.entitledUntil(sub)):
		// The customer lost access while it was past due: the period paid for starts now,
		// not when the renewal was due.
		start, sub.Anchor = now, now
	}
	was := sub.Status
	sub.Period = c.Period
	sub.PeriodStart = start
	sub.PeriodEnd = periodEnd(start, sub.Anchor, plan.Every, loc)
	sub.PlanID = c.PlanID
	if sub.NextPlanID == c.PlanID {
		sub.NextPlanID = ""
	}
	sub.Status = store.SubscriptionActive
	if sub.CancelAtPeriodEnd {
		sub.Status = store.SubscriptionCanceled // cancelled while the charge was in flight: runs to the new end
	}
	sub.Retries, sub.Notices, sub.ChargeMerchantUID = 0, 0, ""
	sub.NextActionAt = s.nextActionAt(sub)
	rep.Renewed++
	kind := event.SubscriptionRenewed
	switch was {
	case store.SubscriptionIncomplete:
		kind = event.SubscriptionStarted
	case store.SubscriptionPastDue:
		kind = event.SubscriptionRecovered
	}
	return sub, []event.Event{{Kind: kind, PlanID: c.PlanID, MerchantUID: c.MerchantUID, Amount: c.Amount, Due: sub.PeriodEnd}}, true, nil
}

// renewalFailed records a failed renewal charge: a subscription whose first charge fails
// never starts; any other goes past_due and is retried on the policy's schedule, and ends
// (or stays past_due, with KeepPastDue) when the last retry fails.
func (s *Service) renewalFailed(sub *store.Subscription, now time.Time, code, reason string, rep *RenewReport) (*store.Subscription, []event.Event, bool, error) {
	rep.Failed++
	sub.ChargeMerchantUID = ""
	why := withReason(code, reason)
	if sub.Status == store.SubscriptionIncomplete {
		return s.end(sub, now, "the first charge failed: "+why, rep)
	}
	events := []event.Event{{Kind: event.SubscriptionRenewalFailed, PlanID: nextPlanID(sub), Reason: why}}
	if sub.Status != store.SubscriptionPastDue {
		events = append(events, event.Event{Kind: event.SubscriptionPastDue, PlanID: nextPlanID(sub), Reason: why})
	}
	sub.Status = store.SubscriptionPastDue
	sub.Retries++
	retries := s.cfg.Subscriptions.Retries
	if sub.Retries <= len(retries) {
		sub.NextActionAt = renewalDue(sub).Add(retries[sub.Retries-1])
		if !sub.NextActionAt.After(now) {
			sub.NextActionAt = now
		}
		return sub, events, true, nil
	}
	if s.cfg.Subscriptions.KeepPastDue {
		sub.NextActionAt = time.Time{} // until a new card is registered, or it is cancelled
		return sub, events, true, nil
	}
	next, ended, done, err := s.end(sub, now, fmt.Sprintf("the renewal failed %d times: %s", sub.Retries, why), rep)
	return next, append(events, ended...), done, err
}

// end ends sub now, freeing its plan group's slot.
func (s *Service) end(sub *store.Subscription, now time.Time, reason string, rep *RenewReport) (*store.Subscription, []event.Event, bool, error) {
	rep.Ended++
	sub.Status = store.SubscriptionEnded
	sub.EndedAt, sub.EndReason = now, cleanText(scrub(reason), 200)
	sub.Slot, sub.NextActionAt, sub.ChargeMerchantUID = "", time.Time{}, ""
	return sub, []event.Event{{Kind: event.SubscriptionEnded, PlanID: sub.PlanID, Reason: sub.EndReason}}, true, nil
}
