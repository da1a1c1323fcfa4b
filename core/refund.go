package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// A refund is committed, holding a lease like a charge's attempt, before the cancel is
// sent with iamport's checksum (the balance billkey believes is left), so two refunds of
// one balance can never both go through. A cancel whose answer is lost is never sent
// again: once its lease runs out the reconciler reads the payment's cancellations at
// iamport and settles the refund from them.

// prefixRefund starts every refund id billkey makes.
const prefixRefund = "bkr"

// RefundStatus is the state of a refund: sending (committed, the cancel on its way),
// succeeded, failed (nothing was refunded) or unknown (the answer was lost; the
// reconciler settles it from iamport's record).
type RefundStatus = store.RefundStatus

// Refund states, as RefundView.Status shows them.
const (
	RefundSending   = store.RefundSending
	RefundSucceeded = store.RefundSucceeded
	RefundFailed    = store.RefundFailed
	RefundUnknown   = store.RefundUnknown
)

// RefundRequest asks to refund a paid charge, in full or in part.
type RefundRequest struct {
	MerchantUID    string
	Amount         int64  // 0 = all that is left
	Reason         string // required; sent to iamport and kept
	IdempotencyKey string // required: the same key returns the same refund
	Operator       string // required: who asks, for the record and the log
}

// RefundView is a refund as an operator sees it.
type RefundView struct {
	ID          string       `json:"id"`
	MerchantUID string       `json:"merchant_uid"`
	Amount      int64        `json:"amount"`
	Status      RefundStatus `json:"status"`
	Reason      string       `json:"reason"`
	Operator    string       `json:"operator"`
	FailReason  string       `json:"fail_reason,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

func refundView(r *store.Refund) *RefundView {
	return &RefundView{ID: r.ID, MerchantUID: r.MerchantUID, Amount: r.Amount, Status: r.Status,
		Reason: r.Reason, Operator: r.Operator, FailReason: scrub(r.FailReason), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// Refund refunds a paid charge, once per idempotency key: the same key returns the same
// refund (another amount or charge under it is codes.IdempotencyKeyReused). Partial refunds
// add up; a charge refunded in full becomes cancelled. The view's status is succeeded,
// failed (with codes.RefundFailed: nothing was refunded) or unknown (the answer was lost:
// the reconciler settles it from iamport's record; never sent twice). Errors without a
// view: codes.InvalidRequest, codes.IdempotencyKeyRequired, codes.NotFound, codes.ChargeNotRefundable
// (not paid, or nothing left), codes.RefundExceedsBalance and codes.RefundInProgress (another
// refund of the charge is not settled), all before anything is sent; codes.Internal.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (*RefundView, error) {
	ctx, span := s.tel.span(ctx, "refund")
	out, err := s.refundTraced(ctx, req)
	endSpan(span, err)
	return out, err
}

// refundTraced is Refund inside its span.
func (s *Service) refundTraced(ctx context.Context, req RefundRequest) (*RefundView, error) {
	ctx = withSource(ctx, "refund by "+cleanText(req.Operator, 40))
	if err := checkRefundRequest(req); err != nil {
		return nil, err
	}
	if existing, err := s.refundByKey(ctx, req.MerchantUID, req.IdempotencyKey); err != nil || existing != nil {
		if err != nil {
			return nil, err
		}
		return s.refundAnswer(existing, req)
	}
	c, err := s.refundableCharge(ctx, req)
	if err != nil {
		return nil, err
	}
	amount := req.Amount
	if amount == 0 {
		amount = c.Amount - c.Refunded
	}
	now := s.now()
	r := &store.Refund{
		ID: newMerchantUID(prefixRefund, now), MerchantUID: c.MerchantUID, UserID: c.UserID,
		IdempotencyKey: req.IdempotencyKey, Amount: amount, Checksum: c.Amount - c.Refunded,
		Reason: req.Reason, Operator: req.Operator, Status: store.RefundSending, CreatedAt: now, UpdatedAt: now,
	}
	began := time.Now()
	stored, created, err := s.store.CreateRefund(ctx, r, s.attemptLease())
	if err != nil {
		return nil, s.storeErr(ctx, "create refund", err)
	}
	if !created {
		return s.refundAnswer(stored, req)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: refund requested",
		slog.String("refund", stored.ID), slog.String("merchant_uid", c.MerchantUID),
		slog.Int64("amount", amount), slog.String("operator", cleanText(req.Operator, 64)))
	final := s.sendRefund(ctx, c, stored, began)
	return s.refundAnswer(final, req)
}

// checkRefundRequest applies the field rules.
func checkRefundRequest(req RefundRequest) *Error {
	switch {
	case !idrule.MerchantUID.Valid(req.MerchantUID):
		return errNotFound("no such charge")
	case req.IdempotencyKey == "":
		return newError(codes.IdempotencyKeyRequired, "an idempotency key is required", nil)
	case !idrule.IdempotencyKey.Valid(req.IdempotencyKey):
		return errInvalid("the idempotency key must be " + idrule.IdempotencyKey.Describe())
	case req.Amount < 0:
		return errInvalid("the amount must not be negative")
	case !idrule.Reason.Valid(req.Reason):
		return errInvalid("a reason is required: " + idrule.Reason.Describe())
	case !idrule.UserID.Valid(req.Operator):
		return errInvalid("the operator is required: " + idrule.UserID.Describe())
	}
	return nil
}

// refundByKey finds the charge's refund asked for under key, nil if none.
func (s *Service) refundByKey(ctx context.Context, merchantUID, key string) (*store.Refund, error) {
	rs, err := s.store.ListRefunds(ctx, merchantUID)
	if err != nil {
		return nil, s.storeErr(ctx, "list refunds", err)
	}
	for _, r := range rs {
		if r.IdempotencyKey == key {
			return r, nil
		}
	}
	return nil, nil
}

// refundableCharge loads the charge and checks, before anything is sent, that the refund
// fits what is left of it and that no other refund of it is open.
func (s *Service) refundableCharge(ctx context.Context, req RefundRequest) (*store.Charge, error) {
	c, err := s.store.GetCharge(ctx, req.MerchantUID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound("no such charge")
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get charge", err)
	}
	left := c.Amount - c.Refunded
	switch {
	case c.Status != store.ChargePaid || c.ImpUID == "" || left <= 0:
		return nil, newError(codes.ChargeNotRefundable, fmt.Sprintf("the charge is %s with %d left to refund", c.Status, max(left, 0)), nil)
	case req.Amount > left:
		return nil, newError(codes.RefundExceedsBalance, fmt.Sprintf("%d asked, %d left", req.Amount, left), nil)
	}
	rs, err := s.store.ListRefunds(ctx, c.MerchantUID)
	if err != nil {
		return nil, s.storeErr(ctx, "list refunds", err)
	}
	for _, r := range rs {
		if r.Status == store.RefundSending || r.Status == store.RefundUnknown {
			return nil, newError(codes.RefundInProgress, "refund "+r.ID+" is not settled yet", nil)
		}
	}
	return c, nil
}

// refundAnswer is Refund's result for a stored refund.
func (s *Service) refundAnswer(r *store.Refund, req RefundRequest) (*RefundView, error) {
	if r.MerchantUID != req.MerchantUID || req.Amount != 0 && r.Amount != req.Amount {
		return nil, newError(codes.IdempotencyKeyReused, "this idempotency key asked for another refund", nil)
	}
	v := refundView(r)
	if r.Status == store.RefundFailed {
		return v, newError(codes.RefundFailed, withReason("not refunded", r.FailReason), nil)
	}
	return v, nil
}

// sendRefund sends the cancel for a refund just committed and records what iamport
// answered; its calls stay within an attempt's budget, and the records are written even
// if ctx ends meanwhile.
func (s *Service) sendRefund(ctx context.Context, c *store.Charge, r *store.Refund, began time.Time) *store.Refund {
	actx, cancel := s.attemptContext(ctx, began)
	defer cancel()
	checksum := r.Checksum
	p, err := s.client.CancelPayment(actx, iamport.CancelRequest{
		ImpUID: c.ImpUID, Amount: r.Amount, Checksum: &checksum, Reason: r.Reason,
	})
	wctx, wcancel := afterwards(ctx)
	defer wcancel()
	var apiErr *iamport.APIError
	var valErr *iamport.ValidationError
	switch {
	case err == nil && p != nil:
		if _, aerr := s.applyPayment(wctx, c, p, 0); aerr != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: refund sent; the charge will show it after the next lookup",
				slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(aerr)))
		}
		return s.settleRefund(wctx, r, store.RefundSucceeded, "")
	case errors.As(err, &valErr) || errors.Is(err, iamport.ErrInvalidInput):
		return s.settleRefund(wctx, r, store.RefundFailed, "invalid refund request")
	case errors.Is(err, iamport.ErrOutcomeUnknown), errors.Is(err, iamport.ErrNotSent), errors.Is(err, iamport.ErrUnauthorized):
		// ErrNotSent would be safe to send again, but a refund is never sent twice by
		// billkey: the lookup decides, after the lease.
		return s.settleRefund(wctx, r, store.RefundUnknown, "outcome unknown")
	case errors.As(err, &apiErr):
		// iamport refused (the balance moved, nothing left, ...): nothing was refunded.
		// The payment is read again so the charge shows what was refunded meanwhile.
		s.refreshCharge(wctx, c)
		return s.settleRefund(wctx, r, store.RefundFailed, cleanText(scrub(apiErr.Message), 200))
	}
	return s.settleRefund(wctx, r, store.RefundUnknown, "outcome unknown")
}

// refreshCharge applies the charge's payment as iamport has it now.
func (s *Service) refreshCharge(ctx context.Context, c *store.Charge) {
	p, err := s.client.GetPayment(ctx, c.ImpUID, s.cfg.TestMode)
	if err == nil && p != nil {
		_, _ = s.applyPayment(ctx, c, p, 0)
	}
}

// settleRefund moves a sending or unknown refund to status, raising its event once.
func (s *Service) settleRefund(ctx context.Context, r *store.Refund, status store.RefundStatus, reason string) *store.Refund {
	u := store.RefundUpdate{Status: status, FailReason: reason, At: s.now()}
	if status == store.RefundUnknown {
		lease := s.attemptLease() // looked up only once nothing of this attempt can still arrive
		u.Hold = &lease
	} else {
		u.ReleaseClaim = true
	}
	cur, err := s.store.UpdateRefund(ctx, r.ID, []store.RefundStatus{store.RefundSending, store.RefundUnknown}, u)
	if errors.Is(err, store.ErrConflict) {
		if again, gerr := s.store.GetRefund(ctx, r.ID); gerr == nil {
			return again
		}
		return r
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "billkey: could not record a refund's outcome; the reconciler settles it",
			slog.String("refund", r.ID), slog.String("outcome", string(status)), slog.String("error", errText(err)))
		return r
	}
	kind := map[store.RefundStatus]event.Kind{store.RefundSucceeded: event.RefundSucceeded,
		store.RefundFailed: event.RefundFailed, store.RefundUnknown: event.RefundUnknown}[status]
	level := slog.LevelInfo
	if status != store.RefundSucceeded {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "billkey: refund "+string(status),
		slog.String("refund", cur.ID), slog.String("merchant_uid", cur.MerchantUID),
		slog.Int64("amount", cur.Amount), slog.String("operator", cleanText(cur.Operator, 64)))
	s.tel.count(ctx, s.tel.refunds, "result", string(status), 1)
	s.emit(ctx, event.Event{Kind: kind, UserID: cur.UserID, MerchantUID: cur.MerchantUID, RefundID: cur.ID,
		Amount: cur.Amount, Operator: cur.Operator, Reason: cur.FailReason, At: cur.UpdatedAt})
	return cur
}

// reconcileRefunds settles refunds whose answer was lost (or whose process died while
// sending), once their lease ran out, from the payment's cancellations at iamport.
func (s *Service) reconcileRefunds(ctx context.Context, rep *ReconcileReport) error {
	rs, err := s.store.ClaimRefunds(ctx, []store.RefundStatus{store.RefundSending, store.RefundUnknown}, s.claimLease(), reconcileBatch)
	if err != nil {
		return s.storeErr(ctx, "claim refunds", err)
	}
	for _, r := range rs {
		s.lookUpRefund(ctx, r, rep)
	}
	return nil
}

// lookUpRefund decides one open refund from iamport's record of the payment: the refund
// went through when the amount cancelled since it was asked covers it, with a
// cancellation of its amount in the history; otherwise nothing was refunded.
func (s *Service) lookUpRefund(ctx context.Context, r *store.Refund, rep *ReconcileReport) {
	c, err := s.store.GetCharge(ctx, r.MerchantUID)
	if err != nil {
		return
	}
	p, err := s.client.GetPayment(ctx, c.ImpUID, s.cfg.TestMode)
	if err != nil || p == nil {
		rep.RefundsOpen++
		return // the lease runs out again and a later sweep asks again
	}
	if _, aerr := s.applyPayment(ctx, c, p, 0); aerr != nil {
		rep.RefundsOpen++
		return
	}
	before := c.Amount - r.Checksum // cancelled when the refund was asked
	if p.CancelAmount-before >= r.Amount && cancelledOnce(p, r.Amount) {
		s.settleRefund(ctx, r, store.RefundSucceeded, "")
		rep.RefundsSettled++
		return
	}
	s.settleRefund(ctx, r, store.RefundFailed, "iamport has no such cancellation")
	rep.RefundsSettled++
}

// cancelledOnce reports whether p's cancel history holds a cancellation of amount.
func cancelledOnce(p *iamport.Payment, amount int64) bool {
	for _, h := range p.CancelHistory {
		if h.Amount == amount {
			return true
		}
	}
	return false
}

// Refunds returns the charge's refunds, oldest first (for an operator).
func (s *Service) Refunds(ctx context.Context, merchantUID string) ([]RefundView, error) {
	if !idrule.MerchantUID.Valid(merchantUID) {
		return nil, errNotFound("no such charge")
	}
	rs, err := s.store.ListRefunds(ctx, merchantUID)
	if err != nil {
		return nil, s.storeErr(ctx, "list refunds", err)
	}
	out := make([]RefundView, len(rs))
	for i, r := range rs {
		out[i] = *refundView(r)
	}
	return out, nil
}
