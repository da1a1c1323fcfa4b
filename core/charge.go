package core

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// Limits of the charge listings.
const (
	defaultListLimit = 20
	maxListLimit     = 100
)

// active are the charge states whose outcome is not settled yet.
var active = []store.ChargeStatus{store.ChargePending, store.ChargeCharging, store.ChargeUnknown}

func errInProgress() *Error {
	return newError(codes.ChargeInProgress,
		"the charge's outcome is not known yet; it is settled by a lookup at iamport (repeat the request with the same idempotency key to read it)", nil)
}

// Charge charges the user's billing key once per idempotency key (docs/guarantees.md,
// R4). The amount and name come from the plan catalogue (req.PlanID), or, from Go code
// only, from req.Amount and req.Name with PlanID empty; a request carrying both is
// refused (R1). The charge row is committed as pending before `again` is sent (R18) and
// moves only by compare-and-set: of any number of concurrent calls with one key, exactly
// one sends `again`. A repeated key returns the stored charge, also after the user's
// billing key was removed or replaced: the key is looked up before the billing key is.
// `again` is cut off after Config.ReconcileAfter/2 (the charge is then unknown).
//
// The view is returned whenever a charge row exists, also together with an error:
//   - paid (or cancelled later): view, nil
//   - failed: view (with FailReason and FailCode) and the failure's error:
//     codes.CardDeclined (the card company declined), codes.ChargeRefused (iamport refused
//     the request; nothing was charged), codes.BillingKeyGone (iamport no longer has the
//     key: the stored key is removed, register a card again), codes.PaymentMismatch
//   - outcome not known yet (pending, charging, or unknown after a timeout, reset or 5xx),
//     and any failure on our side once the row exists: view and codes.ChargeInProgress;
//     Reconcile settles it by looking the merchant_uid up, never by a blind retry, and
//     repeating the request with the same key reads the outcome
//
// Errors without a view: codes.Unauthenticated, codes.InvalidRequest,
// codes.IdempotencyKeyRequired, codes.PlanUnknown, codes.IdempotencyKeyReused (the key was used
// for another plan or amount), codes.BillingKeyMissing (no billing key, and no charge under
// the idempotency key), codes.Internal (before any row exists).
func (s *Service) Charge(ctx context.Context, req ChargeRequest) (*ChargeView, error) {
	ctx, span := s.tel.span(ctx, "charge", attribute.String("plan", req.PlanID))
	out, err := s.chargeTraced(ctx, req)
	endSpan(span, err)
	return out, err
}

// chargeTraced is Charge inside its span.
func (s *Service) chargeTraced(ctx context.Context, req ChargeRequest) (*ChargeView, error) {
	ctx = withSource(ctx, srcRequest)
	c, e := s.chargeRow(req)
	if e != nil {
		return nil, e
	}
	// The idempotency key first: a repeated request answers with the stored charge (which
	// may be paid) even after the user removed or replaced the card, so that a renewal job
	// asking again never reads billing_key_missing for a charge that took money. The store
	// reads the idempotency key and the billing key and writes the row in one step
	// (CreateKeyedCharge), so first requests racing meet there too.
	return s.createAndRun(ctx, c, true)
}

// chargeRow checks a charge request and returns the charge it asks for (without
// merchant_uid and customer_uid).
func (s *Service) chargeRow(req ChargeRequest) (*store.Charge, *Error) {
	if e := checkUserID(req.UserID); e != nil {
		return nil, e
	}
	if req.IdempotencyKey == "" {
		return nil, newError(codes.IdempotencyKeyRequired, "an idempotency key is required", nil)
	}
	if !idrule.IdempotencyKey.Valid(req.IdempotencyKey) {
		return nil, errInvalid("the idempotency key must be " + idrule.IdempotencyKey.Describe())
	}
	if strings.HasPrefix(req.IdempotencyKey, firstChargeKeyPrefix) {
		return nil, errInvalid("idempotency keys starting with " + firstChargeKeyPrefix + " are reserved")
	}
	c := &store.Charge{UserID: req.UserID, IdempotencyKey: req.IdempotencyKey}
	if req.PlanID != "" {
		if req.Amount != 0 || req.Name != "" {
			return nil, errInvalid("a plan charge takes its amount and name from the plan catalogue")
		}
		p, ok := s.plans[req.PlanID]
		if !ok {
			return nil, errPlanUnknown()
		}
		c.PlanID, c.Amount, c.Name = p.ID, p.Amount, p.Name
		return c, nil
	}
	if req.Amount <= 0 || req.Amount > maxPlanAmount {
		return nil, errInvalid("a plan, or a positive amount and a name, is required")
	}
	if strings.TrimSpace(req.Name) == "" || !idrule.OrderName.Valid(req.Name) {
		return nil, errInvalid("the name must be " + idrule.OrderName.Describe())
	}
	c.Amount, c.Name = req.Amount, req.Name
	return c, nil
}

// createAndRun commits c as pending, holding the creator's lease on it (or finds the
// charge stored under its idempotency key) and, while it is pending, runs it. onKey
// charges get a fresh merchant_uid and the user's billing key as stored
// (codes.BillingKeyMissing when there is none); otherwise c's own merchant_uid and
// customer_uid are charged (an issuance's first charge, fixed when it was settled).
func (s *Service) createAndRun(ctx context.Context, c *store.Charge, onKey bool) (*ChargeView, error) {
	create := s.store.CreateCharge
	if onKey {
		create = s.store.CreateKeyedCharge
	}
	now := s.now()
	// The row is created as the first attempt, charging and holding its lease, so a charge
	// costs two commits: this one before `again`, and the one that records the answer.
	c.Status, c.Attempts = store.ChargeCharging, 1
	c.CreatedAt, c.UpdatedAt = now, now
	c.Notes = []store.Note{{At: now, Text: chargeNote(ctx, store.ChargeUpdate{Note: "created", AddAttempts: 1})}}
	var stored *store.Charge
	var created bool
	var began time.Time
	for attempt := 0; ; attempt++ {
		if onKey {
			c.MerchantUID = newMerchantUID(prefixCharge, now)
		}
		var err error
		began = time.Now()
		stored, created, err = create(ctx, c, s.attemptLease())
		if err == nil && stored == nil {
			err = errors.New("store returned no charge")
		}
		if err == nil {
			break
		}
		if onKey && errors.Is(err, store.ErrNotFound) {
			return nil, errKeyMissing()
		}
		if errors.Is(err, store.ErrDuplicate) && onKey && attempt < 3 {
			continue
		}
		return nil, s.storeErr(ctx, "create charge", err)
	}
	if !created {
		return s.resume(ctx, c, stored)
	}
	final, err := s.send(ctx, stored, began)
	if err != nil {
		return viewOf(stored), s.inProgressAfter(err)
	}
	return s.answer(final)
}

// resume answers a request c whose idempotency key already names the charge stored: the
// same plan (or amount and name) gets that charge's answer, anything else is
// codes.IdempotencyKeyReused. A stored charge still pending was never sent; it is run
// (whoever wins pending -> charging sends `again`, once).
func (s *Service) resume(ctx context.Context, c, stored *store.Charge) (*ChargeView, error) {
	if stored.PlanID != c.PlanID || (c.PlanID == "" && (stored.Amount != c.Amount || stored.Name != c.Name)) {
		return nil, newError(codes.IdempotencyKeyReused, "this idempotency key was used for another charge", nil)
	}
	if stored.Status != store.ChargePending {
		return s.answer(stored)
	}
	return s.run(ctx, stored)
}

// run moves a pending charge to charging and, when this caller won that compare-and-set,
// sends `again` for it. A loser answers with the current row. Once the row exists, every
// failure on our side answers with the charge as last known and codes.ChargeInProgress: a
// caller must never read "failed" or be tempted to retry under a new key while `again`
// may have run (docs/guarantees.md, R5).
func (s *Service) run(ctx context.Context, stored *store.Charge) (*ChargeView, error) {
	at, cur, won, err := s.start(ctx, stored, store.ChargePending)
	if err != nil {
		return viewOf(stored), s.inProgressAfter(err)
	}
	if !won {
		return s.answer(cur)
	}
	final, err := s.send(ctx, cur, at)
	if err != nil {
		return viewOf(cur), s.inProgressAfter(err)
	}
	return s.answer(final)
}

// inProgressAfter is the error of a charge whose row exists when something on our side
// failed: the outcome is not known to the caller, whatever the cause.
func (s *Service) inProgressAfter(cause error) *Error {
	e := errInProgress()
	e.Err = cause
	return e
}

// answer is Charge's result for a stored charge: the view, plus an error unless paid or
// cancelled.
func (s *Service) answer(c *store.Charge) (*ChargeView, error) {
	v := viewOf(c)
	switch c.Status {
	case store.ChargePaid, store.ChargeCancelled:
		return v, nil
	case store.ChargeFailed:
		return v, failError(c)
	default:
		return v, errInProgress()
	}
}

// failError is the error of a failed charge, by the code its failure was recorded with.
func failError(c *store.Charge) *Error {
	code := c.FailCode
	if _, known := chargeFailCodes[code]; !known {
		code = codes.CardDeclined // rows settled before fail codes existed were declines
	}
	return newError(code, withReason(chargeFailCodes[code], scrub(c.FailReason)), nil)
}

// chargeFailCodes are the codes a failed charge is recorded with, and how each is said.
var chargeFailCodes = map[string]string{
	codes.CardDeclined:    "the card company declined the charge",
	codes.ChargeRefused:   "the payment service did not process the charge; nothing was charged",
	codes.BillingKeyGone:  "the registered card is no longer available at the payment service; register a card again",
	codes.PaymentMismatch: "the payment service's record of the charge does not match ours",
	codes.IssuanceFailed:  "the card registration did not complete, so nothing was charged",
}

// viewOf is what a user may see of a charge.
func viewOf(c *store.Charge) *ChargeView {
	v := &ChargeView{
		MerchantUID: c.MerchantUID,
		PlanID:      c.PlanID,
		Name:        c.Name,
		Amount:      c.Amount,
		Status:      c.Status,
		FailReason:  scrub(c.FailReason),
		Refunded:    c.Refunded,
		ReceiptURL:  c.ReceiptURL,
		CreatedAt:   c.CreatedAt,
	}
	if c.Status == store.ChargeFailed {
		v.FailCode = failError(c).Code
	}
	if !c.PaidAt.IsZero() {
		t := c.PaidAt
		v.PaidAt = &t
	}
	return v
}

// GetCharge returns one of the user's charges. A charge of another user, a malformed and
// a missing merchant_uid all give codes.NotFound alike, without any call to iamport
// (docs/guarantees.md, R11). Other errors: codes.Unauthenticated, codes.InvalidRequest (user
// id), codes.Internal.
func (s *Service) GetCharge(ctx context.Context, userID, merchantUID string) (*ChargeView, error) {
	if e := checkUserID(userID); e != nil {
		return nil, e
	}
	if !idrule.MerchantUID.Valid(merchantUID) {
		return nil, errNotFound("no such charge")
	}
	c, err := s.store.GetCharge(ctx, merchantUID)
	if errors.Is(err, store.ErrNotFound) {
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

// ListCharges returns a page of the user's charges, newest first: limit of them (default
// 20, at most 100) after cursor ("" for the first page), and the cursor of the next page
// ("" after the last). Each page costs the same however many charges the user has.
// Errors: codes.Unauthenticated, codes.InvalidRequest (user id, or a cursor no listing gave),
// codes.Internal.
func (s *Service) ListCharges(ctx context.Context, userID, cursor string, limit int) ([]ChargeView, string, error) {
	if e := checkUserID(userID); e != nil {
		return nil, "", e
	}
	after, e := parseCursor(cursor)
	if e != nil {
		return nil, "", e
	}
	if limit <= 0 {
		limit = defaultListLimit
	}
	page, err := s.store.SearchCharges(ctx, store.ChargeQuery{UserID: userID, After: after, Limit: min(limit, maxListLimit)})
	if err != nil {
		return nil, "", s.storeErr(ctx, "list charges", err)
	}
	out := make([]ChargeView, 0, len(page.Charges))
	for _, c := range page.Charges {
		if c == nil || c.UserID != userID {
			continue
		}
		out = append(out, *viewOf(c))
	}
	return out, page.Next.String(), nil
}
