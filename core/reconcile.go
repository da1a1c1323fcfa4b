package core

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

// Bounds of one sweep; the next sweep continues where one stopped.
const (
	reconcileBatch = 50
	expireBatch    = 200
	orphanBatch    = 50
	purgeBatch     = 500
	maxSweep       = 5000 // charges one sweep works on
	// issuanceRetention is how long failed and expired issuances are kept (for
	// questions about them) once the key they may have left at iamport is removed.
	issuanceRetention = 30 * 24 * time.Hour
)

// countSweep records what a reconciler sweep did.
func (s *Service) countSweep(ctx context.Context, rep ReconcileReport) {
	s.tel.sweeps.Add(ctx, 1)
	for outcome, n := range map[string]int{"paid": rep.Paid, "failed": rep.Failed, "cancelled": rep.Cancelled,
		"retried": rep.Retried, "still_unknown": rep.StillUnknown, "confirmed": rep.Confirmed} {
		s.tel.count(ctx, s.tel.settled, "outcome", outcome, n)
	}
}

// claimLease is how long a reconciler holds the rows it claimed: longer than any lookup,
// so that no other instance takes a row still being looked up. A resend takes the
// attempt's own lease.
func (s *Service) claimLease() store.Lease {
	return store.Lease{Owner: s.cfg.InstanceID, For: max(s.cfg.ReconcileAfter, time.Minute)}
}

// Reconcile runs one sweep (docs/guarantees.md, R5, R18, R19):
//   - pending issuances past their expiry become expired; the billing keys that failed or
//     expired issuances may have left at iamport are deleted there (never a key any user
//     holds), and such issuances are purged after 30 days;
//   - charges whose lease ran out (pending, charging or unknown for longer than
//     Config.ReconcileAfter, by the store's clock) are claimed, so that several instances
//     never work on one row, and settled by looking their merchant_uid up at iamport:
//     paid, failed or cancelled there becomes the same here; when iamport has no payment
//     under the merchant_uid at all, `again` never reached it and is sent again with the
//     same merchant_uid (never without that lookup first, R6);
//   - a failure inferred from a refusal gets one confirming lookup, which books a payment
//     that shows up late.
//
// A row whose lookup fails stays as it is and is tried by a later sweep. The error is
// about the sweep itself (the store failed, or ctx ended); the report counts what was
// done until then. No sweep looks up a charge whose `again` may still be in flight: an
// attempt holds its row's lease for ReconcileAfter and its calls end within half of it.
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	ctx, span := s.tel.span(ctx, "reconcile")
	out, err := s.reconcileTraced(ctx)
	s.countSweep(ctx, out)
	endSpan(span, err)
	return out, err
}

// reconcileTraced is Reconcile inside its span.
func (s *Service) reconcileTraced(ctx context.Context) (ReconcileReport, error) {
	ctx = withSource(ctx, srcReconciler)
	var rep ReconcileReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if err := s.expireIssuances(ctx, &rep); err != nil {
		return rep, err
	}
	if err := s.reconcileCharges(ctx, &rep); err != nil {
		return rep, err
	}
	if err := s.reconcileRefunds(ctx, &rep); err != nil {
		return rep, err
	}
	if err := s.removeOrphanKeys(ctx, &rep); err != nil {
		return rep, err
	}
	n, err := s.store.PurgeIssuances(ctx, s.now().Add(-issuanceRetention), purgeBatch)
	if err != nil {
		return rep, s.storeErr(ctx, "purge issuances", err)
	}
	rep.IssuancesPurged = n
	if err := s.retryFailedNotifications(ctx, &rep); err != nil {
		return rep, err
	}
	if err := s.purgeNotifications(ctx, &rep); err != nil {
		return rep, err
	}
	if rep != (ReconcileReport{}) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: reconciled",
			slog.Int("claimed", rep.Claimed), slog.Int("paid", rep.Paid),
			slog.Int("failed", rep.Failed), slog.Int("cancelled", rep.Cancelled),
			slog.Int("still_unknown", rep.StillUnknown), slog.Int("retried", rep.Retried),
			slog.Int("confirmed", rep.Confirmed), slog.Int("issuances_expired", rep.IssuancesExpired),
			slog.Int("orphan_keys_removed", rep.OrphanKeysRemoved), slog.Int("issuances_purged", rep.IssuancesPurged),
			slog.Int("notifications_retried", rep.NotificationsRetried))
	}
	return rep, nil
}

// expireIssuances settles pending issuances past their expiry as expired.
func (s *Service) expireIssuances(ctx context.Context, rep *ReconcileReport) error {
	now := s.now()
	for {
		expired, err := s.store.ExpirePendingIssuances(ctx, now, expireBatch)
		if err != nil {
			return s.storeErr(ctx, "expire issuances", err)
		}
		rep.IssuancesExpired += len(expired)
		for _, is := range expired {
			s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: issuance expired",
				slog.String("merchant_uid", is.MerchantUID))
		}
		if len(expired) < expireBatch {
			return nil
		}
	}
}

// reconcileCharges claims and settles charges in batches. A row whose claim may have run
// out while the rows before it were worked on (the time elapsed measured on this
// process's clock alone, never compared with the store's) is left for a later sweep:
// another instance may hold it now.
func (s *Service) reconcileCharges(ctx context.Context, rep *ReconcileReport) error {
	seen := make(map[string]bool)
	for rep.Claimed < maxSweep {
		if err := ctx.Err(); err != nil {
			return err
		}
		lease := s.claimLease()
		claimedAt := s.cfg.Now()
		batch, err := s.store.ClaimCharges(ctx, store.ClaimRequest{
			Statuses: active,
			Held:     []store.ChargeStatus{store.ChargeFailed},
			Lease:    lease,
			Limit:    reconcileBatch,
		})
		if err != nil {
			return s.storeErr(ctx, "claim charges", err)
		}
		fresh := 0
		for _, c := range batch {
			if c == nil || seen[c.MerchantUID] {
				continue
			}
			seen[c.MerchantUID] = true
			fresh++
			if s.cfg.Now().Sub(claimedAt) > lease.For/2 {
				continue
			}
			rep.Claimed++
			s.reconcileCharge(ctx, c, rep)
		}
		if len(batch) < reconcileBatch || fresh == 0 {
			return nil
		}
	}
	return nil
}

// reconcileCharge settles one claimed charge.
func (s *Service) reconcileCharge(ctx context.Context, c *store.Charge, rep *ReconcileReport) {
	if c.Status == store.ChargeFailed {
		s.confirmFailure(ctx, c, rep)
		return
	}
	if c.Status == store.ChargePending && strings.HasPrefix(c.IdempotencyKey, firstChargeKey("")) {
		if cur, done, err := s.reconcileFirstCharge(ctx, c); done {
			s.count(ctx, c, cur, err, rep)
			return
		}
	}
	var cur *store.Charge
	p, err := s.client.FindPayment(ctx, c.MerchantUID, "")
	switch {
	case errors.Is(err, iamport.ErrNotFound):
		// Nothing at iamport under this merchant_uid: `again` never reached it.
		cur, err = s.resend(ctx, c, rep)
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: reconcile lookup failed",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
	case p == nil:
		err = errors.New("empty answer")
	default:
		cur, err = s.applyPayment(ctx, c, p, 0)
	}
	s.count(ctx, c, cur, err, rep)
}

// confirmFailure is the one confirming lookup of a failure that was inferred from a
// refusal: a payment under the merchant_uid after all is booked (a late payment); else
// the failure stands and the row is let go for good.
func (s *Service) confirmFailure(ctx context.Context, c *store.Charge, rep *ReconcileReport) {
	p, err := s.client.FindPayment(ctx, c.MerchantUID, "")
	switch {
	case err == nil && p != nil:
		if cur, err := s.applyPayment(ctx, c, p, 0); err == nil && cur.Status == store.ChargePaid {
			rep.Paid++
			return
		}
	case !errors.Is(err, iamport.ErrNotFound):
		s.holdAgain(ctx, c) // ask again after ReconcileAfter
		return
	}
	rep.Confirmed++
	wctx, cancel := afterwards(ctx)
	defer cancel()
	_, err = s.store.UpdateCharge(wctx, c.MerchantUID, []store.ChargeStatus{store.ChargeFailed},
		store.ChargeUpdate{ReleaseClaim: true, IfAttempts: c.Attempts, At: s.now(),
			Note: chargeNote(ctx, store.ChargeUpdate{Note: "looked up: no payment, failure confirmed"})})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not close a confirmed failure",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
	}
}

// count adds the outcome of one claimed charge to rep, holding rows left open for
// another ReconcileAfter.
func (s *Service) count(ctx context.Context, c, cur *store.Charge, err error, rep *ReconcileReport) {
	if err != nil || cur == nil {
		s.holdAgain(ctx, c)
		rep.StillUnknown++
		return
	}
	switch cur.Status {
	case store.ChargePaid:
		rep.Paid++
	case store.ChargeFailed:
		rep.Failed++
	case store.ChargeCancelled:
		rep.Cancelled++
	default:
		if cur.ClaimedBy == s.cfg.InstanceID && cur.Status == c.Status && cur.Attempts == c.Attempts {
			s.holdAgain(ctx, cur) // still our claim, nothing moved: the next look waits
		}
		rep.StillUnknown++
	}
}

// reconcileFirstCharge handles a pending first charge of an issuance (its row is
// committed before the issuance is settled). While the issuance is pending, completing
// it (the same verification as a webhook) runs the charge; when the issuance failed,
// expired or is gone, the charge is closed as failed without being sent. done false
// means: the issuance is issued, settle the charge like any other.
func (s *Service) reconcileFirstCharge(ctx context.Context, c *store.Charge) (cur *store.Charge, done bool, err error) {
	is, err := s.store.GetIssuance(ctx, strings.TrimPrefix(c.IdempotencyKey, firstChargeKey("")))
	switch {
	case errors.Is(err, store.ErrNotFound):
		is = &store.Issuance{Status: store.IssuanceExpired} // purged: it never completed here
	case err != nil:
		return nil, true, s.storeErr(ctx, "get issuance", err)
	}
	switch is.Status {
	case store.IssuanceIssued:
		return nil, false, nil
	case store.IssuancePending:
		_, cerr := s.completeIssuance(ctx, "", CompleteInput{MerchantUID: is.MerchantUID, Source: SourceWebhook}, nil)
		if code := ErrorCode(cerr); code == codes.UpstreamUnavailable || code == codes.Internal {
			return nil, true, cerr
		}
		if is, err = s.store.GetIssuance(ctx, is.MerchantUID); err != nil {
			return nil, true, s.storeErr(ctx, "get issuance", err)
		}
		if is.Status == store.IssuancePending {
			// Not confirmed yet: leave the charge for a later sweep.
			return nil, true, errors.New("issuance still pending")
		}
		if is.Status == store.IssuanceIssued {
			cur, err := s.current(ctx, c)
			return cur, true, err
		}
	}
	cur, err = s.transition(ctx, c, []store.ChargeStatus{store.ChargePending},
		store.ChargeUpdate{Status: store.ChargeFailed, FailCode: codes.IssuanceFailed,
			FailReason: "the billing-key issuance did not complete"}, event.ChargeFailed)
	return cur, true, err
}

// resend sends `again` once more with the same merchant_uid, after a lookup found
// nothing. A charging row first becomes unknown, so that the move back to charging is a
// compare-and-set only one caller can win.
//
// The lookup answered for the row as claimed (c). Every attempt counts itself in Attempts
// before it is sent, so a count other than c's means another attempt happened since and
// the lookup is stale: the row is left unknown for a fresh lookup instead of being sent
// again (docs/guarantees.md, R4 and R6).
func (s *Service) resend(ctx context.Context, c *store.Charge, rep *ReconcileReport) (*store.Charge, error) {
	from := c.Status
	if from == store.ChargeCharging {
		cur, won, err := s.cas(ctx, c, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargeUnknown, IfAttempts: c.Attempts})
		if err != nil || !won {
			return cur, err
		}
		from = store.ChargeUnknown
	}
	if from != store.ChargePending && from != store.ChargeUnknown {
		return s.current(ctx, c)
	}
	began, cur, won, err := s.start(ctx, c, from)
	if err != nil || !won {
		return cur, err
	}
	if cur.Attempts != c.Attempts+1 {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: another attempt since the lookup; not sending again",
			slog.String("merchant_uid", c.MerchantUID))
		lease := s.attemptLease()
		back, _, err := s.cas(ctx, cur, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargeUnknown, Hold: &lease, IfAttempts: cur.Attempts})
		return back, err
	}
	rep.Retried++
	return s.send(ctx, cur, began)
}

// holdAgain gives a claimed row back holding a lease of ReconcileAfter, so that the next
// look at it waits that long (the lookup failed, or nothing could be settled yet).
func (s *Service) holdAgain(ctx context.Context, c *store.Charge) {
	wctx, cancel := afterwards(ctx)
	defer cancel()
	lease := s.attemptLease()
	_, err := s.store.UpdateCharge(wctx, c.MerchantUID, []store.ChargeStatus{c.Status},
		store.ChargeUpdate{Hold: &lease, IfAttempts: c.Attempts, At: s.now(), Note: chargeNote(ctx, store.ChargeUpdate{Hold: &lease})})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not give back a claimed charge",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
	}
}

// removeOrphanKeys deletes at iamport the billing keys that issuances which failed or
// expired may have left there (a window completed after its issuance expired, or a key
// that failed verification), once the issuance has been over for IssuanceTTL. The store
// never offers the customer_uid of a key a user holds; deleting one that iamport does not
// know is fine, so two instances may do it at once.
func (s *Service) removeOrphanKeys(ctx context.Context, rep *ReconcileReport) error {
	orphans, err := s.store.OrphanIssuances(ctx, s.now().Add(-s.cfg.IssuanceTTL), orphanBatch)
	if err != nil {
		return s.storeErr(ctx, "orphan issuances", err)
	}
	for _, is := range orphans {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := s.client.DeleteCustomer(ctx, is.CustomerUID, "card registration not completed")
		if err != nil && !errors.Is(err, iamport.ErrNotFound) {
			s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not delete an orphan billing key at iamport",
				slog.String("merchant_uid", is.MerchantUID), slog.String("error", errText(err)))
			continue
		}
		if err := s.store.MarkKeyRemoved(ctx, is.MerchantUID); err != nil {
			return s.storeErr(ctx, "mark key removed", err)
		}
		rep.OrphanKeysRemoved++
	}
	return nil
}

// RunReconciler runs the background work until ctx ends: now and then every `every`
// (<= 0: half of Config.ReconcileAfter, at least a second) one Reconcile sweep and one
// Renew sweep of the subscription engine. It runs in the caller's goroutine and starts
// none, so nothing outlives it: run it with `go` on every instance (it is safe on several
// at once) and cancel ctx to stop it.
func (s *Service) RunReconciler(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = max(s.cfg.ReconcileAfter/2, time.Second)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: reconcile sweep failed",
				slog.String("error", errText(err)))
		}
		if _, err := s.Renew(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: renewal sweep failed",
				slog.String("error", errText(err)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReconcileReport counts what one sweep did: charges claimed, and how they ended (paid,
// failed, cancelled, or still unknown and left for a later sweep), how many were sent
// again after a lookup found nothing, how many inferred failures a lookup confirmed, how
// many issuances expired, how many orphan billing keys were deleted at iamport and how
// many old issuances were purged.
type ReconcileReport struct {
	Claimed, Paid, Failed, Cancelled, StillUnknown, Retried, Confirmed int
	IssuancesExpired, OrphanKeysRemoved, IssuancesPurged               int
	RefundsSettled, RefundsOpen, NotificationsPurged                   int
	NotificationsRetried                                               int // failed notifications applied on a retry
}
