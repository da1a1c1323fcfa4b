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
	"github.com/billkey/billkey/store"
)

// One attempt to charge: the row moves to charging and counts the attempt while taking a
// lease of ReconcileAfter on the store's clock; `again`, and the lookup a refusal calls
// for, run within half of that, measured from just before the lease was taken; every
// write that records what the attempt learnt is conditioned on the row still being at
// that attempt. So no reconciler on any instance looks the merchant_uid up while this
// attempt may still reach iamport, and nothing this attempt learns late can overwrite what
// a later attempt did (docs/guarantees.md, R4 and R5).

// minReconcileAfter is the shortest Config.ReconcileAfter New accepts: an attempt gets
// half of it for `again` and a lookup (minAttemptBudget), and the other half is margin
// for the writes around them and for clocks that run at slightly different rates.
const (
	minAttemptBudget  = 5 * time.Second
	minReconcileAfter = 2 * minAttemptBudget
)

// recordBudget bounds the writes that record what iamport already did. They run on a
// context that survives the caller's cancellation (a client that went away must not leave
// a paid charge looking unpaid) but still ends.
const recordBudget = 15 * time.Second

// afterwards returns the context of the writes that follow a call to iamport.
func afterwards(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordBudget)
}

// attemptLease is the lease an attempt (and a freshly created charge) holds.
func (s *Service) attemptLease() store.Lease {
	return store.Lease{Owner: s.cfg.InstanceID, For: s.cfg.ReconcileAfter}
}

// attemptBudget is how long the calls of one attempt may take in all.
func (s *Service) attemptBudget() time.Duration { return s.cfg.ReconcileAfter / 2 }

// start moves a charge from `from` (pending or unknown) to charging, counting an attempt
// and taking its lease. The winner of this compare-and-set (won true) is the only caller
// that may send `again` for this attempt; a loser gets the current row. began is when
// the attempt's budget started, on the monotonic clock.
func (s *Service) start(ctx context.Context, c *store.Charge, from store.ChargeStatus) (began time.Time, cur *store.Charge, won bool, err error) {
	began = time.Now()
	lease := s.attemptLease()
	cur, err = s.store.UpdateCharge(ctx, c.MerchantUID, []store.ChargeStatus{from},
		store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, At: s.now(), Hold: &lease,
			Note: chargeNote(ctx, store.ChargeUpdate{AddAttempts: 1})})
	if errors.Is(err, store.ErrConflict) {
		cur, err = s.store.GetCharge(ctx, c.MerchantUID)
		if err != nil {
			return began, nil, false, s.storeErr(ctx, "get charge", err)
		}
		return began, cur, false, nil
	}
	if err != nil {
		return began, nil, false, s.storeErr(ctx, "start charge", err)
	}
	return began, cur, true, nil
}

// attemptContext bounds the calls of the attempt that began at began by the attempt
// budget. Shorter limits still apply: the caller's deadline, or, when the caller has
// none, the client's Timeout (which the client applies only to a context without a
// deadline, so it is taken into the bound here).
func (s *Service) attemptContext(ctx context.Context, began time.Time) (context.Context, context.CancelFunc) {
	budget := s.attemptBudget()
	if _, ok := ctx.Deadline(); !ok {
		if t := s.client.Timeout(); t > 0 {
			budget = min(budget, t)
		}
	}
	return context.WithDeadline(ctx, began.Add(budget))
}

// send calls `again` for a charge this caller has just moved to charging, then records
// what iamport answered. Both the call and any lookup it leads to stay within the
// attempt's budget (a call cut off by it leaves the charge unknown). The records are
// written even if ctx ends meanwhile: what iamport did must not be forgotten because the
// caller went away.
func (s *Service) send(ctx context.Context, c *store.Charge, began time.Time) (*store.Charge, error) {
	s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: sending again",
		slog.String("merchant_uid", c.MerchantUID),
		slog.String("customer_uid", maskCustomerUID(c.CustomerUID)),
		slog.Int64("amount", c.Amount), slog.Int("attempt", c.Attempts))
	actx, cancel := s.attemptContext(ctx, began)
	defer cancel()
	p, err := s.client.Again(actx, iamport.AgainRequest{
		CustomerUID: c.CustomerUID,
		MerchantUID: c.MerchantUID,
		Amount:      c.Amount,
		Name:        c.Name,
		NoticeURL:   s.cfg.NoticeURL,
	})
	o := s.judgeAgain(actx, c, p, err)
	wctx, wcancel := afterwards(ctx)
	defer wcancel()
	return s.record(wctx, c, o)
}

// outcome is what one attempt learnt: a payment to apply, a failure without a payment
// record, or nothing certain (only a lookup can tell, later).
type outcome struct {
	payment *iamport.Payment
	code    string // for a failure: its error code
	reason  string // failure or unknown: why
	unknown bool
}

// judgeAgain reads the answer of `again`. A refusal of the request is confirmed by a
// lookup of the merchant_uid within the attempt's budget: a payment under it must never
// be lost, whatever iamport said.
func (s *Service) judgeAgain(actx context.Context, c *store.Charge, p *iamport.Payment, err error) outcome {
	var declined *iamport.DeclinedError
	var apiErr *iamport.APIError
	var valErr *iamport.ValidationError
	var mismatch *iamport.MismatchError
	switch {
	case err == nil && p != nil && p.Status == iamport.StatusPaid && s.chargePaymentMismatch(c, p) == "":
		return outcome{payment: p}
	case err == nil:
		// A "success" that does not match what we asked for: only a lookup can tell.
		return outcome{unknown: true, reason: "unexpected answer to again"}
	case errors.As(err, &mismatch) && settledPaymentOf(c, mismatch.Payment):
		// iamport answered with this charge's payment, settled, but not as asked (another
		// amount, one that is not a whole won): applied as it is, which closes the row as
		// a mismatch for a person to look at (R2) instead of leaving it unknown.
		return outcome{payment: mismatch.Payment}
	case errors.As(err, &declined):
		if declined.Payment != nil {
			return outcome{payment: declined.Payment}
		}
		return outcome{code: codes.CardDeclined, reason: cleanText(scrub(declined.FailReason), 200)}
	case errors.As(err, &valErr) || errors.Is(err, iamport.ErrInvalidInput):
		// Refused before sending: retrying cannot help.
		s.log.LogAttrs(actx, slog.LevelError, "billkey: again refused by the client",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
		reason := "invalid charge request"
		if valErr != nil {
			reason += ": " + cleanText(valErr.Field, 40)
		}
		return outcome{code: codes.ChargeRefused, reason: reason}
	case errors.Is(err, iamport.ErrOutcomeUnknown), errors.Is(err, iamport.ErrNotSent), errors.Is(err, iamport.ErrUnauthorized):
		// Maybe charged, or provably not sent, or our credentials were refused: in every
		// case the reconciler looks the merchant_uid up before anything is sent again.
		s.log.LogAttrs(actx, slog.LevelWarn, "billkey: again outcome unknown",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
		return outcome{unknown: true, reason: "outcome unknown"}
	case errors.As(err, &apiErr):
		return s.judgeRefusal(actx, c, apiErr)
	}
	s.log.LogAttrs(actx, slog.LevelWarn, "billkey: again failed",
		slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
	return outcome{unknown: true, reason: "outcome unknown"}
}

// settledPaymentOf reports whether p is a settled payment (paid, failed or cancelled)
// under c's merchant_uid.
func settledPaymentOf(c *store.Charge, p *iamport.Payment) bool {
	return p != nil && p.MerchantUID == c.MerchantUID &&
		(p.Status == iamport.StatusPaid || p.Status == iamport.StatusFailed || p.Status == iamport.StatusCancelled)
}

// judgeRefusal reads a request-level refusal of `again`: iamport says nothing was
// charged. Looked up first, within the attempt's budget; then the billing key that
// iamport no longer knows, and any other refusal, each get their own code.
func (s *Service) judgeRefusal(actx context.Context, c *store.Charge, apiErr *iamport.APIError) outcome {
	lp, lerr := s.client.FindPayment(actx, c.MerchantUID, "")
	switch {
	case lerr == nil && lp != nil:
		return outcome{payment: lp}
	case !errors.Is(lerr, iamport.ErrNotFound):
		return outcome{unknown: true, reason: "refused, and the lookup failed"}
	}
	reason := cleanText(scrub(apiErr.Message), 200)
	if reason == "" {
		reason = fmt.Sprintf("refused by iamport (code %d)", apiErr.Code)
	}
	if errors.Is(apiErr, iamport.ErrCustomerNotFound) {
		return outcome{code: codes.BillingKeyGone, reason: reason}
	}
	return outcome{code: codes.ChargeRefused, reason: reason}
}

// record writes what an attempt learnt, only while the row is still at that attempt.
func (s *Service) record(ctx context.Context, c *store.Charge, o outcome) (*store.Charge, error) {
	attempt := []store.ChargeStatus{store.ChargeCharging}
	switch {
	case o.payment != nil:
		return s.applyPayment(ctx, c, o.payment, c.Attempts)
	case o.unknown:
		lease := s.attemptLease() // the next lookup waits until nothing of this attempt can still arrive
		return s.transition(ctx, c, attempt,
			store.ChargeUpdate{Status: store.ChargeUnknown, Hold: &lease, IfAttempts: c.Attempts}, event.ChargeUnknown, o.reason)
	}
	if o.reason == "" {
		o.reason = "declined"
	}
	u := store.ChargeUpdate{Status: store.ChargeFailed, FailCode: o.code, FailReason: o.reason, IfAttempts: c.Attempts}
	if o.code == codes.ChargeRefused || o.code == codes.BillingKeyGone {
		// A failure inferred from a refusal and an empty lookup: held for one confirming
		// lookup after ReconcileAfter, which books any payment that shows up late.
		lease := s.attemptLease()
		u.Hold = &lease
	}
	cur, err := s.transition(ctx, c, attempt, u, event.ChargeFailed)
	if err == nil && o.code == codes.BillingKeyGone && cur.Status == store.ChargeFailed {
		s.forgetGoneKey(ctx, cur)
	}
	return cur, err
}

// forgetGoneKey removes the stored billing key iamport no longer has, so the customer is
// asked to register a card again instead of meeting the same refusal each time.
func (s *Service) forgetGoneKey(ctx context.Context, c *store.Charge) {
	err := s.store.DeleteBillingKey(ctx, c.UserID, c.CustomerUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return // replaced or removed meanwhile
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not remove a billing key iamport no longer has",
			slog.String("customer_uid", maskCustomerUID(c.CustomerUID)), slog.String("error", errText(err)))
		return
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: billing key gone at iamport; removed",
		slog.String("customer_uid", maskCustomerUID(c.CustomerUID)))
	s.emit(ctx, event.Event{Kind: event.BillingKeyDeleted, UserID: c.UserID, MerchantUID: c.MerchantUID,
		Reason: "iamport no longer has the billing key", At: s.now()})
}
