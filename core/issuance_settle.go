package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

// settleFailed moves a pending issuance to failed and raises issuance.failed.
func (s *Service) settleFailed(ctx context.Context, is *store.Issuance, impUID, reason string) (*IssuanceResult, error) {
	now := s.now()
	_, err := s.store.SettleIssuance(ctx, is.MerchantUID,
		&store.Issuance{Status: store.IssuanceFailed, ImpUID: impUID, FailReason: reason, UpdatedAt: now}, nil)
	switch {
	case errors.Is(err, store.ErrConflict):
		return s.reread(ctx, is.MerchantUID)
	case errors.Is(err, store.ErrDuplicate):
		// The imp_uid is recorded on another issuance: not this one's payment.
		s.emitMismatch(ctx, event.Event{UserID: is.UserID, MerchantUID: is.MerchantUID, ImpUID: impUID,
			PlanID: is.PlanID, Reason: "imp_uid already recorded for another issuance", At: now})
		return nil, errPaymentMismatch()
	case err != nil:
		return nil, s.storeErr(ctx, "settle issuance failed", err)
	}
	s.emit(ctx, event.Event{Kind: event.IssuanceFailed, UserID: is.UserID, MerchantUID: is.MerchantUID,
		ImpUID: impUID, PlanID: is.PlanID, Amount: is.Amount, Reason: reason, At: now})
	return nil, errIssuanceFailed(reason)
}

// settleIssued records the verified key. Only the caller whose compare-and-set wins
// raises billing_key.issued and removes the replaced key at iamport.
func (s *Service) settleIssued(ctx context.Context, is *store.Issuance, p *iamport.Payment, cust *iamport.Customer, now time.Time) (*IssuanceResult, error) {
	cardNumber := maskCardNumber(cust.CardNumber)
	cardName := cleanText(cust.CardName, 64)
	to := &store.Issuance{
		Status:     store.IssuanceIssued,
		ImpUID:     p.ImpUID,
		CardName:   cardName,
		CardNumber: cardNumber,
		UpdatedAt:  now,
	}
	if s.oneOffPlan(is.PlanID) {
		// The first charge's intent is committed before the issuance is settled (R18):
		// a crash between the two leaves a pending charge the reconciler finds. Every
		// racing completion maps to this one row through its idempotency key.
		row := s.firstChargeRow(is)
		row.MerchantUID = newMerchantUID(prefixCharge, now)
		row.Status = store.ChargePending
		row.CreatedAt, row.UpdatedAt = now, now
		stored, _, err := s.store.CreateCharge(ctx, row, s.attemptLease())
		if err == nil && stored == nil {
			err = errors.New("store returned no charge")
		}
		if err != nil {
			return nil, s.storeErr(ctx, "create first charge", err)
		}
		to.ChargeMerchantUID = stored.MerchantUID
	}
	key := &store.BillingKey{
		UserID:              is.UserID,
		CustomerUID:         is.CustomerUID,
		IssuanceMerchantUID: is.MerchantUID,
		CardName:            cardName,
		CardNumber:          cardNumber,
		PGProvider:          cleanText(cust.PGProvider, 32),
		IssuedAt:            now,
	}
	replaced, err := s.store.SettleIssuance(ctx, is.MerchantUID, to, key)
	switch {
	case errors.Is(err, store.ErrConflict):
		return s.reread(ctx, is.MerchantUID)
	case errors.Is(err, store.ErrDuplicate):
		s.emitMismatch(ctx, event.Event{UserID: is.UserID, MerchantUID: is.MerchantUID, ImpUID: p.ImpUID,
			PlanID: is.PlanID, Reason: "imp_uid already recorded for another issuance", At: now})
		return nil, errPaymentMismatch()
	case err != nil:
		return nil, s.storeErr(ctx, "settle issuance issued", err)
	}
	settled := *is
	settled.Status = store.IssuanceIssued
	settled.ImpUID = to.ImpUID
	settled.CardName = to.CardName
	settled.CardNumber = to.CardNumber
	settled.ChargeMerchantUID = to.ChargeMerchantUID
	settled.UpdatedAt = now
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: billing key issued",
		slog.String("merchant_uid", is.MerchantUID),
		slog.String("customer_uid", maskCustomerUID(is.CustomerUID)))
	s.emit(ctx, event.Event{Kind: event.BillingKeyIssued, UserID: is.UserID, MerchantUID: is.MerchantUID,
		ImpUID: p.ImpUID, PlanID: is.PlanID, Amount: is.Amount, At: now})
	if replaced != nil && replaced.CustomerUID != "" && replaced.CustomerUID != is.CustomerUID {
		s.removeKeyAtIamport(ctx, replaced.CustomerUID, "replaced by a new card")
	}
	s.retryPastDue(ctx, is.UserID)
	return s.issuedResult(ctx, &settled)
}

// oneOffPlan reports whether planID names a plan without a billing period: an issuance
// for it charges once. An issuance for a subscription plan starts a subscription.
func (s *Service) oneOffPlan(planID string) bool {
	p, ok := s.plans[planID]
	return planID != "" && (!ok || p.Every.IsZero())
}

// retryPastDue charges the user's past_due subscriptions again at once, with the card
// just registered, instead of waiting for the next retry.
func (s *Service) retryPastDue(ctx context.Context, userID string) {
	subs, err := s.store.ListSubscriptions(ctx, userID)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not look for past_due subscriptions",
			slog.String("error", errText(err)))
		return
	}
	for _, sub := range subs {
		if sub.Status != store.SubscriptionPastDue || sub.ChargeMerchantUID != "" {
			continue
		}
		sub.NextActionAt = s.now()
		var rep RenewReport
		if _, err := s.advance(ctx, sub, &rep); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: retrying a past_due subscription failed",
				slog.String("subscription", sub.ID), slog.String("error", errText(err)))
		}
	}
}

// reread answers from the stored state after a lost compare-and-set.
func (s *Service) reread(ctx context.Context, merchantUID string) (*IssuanceResult, error) {
	is, err := s.store.GetIssuance(ctx, merchantUID)
	if err != nil {
		return nil, s.storeErr(ctx, "reread issuance", err)
	}
	if is.Status == store.IssuancePending {
		return nil, s.storeErr(ctx, "reread issuance", errors.New("issuance still pending after a conflict"))
	}
	return s.settledAnswer(ctx, is)
}

// settledAnswer is the answer for an issuance that is no longer pending.
func (s *Service) settledAnswer(ctx context.Context, is *store.Issuance) (*IssuanceResult, error) {
	switch is.Status {
	case store.IssuanceIssued:
		return s.issuedResult(ctx, is)
	case store.IssuanceFailed:
		return nil, errIssuanceSettled(is)
	case store.IssuanceExpired:
		return nil, errIssuanceExpired()
	}
	return nil, s.storeErr(ctx, "issuance state", fmt.Errorf("unexpected issuance status %q", cleanText(string(is.Status), 20)))
}

// issuedResult builds the result of an issued issuance, running (or reporting) its first
// charge when a plan was attached.
func (s *Service) issuedResult(ctx context.Context, is *store.Issuance) (*IssuanceResult, error) {
	res := &IssuanceResult{
		MerchantUID: is.MerchantUID,
		Status:      string(store.IssuanceIssued),
		Key:         &KeyInfo{CardName: is.CardName, CardNumber: is.CardNumber, IssuedAt: is.UpdatedAt},
	}
	if is.PlanID != "" && !s.oneOffPlan(is.PlanID) {
		// Every completion signal ends here: the subscription is started once, under a
		// key of the issuance's own.
		sub, err := s.subscribe(ctx, SubscribeRequest{UserID: is.UserID, PlanID: is.PlanID, IdempotencyKey: firstChargeKey(is.MerchantUID)})
		if sub != nil {
			res.Subscription = sub
			if len(sub.Charges) > 0 {
				res.FirstCharge = &sub.Charges[0]
			}
		} else if err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: subscription of a registration not started",
				slog.String("merchant_uid", is.MerchantUID), slog.String("error", errText(err)))
		}
		return res, nil
	}
	if is.PlanID != "" && is.ChargeMerchantUID != "" {
		view, err := s.firstCharge(ctx, is)
		if view != nil {
			res.FirstCharge = view
		} else if err != nil {
			// The key is issued either way; the first charge row (if any) is repaired by
			// the next completion signal or by Reconcile.
			s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: first charge not started",
				slog.String("merchant_uid", is.MerchantUID), slog.String("error", errText(err)))
		}
	}
	return res, nil
}

// firstCharge creates (once) and runs the charge of the plan attached to an issuance. All
// completion signals map to the same row through a fixed idempotency key and the
// merchant_uid fixed when the issuance was settled.
func (s *Service) firstCharge(ctx context.Context, is *store.Issuance) (*ChargeView, error) {
	c := s.firstChargeRow(is)
	c.MerchantUID = is.ChargeMerchantUID
	return s.createAndRun(ctx, c, false)
}

// firstChargeRow is the charge of the plan attached to an issuance: the amount shown in
// the window, under a fixed idempotency key.
func (s *Service) firstChargeRow(is *store.Issuance) *store.Charge {
	name := s.defaultOrderName()
	if p, ok := s.plans[is.PlanID]; ok {
		name = p.Name
	}
	return &store.Charge{
		UserID:         is.UserID,
		IdempotencyKey: firstChargeKey(is.MerchantUID),
		CustomerUID:    is.CustomerUID,
		PlanID:         is.PlanID,
		Name:           name,
		Amount:         is.Amount,
	}
}

// firstChargeKey is the idempotency key of an issuance's first charge.
func firstChargeKey(issuanceMerchantUID string) string {
	return firstChargeKeyPrefix + "issuance:" + issuanceMerchantUID
}
