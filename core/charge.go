package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/billkey/billkey/iamport"
)

// active are the charge states whose outcome is not settled yet.
var active = []ChargeStatus{ChargePending, ChargeCharging, ChargeUnknown}

func errDeclined(reason string) *Error {
	return newError(CodeCardDeclined, http.StatusPaymentRequired, withReason("the charge was refused", reason), nil)
}

func errInProgress() *Error {
	return newError(CodeChargeInProgress, http.StatusAccepted,
		"the charge's outcome is not known yet; it is settled by a lookup at iamport", nil)
}

// Charge charges the user's billing key once per idempotency key (R4). The amount and
// name come from the plan catalogue (req.PlanID), or, from Go code only, from req.Amount
// and req.Name with PlanID empty; a request carrying both is refused (R1). The charge row
// is committed as pending before `again` is sent (R18) and moves only by compare-and-set:
// of any number of concurrent calls with one key, exactly one sends `again`. A repeated
// key returns the stored charge, also after the user's billing key was removed or
// replaced: the key is looked up before the billing key is. `again` is cut off after
// Config.ReconcileAfter/2 (the charge is then unknown).
//
// The view is returned whenever a charge row exists, also together with an error:
//   - paid (or cancelled later): view, nil
//   - refused by the card company or by iamport: view (failed, with FailReason) and
//     CodeCardDeclined (402)
//   - outcome not known yet (pending, charging, or unknown after a timeout, reset or 5xx):
//     view and CodeChargeInProgress (202); Reconcile settles it by looking the
//     merchant_uid up, never by a blind retry
//
// Errors without a view: CodeUnauthenticated, CodeInvalidRequest, CodeIdempotencyKeyRequired,
// CodePlanUnknown, CodeIdempotencyKeyReused (the key was used for another plan or amount),
// CodeBillingKeyMissing (409: no billing key, and no charge under the idempotency key),
// CodeInternal.
func (s *Service) Charge(ctx context.Context, req ChargeRequest) (*ChargeView, error) {
	if e := checkUserID(req.UserID); e != nil {
		return nil, e
	}
	if req.IdempotencyKey == "" {
		return nil, newError(CodeIdempotencyKeyRequired, http.StatusBadRequest, "an idempotency key is required", nil)
	}
	if !isPrintableASCII(req.IdempotencyKey, maxIdemKeyLen) {
		return nil, errInvalid("the idempotency key must be 1..128 printable ASCII characters")
	}
	if strings.HasPrefix(req.IdempotencyKey, firstChargeKeyPrefix) {
		return nil, errInvalid("idempotency keys starting with " + firstChargeKeyPrefix + " are reserved")
	}
	c := &Charge{UserID: req.UserID, IdempotencyKey: req.IdempotencyKey}
	if req.PlanID != "" {
		if req.Amount != 0 || req.Name != "" {
			return nil, errInvalid("a plan charge takes its amount and name from the plan catalogue")
		}
		p, ok := s.plans[req.PlanID]
		if !ok {
			return nil, errPlanUnknown()
		}
		c.PlanID, c.Amount, c.Name = p.ID, p.Amount, p.Name
	} else {
		if req.Amount <= 0 || req.Amount > maxPlanAmount {
			return nil, errInvalid("a plan, or a positive amount and a name, is required")
		}
		if strings.TrimSpace(req.Name) == "" || !isText(req.Name, maxOrderName) {
			return nil, errInvalid("the name must be 1..40 characters without control characters")
		}
		c.Amount, c.Name = req.Amount, req.Name
	}
	// The idempotency key first: a repeated request answers with the stored charge (which
	// may be paid) even after the user removed or replaced the card, so that a renewal job
	// asking again never reads billing_key_missing for a charge that took money. Two
	// first requests racing both miss here and meet in CreateCharge.
	stored, err := s.store.GetChargeByIdempotencyKey(ctx, req.UserID, req.IdempotencyKey)
	if err == nil && stored == nil {
		err = errors.New("store returned no charge")
	}
	switch {
	case err == nil:
		return s.resume(ctx, c, stored)
	case !errors.Is(err, ErrNotFound):
		return nil, s.storeErr(ctx, "get charge by idempotency key", err)
	}
	k, err := s.store.GetBillingKey(ctx, req.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, errKeyMissing(http.StatusConflict)
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get billing key", err)
	}
	c.CustomerUID = k.CustomerUID
	return s.createAndRun(ctx, c, true)
}

// createAndRun commits c as pending (or finds the charge stored under its idempotency
// key) and, while it is pending, runs it. generate asks for a fresh merchant_uid.
func (s *Service) createAndRun(ctx context.Context, c *Charge, generate bool) (*ChargeView, error) {
	now := s.now()
	c.Status = ChargePending
	c.CreatedAt, c.UpdatedAt = now, now
	var stored *Charge
	var created bool
	for attempt := 0; ; attempt++ {
		if generate {
			c.MerchantUID = newMerchantUID(prefixCharge, now)
		}
		var err error
		stored, created, err = s.store.CreateCharge(ctx, c)
		if err == nil && stored == nil {
			err = errors.New("store returned no charge")
		}
		if err == nil {
			break
		}
		if errors.Is(err, ErrDuplicate) && generate && attempt < 3 {
			continue
		}
		return nil, s.storeErr(ctx, "create charge", err)
	}
	if !created {
		return s.resume(ctx, c, stored)
	}
	return s.run(ctx, stored)
}

// resume answers a request c whose idempotency key already names the charge stored: the
// same plan (or amount and name) gets that charge's answer, anything else is
// CodeIdempotencyKeyReused. A stored charge still pending was never sent; it is run
// (whoever wins pending -> charging sends `again`, once).
func (s *Service) resume(ctx context.Context, c, stored *Charge) (*ChargeView, error) {
	if stored.PlanID != c.PlanID || (c.PlanID == "" && (stored.Amount != c.Amount || stored.Name != c.Name)) {
		return nil, newError(CodeIdempotencyKeyReused, http.StatusUnprocessableEntity,
			"this idempotency key was used for another charge", nil)
	}
	if stored.Status != ChargePending {
		return s.answer(stored)
	}
	return s.run(ctx, stored)
}

// run moves a pending charge to charging and, when this caller won that compare-and-set,
// sends `again` for it. A loser answers with the current row.
func (s *Service) run(ctx context.Context, stored *Charge) (*ChargeView, error) {
	cur, won, err := s.start(ctx, stored, ChargePending)
	if err != nil {
		return nil, err
	}
	if !won {
		return s.answer(cur)
	}
	final, err := s.send(ctx, cur)
	if err != nil {
		return nil, err
	}
	return s.answer(final)
}

// start moves a charge from `from` (pending or unknown) to charging, counting an attempt.
// The winner of this compare-and-set (won true) is the only caller that may send `again`
// for this attempt; a loser gets the current row.
func (s *Service) start(ctx context.Context, c *Charge, from ChargeStatus) (cur *Charge, won bool, err error) {
	cur, err = s.store.UpdateCharge(ctx, c.MerchantUID, []ChargeStatus{from},
		ChargeUpdate{Status: ChargeCharging, AddAttempts: 1, At: s.now()})
	if errors.Is(err, ErrConflict) {
		cur, err = s.store.GetCharge(ctx, c.MerchantUID)
		if err != nil {
			return nil, false, s.storeErr(ctx, "get charge", err)
		}
		return cur, false, nil
	}
	if err != nil {
		return nil, false, s.storeErr(ctx, "start charge", err)
	}
	return cur, true, nil
}

// againContext bounds one `again` by ReconcileAfter/2. A reconciler takes up a charge
// only once its row has been untouched for ReconcileAfter, and every attempt touches the
// row (pending or unknown -> charging) right before it sends, so the reconciler's
// threshold always exceeds the longest possible `again`: no instance looks a
// merchant_uid up, finds nothing and sends it again while an earlier `again` may still
// reach iamport, whatever deadline the caller's context or the iamport client's Timeout
// would allow. The other half is slack for the store writes around the call and for
// clocks that differ a little between instances. Shorter limits still apply: the
// caller's deadline, or, when the caller has none, the client's Timeout (which the
// client applies only to a context without a deadline, so it is taken into the bound
// here).
func (s *Service) againContext(ctx context.Context) (context.Context, context.CancelFunc) {
	bound := s.cfg.ReconcileAfter / 2
	if _, ok := ctx.Deadline(); !ok {
		if t := s.client.Timeout(); t > 0 {
			bound = min(bound, t)
		}
	}
	return context.WithTimeout(ctx, bound)
}

// send calls `again` for a charge this caller has just moved to charging, bounded by
// againContext, then records what iamport answered (a call cut off by that bound leaves
// the charge unknown). The records are written even if ctx ends meanwhile: what iamport
// did must not be forgotten because the caller went away.
func (s *Service) send(ctx context.Context, c *Charge) (*Charge, error) {
	s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: sending again",
		slog.String("merchant_uid", c.MerchantUID),
		slog.String("customer_uid", maskCustomerUID(c.CustomerUID)),
		slog.Int64("amount", c.Amount), slog.Int("attempt", c.Attempts))
	actx, acancel := s.againContext(ctx)
	p, err := s.client.Again(actx, iamport.AgainRequest{
		CustomerUID: c.CustomerUID,
		MerchantUID: c.MerchantUID,
		Amount:      c.Amount,
		Name:        c.Name,
		NoticeURL:   s.cfg.NoticeURL,
	})
	acancel()
	wctx, cancel := afterwards(ctx)
	defer cancel()
	return s.recordAgain(wctx, c, p, err)
}

// recordAgain applies the answer of `again` to a charge in state charging.
func (s *Service) recordAgain(ctx context.Context, c *Charge, p *iamport.Payment, err error) (*Charge, error) {
	var declined *iamport.DeclinedError
	var apiErr *iamport.APIError
	var valErr *iamport.ValidationError
	switch {
	case err == nil && p != nil && p.Status == iamport.StatusPaid && chargePaymentMismatch(c, p, s.cfg.TestMode) == "":
		return s.applyPayment(ctx, c, p)
	case err == nil:
		// A "success" that does not match what we asked for: only a lookup can tell.
		return s.toUnknown(ctx, c, "unexpected answer to again")
	case errors.As(err, &declined):
		reason := "declined"
		impUID := ""
		if declined.Payment != nil {
			impUID = declined.Payment.ImpUID
		}
		if r := cleanText(scrub(declined.FailReason), 200); r != "" {
			reason = r
		}
		return s.transition(ctx, c, []ChargeStatus{ChargeCharging},
			ChargeUpdate{Status: ChargeFailed, ImpUID: impUID, FailReason: reason}, EventChargeFailed)
	case errors.As(err, &valErr) || errors.Is(err, iamport.ErrInvalidInput):
		// Refused before sending: retrying cannot help.
		reason := "invalid charge request"
		if valErr != nil {
			reason += ": " + cleanText(valErr.Field, 40)
		}
		s.log.LogAttrs(ctx, slog.LevelError, "billkey: again refused by the client",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
		return s.transition(ctx, c, []ChargeStatus{ChargeCharging},
			ChargeUpdate{Status: ChargeFailed, FailReason: reason}, EventChargeFailed)
	case errors.Is(err, iamport.ErrOutcomeUnknown), errors.Is(err, iamport.ErrNotSent), errors.Is(err, iamport.ErrUnauthorized):
		// Maybe charged, or provably not sent, or our credentials were refused: in every
		// case the reconciler looks the merchant_uid up before anything is sent again.
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: again outcome unknown",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
		return s.toUnknown(ctx, c, "outcome unknown")
	case errors.As(err, &apiErr):
		// A request-level refusal: iamport says nothing was charged. Look the merchant_uid
		// up anyway before settling it as failed: a payment under it must never be lost.
		lp, lerr := s.client.FindPayment(ctx, c.MerchantUID, "")
		switch {
		case lerr == nil && lp != nil:
			return s.applyPayment(ctx, c, lp)
		case errors.Is(lerr, iamport.ErrNotFound):
			reason := cleanText(scrub(apiErr.Message), 200)
			if reason == "" {
				reason = fmt.Sprintf("refused by iamport (code %d)", apiErr.Code)
			}
			return s.transition(ctx, c, []ChargeStatus{ChargeCharging},
				ChargeUpdate{Status: ChargeFailed, FailReason: reason}, EventChargeFailed)
		default:
			return s.toUnknown(ctx, c, "refused, and the lookup failed")
		}
	default:
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: again failed",
			slog.String("merchant_uid", c.MerchantUID), slog.String("error", errText(err)))
		return s.toUnknown(ctx, c, "outcome unknown")
	}
}

// toUnknown moves a charging charge to unknown and raises charge.unknown.
func (s *Service) toUnknown(ctx context.Context, c *Charge, reason string) (*Charge, error) {
	return s.transition(ctx, c, []ChargeStatus{ChargeCharging},
		ChargeUpdate{Status: ChargeUnknown, ReleaseClaim: true, FailReason: ""}, EventChargeUnknown, reason)
}

// chargePaymentMismatch compares a payment iamport reports for a charge with our row.
func chargePaymentMismatch(c *Charge, p *iamport.Payment, testMode bool) string {
	switch {
	case p.MerchantUID != c.MerchantUID:
		return "payment belongs to another merchant_uid"
	case p.CustomerUID != "" && p.CustomerUID != c.CustomerUID:
		return "payment was made with another customer_uid"
	case p.CustomerUIDUsage == iamport.UsageIssue:
		return "payment is a billing-key issuance, not a charge"
	case p.Sandbox && !testMode:
		return "sandbox payment in live mode"
	case p.Amount != c.Amount:
		return fmt.Sprintf("amount differs: charged %d, iamport has %d", c.Amount, p.Amount)
	}
	return ""
}

// applyPayment applies a payment iamport reported for c (looked up by the server, never
// taken from a request) with the state machine; used for the answer of `again`, webhooks
// and reconciliation alike. Idempotent and order-independent: the same payment applied
// twice changes nothing the second time, and every transition is a compare-and-set, so
// only the caller that moved the row raises the event. It returns the current row.
func (s *Service) applyPayment(ctx context.Context, c *Charge, p *iamport.Payment) (*Charge, error) {
	if reason := chargePaymentMismatch(c, p, s.cfg.TestMode); reason != "" {
		s.emitMismatch(ctx, Event{UserID: c.UserID, MerchantUID: c.MerchantUID, ImpUID: p.ImpUID,
			PlanID: c.PlanID, Amount: c.Amount, Reason: reason, At: s.now()})
		// Never accepted as paid (R2). An open charge is closed as failed so the merchant's
		// follow-up starts from the event, not from a row that never settles.
		if p.Status == iamport.StatusReady {
			return s.current(ctx, c)
		}
		return s.transition(ctx, c, active,
			ChargeUpdate{Status: ChargeFailed, ImpUID: p.ImpUID, FailReason: "payment mismatch: " + reason, ReleaseClaim: true}, EventChargeFailed)
	}
	switch p.Status {
	case iamport.StatusPaid:
		u := ChargeUpdate{Status: ChargePaid, ImpUID: p.ImpUID, PaidAt: paidAt(p, s.now()), ReleaseClaim: true}
		cur, err := s.transition(ctx, c, active, u, EventChargePaid)
		if err != nil || cur.Status != ChargeFailed {
			return cur, err
		}
		// We had settled it failed, yet iamport has it paid: a late payment must not be
		// lost. failed -> paid, raising payment.late and then charge.paid.
		moved, won, err := s.cas(ctx, cur, []ChargeStatus{ChargeFailed}, u)
		if err != nil || !won {
			return moved, err
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: late payment on a failed charge",
			slog.String("merchant_uid", c.MerchantUID), slog.String("imp_uid", p.ImpUID))
		s.emit(ctx, chargeEvent(EventLatePayment, moved, "paid after the charge was settled failed"))
		s.emit(ctx, chargeEvent(EventChargePaid, moved, ""))
		return moved, nil
	case iamport.StatusCancelled:
		cur, err := s.current(ctx, c)
		if err != nil {
			return nil, err
		}
		if cur.Status == ChargePaid && cur.ImpUID != "" && p.ImpUID != cur.ImpUID {
			// Not the payment we booked; nothing to do with our charge.
			return cur, nil
		}
		reason := ""
		if p.CancelAmount > 0 && p.CancelAmount < p.Amount {
			reason = fmt.Sprintf("partially cancelled: %d of %d", p.CancelAmount, p.Amount)
		}
		u := ChargeUpdate{Status: ChargeCancelled, ImpUID: p.ImpUID, FailReason: reason, ReleaseClaim: true}
		if p.PaidAt > 0 {
			u.PaidAt = paidAt(p, s.now())
		}
		return s.transition(ctx, cur,
			[]ChargeStatus{ChargePending, ChargeCharging, ChargeUnknown, ChargePaid, ChargeFailed}, u, EventChargeCancelled)
	case iamport.StatusFailed:
		reason := cleanText(scrub(p.FailReason), 200)
		if reason == "" {
			reason = "failed at iamport"
		}
		return s.transition(ctx, c, active,
			ChargeUpdate{Status: ChargeFailed, ImpUID: p.ImpUID, FailReason: reason, ReleaseClaim: true}, EventChargeFailed)
	default:
		// ready (or something new): not settled; leave the row as it is.
		return s.current(ctx, c)
	}
}

// paidAt is the payment's paid_at, or now when iamport left it unset.
func paidAt(p *iamport.Payment, now time.Time) time.Time {
	if p.PaidAt > 0 {
		return time.Unix(int64(p.PaidAt), 0).UTC()
	}
	return now
}

// current re-reads a charge.
func (s *Service) current(ctx context.Context, c *Charge) (*Charge, error) {
	cur, err := s.store.GetCharge(ctx, c.MerchantUID)
	if err != nil {
		return nil, s.storeErr(ctx, "get charge", err)
	}
	return cur, nil
}

// cas applies u when the charge's status is in from. On a lost compare-and-set it returns
// the current row and won false. An imp_uid already recorded for another charge is a
// mismatch: the update is not applied.
func (s *Service) cas(ctx context.Context, c *Charge, from []ChargeStatus, u ChargeUpdate) (*Charge, bool, error) {
	u.At = s.now()
	switch u.Status {
	case ChargePaid, ChargeFailed, ChargeCancelled, ChargeUnknown:
		u.ReleaseClaim = true // settled, or waiting for the next sweep: nobody works on it now
	}
	cur, err := s.store.UpdateCharge(ctx, c.MerchantUID, from, u)
	switch {
	case err == nil && cur != nil:
		return cur, true, nil
	case errors.Is(err, ErrConflict):
		cur, err := s.current(ctx, c)
		return cur, false, err
	case errors.Is(err, ErrDuplicate):
		s.emitMismatch(ctx, Event{UserID: c.UserID, MerchantUID: c.MerchantUID, ImpUID: u.ImpUID,
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
func (s *Service) transition(ctx context.Context, c *Charge, from []ChargeStatus, u ChargeUpdate, kind EventKind, reason ...string) (*Charge, error) {
	cur, won, err := s.cas(ctx, c, from, u)
	if err != nil || !won {
		return cur, err
	}
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
func chargeEvent(kind EventKind, c *Charge, reason string) Event {
	return Event{Kind: kind, UserID: c.UserID, MerchantUID: c.MerchantUID, ImpUID: c.ImpUID,
		PlanID: c.PlanID, Amount: c.Amount, Reason: reason, At: c.UpdatedAt}
}

// viewOf is what a user may see of a charge.
func viewOf(c *Charge) *ChargeView {
	v := &ChargeView{
		MerchantUID: c.MerchantUID,
		PlanID:      c.PlanID,
		Name:        c.Name,
		Amount:      c.Amount,
		Status:      c.Status,
		FailReason:  scrub(c.FailReason),
		CreatedAt:   c.CreatedAt,
	}
	if !c.PaidAt.IsZero() {
		t := c.PaidAt
		v.PaidAt = &t
	}
	return v
}

// answer is Charge's result for a stored charge: the view, plus an error unless paid or
// cancelled.
func (s *Service) answer(c *Charge) (*ChargeView, error) {
	v := viewOf(c)
	switch c.Status {
	case ChargePaid, ChargeCancelled:
		return v, nil
	case ChargeFailed:
		return v, errDeclined(v.FailReason)
	default:
		return v, errInProgress()
	}
}

// GetCharge returns one of the user's charges. A charge of another user, a malformed and
// a missing merchant_uid all give CodeNotFound (404) alike, without any call to iamport
// (R11). Other errors: CodeUnauthenticated, CodeInvalidRequest (user id), CodeInternal.
func (s *Service) GetCharge(ctx context.Context, userID, merchantUID string) (*ChargeView, error) {
	if e := checkUserID(userID); e != nil {
		return nil, e
	}
	if !isMerchantUID(merchantUID) {
		return nil, errNotFound("no such charge")
	}
	c, err := s.store.GetCharge(ctx, merchantUID)
	if errors.Is(err, ErrNotFound) {
		return nil, errNotFound("no such charge")
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get charge", err)
	}
	if c.UserID != userID {
		return nil, errNotFound("no such charge")
	}
	return viewOf(c), nil
}

// ListCharges returns the user's charges, newest first; limit <= 0 means 20, and at most
// 100 are returned. Errors: CodeUnauthenticated, CodeInvalidRequest, CodeInternal.
func (s *Service) ListCharges(ctx context.Context, userID string, limit int) ([]ChargeView, error) {
	if e := checkUserID(userID); e != nil {
		return nil, e
	}
	if limit <= 0 {
		limit = 20
	}
	if limit > 100 {
		limit = 100
	}
	cs, err := s.store.ListCharges(ctx, userID, limit)
	if err != nil {
		return nil, s.storeErr(ctx, "list charges", err)
	}
	out := make([]ChargeView, 0, len(cs))
	for _, c := range cs {
		if c == nil || c.UserID != userID {
			continue
		}
		out = append(out, *viewOf(c))
	}
	return out, nil
}
