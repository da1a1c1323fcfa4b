package core

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/billkey/billkey/iamport"
)

const (
	reconcileBatch = 50
	expireBatch    = 200
	// maxSweep bounds the rows one sweep works on; the next sweep continues.
	maxSweep = 5000
)

// lease is how long a reconciler holds the rows it claimed: longer than any single
// lookup-and-again, so that no other instance takes a row still being worked on.
func (s *Service) lease() time.Duration {
	return max(s.cfg.ReconcileAfter, time.Minute)
}

// Reconcile runs one sweep (R5, R18, R19):
//   - pending issuances past their expiry become expired;
//   - charges left pending, charging or unknown for longer than Config.ReconcileAfter
//     are claimed (so that several instances never work on one row) and settled by
//     looking their merchant_uid up at iamport: paid, failed or cancelled there becomes
//     the same here; when iamport has no payment under the merchant_uid at all, `again`
//     never reached it and is sent again with the same merchant_uid (never without that
//     lookup first, R6).
//
// A row whose lookup fails stays as it is and is tried by a later sweep. The error is
// about the sweep itself (the store failed, or ctx ended); the report counts what was
// done until then. No sweep looks up a charge whose `again` may still be in flight:
// every `again` is cut off after Config.ReconcileAfter/2, and a row is taken up only
// once it has been untouched for ReconcileAfter (see Config.ReconcileAfter).
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	start := s.now()
	for {
		expired, err := s.store.ExpirePendingIssuances(ctx, start, expireBatch)
		if err != nil {
			return rep, s.storeErr(ctx, "expire issuances", err)
		}
		rep.IssuancesExpired += len(expired)
		for _, is := range expired {
			s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: issuance expired",
				slog.String("merchant_uid", is.MerchantUID))
		}
		if len(expired) < expireBatch {
			break
		}
	}

	seen := make(map[string]bool)
	for rep.Claimed < maxSweep {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		batch, err := s.store.ClaimCharges(ctx, ClaimRequest{
			Owner:         s.cfg.InstanceID,
			Statuses:      active,
			UpdatedBefore: start.Add(-s.cfg.ReconcileAfter),
			Now:           s.now(),
			Lease:         s.lease(),
			Limit:         reconcileBatch,
		})
		if err != nil {
			return rep, s.storeErr(ctx, "claim charges", err)
		}
		fresh := 0
		for _, c := range batch {
			if c == nil || seen[c.MerchantUID] {
				continue
			}
			seen[c.MerchantUID] = true
			fresh++
			if !s.now().Before(c.ClaimedUntil) {
				// The claim ran out while the rows before it were worked on: another
				// instance may hold the row now. A later sweep takes it.
				continue
			}
			rep.Claimed++
			s.reconcileCharge(ctx, c, &rep)
		}
		if len(batch) < reconcileBatch || fresh == 0 {
			break
		}
	}
	if rep.Claimed > 0 || rep.IssuancesExpired > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: reconciled",
			slog.Int("claimed", rep.Claimed), slog.Int("paid", rep.Paid),
			slog.Int("failed", rep.Failed), slog.Int("cancelled", rep.Cancelled),
			slog.Int("still_unknown", rep.StillUnknown), slog.Int("retried", rep.Retried),
			slog.Int("issuances_expired", rep.IssuancesExpired))
	}
	return rep, nil
}

// reconcileCharge settles one claimed charge.
func (s *Service) reconcileCharge(ctx context.Context, c *Charge, rep *ReconcileReport) {
	var p *iamport.Payment
	var cur *Charge
	var err error
	if c.Status == ChargePending && strings.HasPrefix(c.IdempotencyKey, firstChargeKey("")) {
		var done bool
		if cur, done, err = s.reconcileFirstCharge(ctx, c); done {
			s.count(ctx, c, cur, err, rep)
			return
		}
	}
	p, err = s.client.FindPayment(ctx, c.MerchantUID, "")
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
		cur, err = s.applyPayment(ctx, c, p)
	}
	s.count(ctx, c, cur, err, rep)
}

// count adds the outcome of one claimed charge to rep, giving back rows left open.
func (s *Service) count(ctx context.Context, c, cur *Charge, err error, rep *ReconcileReport) {
	if err != nil || cur == nil {
		s.release(ctx, c)
		rep.StillUnknown++
		return
	}
	switch cur.Status {
	case ChargePaid:
		rep.Paid++
	case ChargeFailed:
		rep.Failed++
	case ChargeCancelled:
		rep.Cancelled++
	default:
		s.release(ctx, cur)
		rep.StillUnknown++
	}
}

// reconcileFirstCharge handles a pending first charge of an issuance (its row is
// committed before the issuance is settled). While the issuance is pending, completing
// it (the same verification as a webhook) runs the charge; when the issuance failed or
// expired, the charge is closed as failed without being sent. done false means: the
// issuance is issued, settle the charge like any other.
func (s *Service) reconcileFirstCharge(ctx context.Context, c *Charge) (cur *Charge, done bool, err error) {
	is, err := s.store.GetIssuance(ctx, strings.TrimPrefix(c.IdempotencyKey, firstChargeKey("")))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, false, nil
		}
		return nil, true, s.storeErr(ctx, "get issuance", err)
	}
	switch is.Status {
	case IssuanceIssued:
		return nil, false, nil
	case IssuancePending:
		_, cerr := s.completeIssuance(ctx, "", CompleteInput{MerchantUID: is.MerchantUID, Source: SourceWebhook}, nil)
		if code := ErrorCode(cerr); code == CodeUpstreamUnavailable || code == CodeInternal {
			return nil, true, cerr
		}
		if is, err = s.store.GetIssuance(ctx, is.MerchantUID); err != nil {
			return nil, true, s.storeErr(ctx, "get issuance", err)
		}
		if is.Status == IssuancePending {
			// Not confirmed yet: leave the charge for a later sweep.
			return nil, true, errors.New("issuance still pending")
		}
		if is.Status == IssuanceIssued {
			cur, err := s.current(ctx, c)
			return cur, true, err
		}
	}
	cur, err = s.transition(ctx, c, []ChargeStatus{ChargePending},
		ChargeUpdate{Status: ChargeFailed, FailReason: "the billing-key issuance did not complete", ReleaseClaim: true},
		EventChargeFailed)
	return cur, true, err
}

// resend sends `again` once more with the same merchant_uid, after a lookup found
// nothing. A charging row first becomes unknown, so that the move back to charging is a
// compare-and-set only one caller can win.
//
// The lookup answered for the row as claimed (c). The status alone cannot show whether
// another attempt happened since: a claim that ran out during a slow sweep lets another
// instance claim the row, send `again` and leave it unknown again, and the compare-and-set
// from unknown would still succeed. Every attempt counts itself in Attempts before it is
// sent, so a count other than c's means the lookup is stale: the row is left unknown for
// a fresh lookup instead of being sent again (R4, R6).
func (s *Service) resend(ctx context.Context, c *Charge, rep *ReconcileReport) (*Charge, error) {
	from := c.Status
	if from == ChargeCharging {
		cur, won, err := s.cas(ctx, c, []ChargeStatus{ChargeCharging}, ChargeUpdate{Status: ChargeUnknown})
		if err != nil || !won {
			return cur, err
		}
		from = ChargeUnknown
	}
	if from != ChargePending && from != ChargeUnknown {
		return s.current(ctx, c)
	}
	cur, won, err := s.start(ctx, c, from)
	if err != nil || !won {
		return cur, err
	}
	if cur.Attempts != c.Attempts+1 {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: another attempt since the lookup; not sending again",
			slog.String("merchant_uid", c.MerchantUID))
		back, _, err := s.cas(ctx, cur, []ChargeStatus{ChargeCharging}, ChargeUpdate{Status: ChargeUnknown})
		return back, err
	}
	rep.Retried++
	return s.send(ctx, cur)
}

// release gives a claimed row back, marking it touched now so that it waits another
// ReconcileAfter before the next attempt.
func (s *Service) release(ctx context.Context, c *Charge) {
	wctx, cancel := afterwards(ctx)
	defer cancel()
	_, err := s.store.UpdateCharge(wctx, c.MerchantUID, []ChargeStatus{c.Status},
		ChargeUpdate{ReleaseClaim: true, At: s.now()})
	if err != nil && !errors.Is(err, ErrConflict) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not release a claimed charge",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
	}
}

// RunReconciler calls Reconcile now and then every `every` (<= 0: half of
// Config.ReconcileAfter, at least a second) until ctx ends. It runs in the caller's
// goroutine and starts none, so nothing outlives it: run it with `go` and cancel ctx to
// stop it.
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
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReconcileReport counts what one sweep did: charges claimed, and how they ended (paid,
// failed, cancelled, or still unknown and left for a later sweep), how many were sent
// again after a lookup found nothing, and how many issuances expired.
type ReconcileReport struct {
	Claimed, Paid, Failed, StillUnknown, Retried, IssuancesExpired int
	Cancelled                                                      int
}
