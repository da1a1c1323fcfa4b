package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

// applyPayment applies a payment iamport reported for c (looked up by the server, never
// taken from a request) with the state machine; used for the answer of `again`, webhooks
// and reconciliation alike. Idempotent and order-independent: the same payment applied
// twice changes nothing the second time, and every transition is a compare-and-set, so
// only the caller that moved the row raises the event. attempt, when not 0, is the
// attempt the payment answers: the write then lands only while the row is still at that
// attempt (docs/guarantees.md, R4). It returns the current row.
func (s *Service) applyPayment(ctx context.Context, c *store.Charge, p *iamport.Payment, attempt int) (*store.Charge, error) {
	if reason := s.chargePaymentMismatch(c, p); reason != "" {
		s.emitMismatch(ctx, event.Event{UserID: c.UserID, MerchantUID: c.MerchantUID, ImpUID: p.ImpUID,
			PlanID: c.PlanID, Amount: c.Amount, Reason: reason, At: s.now()})
		// Never accepted as paid (R2). An open charge is closed as failed so the merchant's
		// follow-up starts from the event, not from a row that never settles.
		if p.Status == iamport.StatusReady {
			return s.current(ctx, c)
		}
		return s.transition(ctx, c, active, store.ChargeUpdate{Status: store.ChargeFailed, ImpUID: p.ImpUID,
			FailCode: codes.PaymentMismatch, FailReason: "payment mismatch: " + reason, IfAttempts: attempt}, event.ChargeFailed)
	}
	switch p.Status {
	case iamport.StatusPaid:
		return s.applyPaid(ctx, c, p, attempt)
	case iamport.StatusCancelled:
		return s.applyCancelled(ctx, c, p)
	case iamport.StatusFailed:
		reason := cleanText(scrub(p.FailReason), 200)
		if reason == "" {
			reason = "failed at iamport"
		}
		return s.transition(ctx, c, active, store.ChargeUpdate{Status: store.ChargeFailed, ImpUID: p.ImpUID,
			FailCode: codes.CardDeclined, FailReason: reason, IfAttempts: attempt}, event.ChargeFailed)
	default:
		// ready (or something new): not settled; leave the row as it is.
		return s.current(ctx, c)
	}
}

// applyPaid books a paid payment. A charge we had settled failed, yet iamport has paid,
// is a late payment: it must not be lost, so failed -> paid too, raising payment.late and
// then charge.paid.
func (s *Service) applyPaid(ctx context.Context, c *store.Charge, p *iamport.Payment, attempt int) (*store.Charge, error) {
	u := store.ChargeUpdate{Status: store.ChargePaid, ImpUID: p.ImpUID, PaidAt: paidAt(p, s.now()), IfAttempts: attempt,
		ReceiptURL: receiptURL(p)}
	if p.CancelAmount > 0 {
		// Paid and partly refunded (iamport may keep the status paid): the same as a
		// partial cancellation.
		return s.applyCancelled(ctx, c, p)
	}
	cur, err := s.transition(ctx, c, active, u, event.ChargePaid)
	if err != nil || cur.Status != store.ChargeFailed {
		return cur, err
	}
	u.IfAttempts = 0 // whichever attempt failed, this payment is real
	moved, won, err := s.cas(ctx, cur, []store.ChargeStatus{store.ChargeFailed}, u)
	if err != nil || !won {
		return moved, err
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: late payment on a failed charge",
		slog.String("merchant_uid", c.MerchantUID), slog.String("imp_uid", p.ImpUID))
	s.emit(ctx, chargeEvent(event.LatePayment, moved, "paid after the charge was settled failed"))
	s.emit(ctx, chargeEvent(event.ChargePaid, moved, ""))
	return moved, nil
}

// applyCancelled books a cancelled payment (a cancellation in the console, or one made by
// hand) on the charge it belongs to.
func (s *Service) applyCancelled(ctx context.Context, c *store.Charge, p *iamport.Payment) (*store.Charge, error) {
	cur, err := s.current(ctx, c)
	if err != nil {
		return nil, err
	}
	if cur.Status == store.ChargePaid && cur.ImpUID != "" && p.ImpUID != cur.ImpUID {
		// Not the payment we booked; nothing to do with our charge.
		return cur, nil
	}
	// iamport writes "cancelled" for a partial cancellation too: what was refunded is
	// cancel_amount, and only a charge refunded in full is cancelled here.
	refunded := min(max(p.CancelAmount, 0), cur.Amount)
	if p.CancelAmount == 0 {
		refunded = cur.Amount // cancelled without an amount: the whole of it
	}
	u := store.ChargeUpdate{Status: store.ChargeCancelled, ImpUID: p.ImpUID, Refunded: &refunded, ReceiptURL: receiptURL(p)}
	kind := event.ChargeCancelled
	if refunded < cur.Amount {
		u.Status, kind = store.ChargePaid, event.ChargeRefunded
		u.Note = fmt.Sprintf("refunded %d of %d", refunded, cur.Amount)
	}
	if p.PaidAt > 0 {
		u.PaidAt = paidAt(p, s.now())
	}
	if cur.Refunded == refunded && cur.Status == u.Status {
		return cur, nil // nothing new
	}
	from := []store.ChargeStatus{store.ChargePending, store.ChargeCharging, store.ChargeUnknown, store.ChargePaid, store.ChargeFailed}
	moved, won, err := s.cas(ctx, cur, from, u)
	if err != nil || !won {
		return moved, err
	}
	result := "refunded"
	if moved.Status == store.ChargeCancelled {
		result = "cancelled"
	}
	s.tel.count(ctx, s.tel.charges, "result", result, 1)
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: charge refunded",
		slog.String("merchant_uid", moved.MerchantUID), slog.Int64("refunded", refunded), slog.Int64("amount", moved.Amount))
	if cur.Status == store.ChargeFailed {
		s.emit(ctx, chargeEvent(event.LatePayment, moved, "paid after the charge was settled failed, and refunded"))
	}
	e := chargeEvent(kind, moved, "")
	e.Refunded = refunded
	s.emit(ctx, e)
	return moved, nil
}

// receiptURL is the payment's receipt, if it is a URL one can show.
func receiptURL(p *iamport.Payment) string {
	if u := p.ReceiptURL; strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return cleanText(u, 500)
	}
	return ""
}

// chargePaymentMismatch compares a payment iamport reports for a charge with our row.
func (s *Service) chargePaymentMismatch(c *store.Charge, p *iamport.Payment) string {
	switch {
	case p.MerchantUID != c.MerchantUID:
		return "payment belongs to another merchant_uid"
	case p.CustomerUID != "" && p.CustomerUID != c.CustomerUID:
		return "payment was made with another customer_uid"
	case p.CustomerUIDUsage == iamport.UsageIssue:
		return "payment is a billing-key issuance, not a charge"
	}
	if reason := s.testChannelPayment(p); reason != "" {
		return reason
	}
	if p.AmountNotWhole {
		return fmt.Sprintf("amount differs: charged %d, iamport has an amount that is not a whole won", c.Amount)
	}
	if p.Amount != c.Amount {
		return fmt.Sprintf("amount differs: charged %d, iamport has %d", c.Amount, p.Amount)
	}
	return ""
}

// paidAt is the payment's paid_at, or now when iamport left it unset.
func paidAt(p *iamport.Payment, now time.Time) time.Time {
	if p.PaidAt > 0 {
		return time.Unix(int64(p.PaidAt), 0).UTC()
	}
	return now
}

// current re-reads a charge.
func (s *Service) current(ctx context.Context, c *store.Charge) (*store.Charge, error) {
	cur, err := s.store.GetCharge(ctx, c.MerchantUID)
	if err != nil {
		return nil, s.storeErr(ctx, "get charge", err)
	}
	return cur, nil
}

// cas applies u when the charge's status is in from (and at u.IfAttempts, when set). On
// a lost compare-and-set it returns the current row and won false. An imp_uid already
// recorded for another charge is a mismatch: the update is not applied. A settled charge
// holds no lease, unless u takes one (a failure awaiting its confirming lookup).
func (s *Service) cas(ctx context.Context, c *store.Charge, from []store.ChargeStatus, u store.ChargeUpdate) (*store.Charge, bool, error) {
	u.At = s.now()
	u.Note = chargeNote(ctx, u)
	switch u.Status {
	case store.ChargePaid, store.ChargeCancelled, store.ChargeFailed:
		u.ReleaseClaim = u.Hold == nil
	}
	cur, err := s.store.UpdateCharge(ctx, c.MerchantUID, from, u)
	switch {
	case err == nil && cur != nil:
		return cur, true, nil
	case errors.Is(err, store.ErrConflict):
		cur, err := s.current(ctx, c)
		return cur, false, err
	case errors.Is(err, store.ErrDuplicate):
		s.emitMismatch(ctx, event.Event{UserID: c.UserID, MerchantUID: c.MerchantUID, ImpUID: u.ImpUID,
			PlanID: c.PlanID, Amount: c.Amount, Reason: "imp_uid already recorded for another charge", At: u.At})
		cur, err := s.current(ctx, c)
		return cur, false, err
	case err == nil:
		err = errors.New("store returned no charge")
	}
	return nil, false, s.storeErr(ctx, "update charge", err)
}

// transition is cas plus the event of the new state, raised only by the winner. An
// optional reason goes into the event.
func (s *Service) transition(ctx context.Context, c *store.Charge, from []store.ChargeStatus, u store.ChargeUpdate, kind event.Kind, reason ...string) (*store.Charge, error) {
	cur, won, err := s.cas(ctx, c, from, u)
	if err != nil || !won {
		return cur, err
	}
	s.tel.count(ctx, s.tel.charges, "result", string(cur.Status), 1)
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: charge "+string(cur.Status),
		slog.String("merchant_uid", cur.MerchantUID),
		slog.String("imp_uid", cur.ImpUID),
		slog.Int64("amount", cur.Amount),
		slog.Int("attempts", cur.Attempts))
	if kind != "" {
		r := cur.FailReason
		if len(reason) > 0 && reason[0] != "" {
			r = reason[0]
		}
		s.emit(ctx, chargeEvent(kind, cur, r))
	}
	return cur, nil
}

// chargeEvent builds the event for a charge.
func chargeEvent(kind event.Kind, c *store.Charge, reason string) event.Event {
	return event.Event{Kind: kind, UserID: c.UserID, MerchantUID: c.MerchantUID, ImpUID: c.ImpUID,
		PlanID: c.PlanID, Amount: c.Amount, Reason: reason, At: c.UpdatedAt}
}
