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

// iamport's length limits for the buyer fields of request_pay (characters).
const (
	maxBuyerName  = 16
	maxBuyerEmail = 64
	maxBuyerTel   = 16
	maxOrderName  = 40
)

func errUnauthenticated() *Error {
	return newError(CodeUnauthenticated, http.StatusUnauthorized, "no authenticated user", nil)
}

func errPlanUnknown() *Error {
	return newError(CodePlanUnknown, http.StatusUnprocessableEntity, "unknown plan", nil)
}

func errIssuanceExpired() *Error {
	return newError(CodeIssuanceExpired, http.StatusGone,
		"this billing-key request has expired; start again", nil)
}

func errIssuanceSettled(is *Issuance) *Error {
	d := "this billing-key request has already failed; start again"
	if is.FailReason != "" {
		d += " (" + is.FailReason + ")"
	}
	return newError(CodeIssuanceSettled, http.StatusConflict, d, nil)
}

func errIssuanceFailed(reason string) *Error {
	return newError(CodeIssuanceFailed, http.StatusUnprocessableEntity, withReason("the billing key was not issued", reason), nil)
}

func errPaymentMismatch() *Error {
	return newError(CodePaymentMismatch, http.StatusUnprocessableEntity,
		"iamport's record of this payment does not match ours", nil)
}

func errKeyMissing(status int) *Error {
	return newError(CodeBillingKeyMissing, status, "no billing key registered for this user", nil)
}

// checkUserID validates a user id from the merchant's hook or from Go code.
func checkUserID(id string) *Error {
	if id == "" {
		return errUnauthenticated()
	}
	if len(id) > 4*maxUserIDLen || !isText(id, maxUserIDLen) {
		return errInvalid("user id must be at most 128 characters without control characters")
	}
	return nil
}

// storeErr logs an unexpected store failure and turns it into a 500.
func (s *Service) storeErr(ctx context.Context, op string, err error) *Error {
	level := slog.LevelError
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		level = slog.LevelDebug // the caller went away; not the store's fault
	}
	s.log.LogAttrs(ctx, level, "billkey: store failure",
		slog.String("op", op), slog.String("error", errText(err)))
	return errInternal(err)
}

// upstreamErr logs a failed iamport call and turns it into a 503.
func (s *Service) upstreamErr(ctx context.Context, op, merchantUID string, err error) *Error {
	s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: iamport call failed",
		slog.String("op", op), slog.String("merchant_uid", merchantUID),
		slog.String("error", errText(err)))
	return errUpstream(err)
}

// defaultOrderName is the order name of an issuance without a plan.
func (s *Service) defaultOrderName() string {
	if s.cfg.Company == "" {
		return "정기결제 카드 등록"
	}
	return cleanText(s.cfg.Company+" 정기결제 카드 등록", maxOrderName)
}

// PrepareIssuance creates a pending issuance for buyer (a fresh merchant_uid and a fresh
// random customer_uid bound to buyer.UserID, expiring after Config.IssuanceTTL) and
// returns what the page passes to IMP.init and IMP.request_pay. With a planID, the plan's
// price is shown in the window and charged once the key is issued.
//
// Errors: CodeUnauthenticated (empty user id), CodeInvalidRequest (malformed user id),
// CodePlanUnknown, CodeInternal (store failure).
func (s *Service) PrepareIssuance(ctx context.Context, buyer Buyer, planID string) (*IssuanceRequest, error) {
	if e := checkUserID(buyer.UserID); e != nil {
		return nil, e
	}
	var plan Plan
	if planID != "" {
		p, ok := s.plans[planID]
		if !ok {
			return nil, errPlanUnknown()
		}
		plan = p
	}
	now := s.now()
	is := &Issuance{
		UserID:    buyer.UserID,
		PlanID:    plan.ID,
		Amount:    plan.Amount,
		Status:    IssuancePending,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.IssuanceTTL),
		UpdatedAt: now,
	}
	for attempt := 0; ; attempt++ {
		is.MerchantUID = newMerchantUID(prefixIssuance, now)
		is.CustomerUID = newCustomerUID()
		err := s.store.CreateIssuance(ctx, is)
		if err == nil {
			break
		}
		if errors.Is(err, ErrDuplicate) && attempt < 3 {
			continue // a collision of 82 (or 128) random bits: try fresh ones
		}
		return nil, s.storeErr(ctx, "create issuance", err)
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: issuance prepared",
		slog.String("merchant_uid", is.MerchantUID),
		slog.String("customer_uid", maskCustomerUID(is.CustomerUID)),
		slog.String("plan", plan.ID))

	name := plan.Name
	if name == "" {
		name = s.defaultOrderName()
	}
	params := RequestPayParams{
		PG:           s.cfg.PG,
		PayMethod:    "card",
		MerchantUID:  is.MerchantUID,
		Name:         name,
		Amount:       is.Amount,
		CustomerUID:  is.CustomerUID,
		BuyerName:    cleanText(buyer.Name, maxBuyerName),
		BuyerEmail:   fitOrDrop(buyer.Email, maxBuyerEmail),
		BuyerTel:     fitOrDrop(buyer.Tel, maxBuyerTel),
		MRedirectURL: s.redirectURL,
		NoticeURL:    s.cfg.NoticeURL,
		Company:      s.cfg.Company,
	}
	if s.cfg.SiteLogo != "" || s.cfg.BirthDayYN {
		params.Bypass = &Bypass{SiteLogo: s.cfg.SiteLogo}
		if s.cfg.BirthDayYN {
			params.Bypass.BatchBirthDayYN = "Y"
		}
	}
	return &IssuanceRequest{
		IMPCode:   s.cfg.MerchantCode,
		SDKURL:    s.cfg.SDKURL,
		Params:    params,
		ExpiresAt: is.ExpiresAt,
	}, nil
}

// fitOrDrop cleans s and drops it when it is longer than max: a cut e-mail address or
// phone number would be wrong, not shorter.
func fitOrDrop(s string, max int) string {
	c := cleanText(s, 4*max)
	if len([]rune(c)) > max {
		return ""
	}
	return c
}

// CompleteIssuance is the one verification step behind the PC callback, the mobile
// redirect and the webhook (userID "" only for SourceWebhook: the record's owner is then
// trusted). It loads the issuance by merchant_uid, checks ownership, state and expiry
// without calling iamport, then looks the issuance payment up (by imp_uid, else by
// merchant_uid) and the billing key (GET /subscribe/customers/{customer_uid}) and accepts
// the key only if iamport's records match ours (R2). Browser hints (Success, ErrorCode)
// never make an issuance succeed. Idempotent: whichever signal settles the issuance
// first, the others get the same result. When a plan was attached, its first charge runs
// exactly once (with its own merchant_uid) and is reported in FirstCharge.
//
// Errors: CodeUnauthenticated, CodeInvalidRequest (malformed ids), CodeNotFound (404: no
// such issuance, or another user's, and no iamport call is made; or an imp_uid that names
// another order's payment, refused before any call when the store already records it on
// another issuance or a charge), CodeIssuanceExpired (410),
// CodeIssuanceSettled (409: it failed earlier), CodeIssuanceFailed (422: iamport says not
// issued; the issuance is settled failed only when iamport reported the failure or the
// window reported an error, otherwise it stays pending for a later signal),
// CodePaymentMismatch (422: iamport's record disagrees on customer_uid, amount, usage or
// sandbox; a payment.mismatch event is raised and the issuance stays pending),
// CodeUpstreamUnavailable (503: iamport could not be asked; nothing changed),
// CodeInternal (500).
func (s *Service) CompleteIssuance(ctx context.Context, userID string, in CompleteInput) (*IssuanceResult, error) {
	return s.completeIssuance(ctx, userID, in, nil)
}

// completeIssuance implements CompleteIssuance; pre, when not nil, is the issuance
// payment the webhook path already fetched by imp_uid.
func (s *Service) completeIssuance(ctx context.Context, userID string, in CompleteInput, pre *iamport.Payment) (*IssuanceResult, error) {
	if userID == "" {
		if in.Source != SourceWebhook {
			return nil, errUnauthenticated()
		}
	} else if e := checkUserID(userID); e != nil {
		return nil, e
	}
	if !isMerchantUID(in.MerchantUID) {
		return nil, errInvalid("merchant_uid is missing or malformed")
	}
	if in.ImpUID != "" && !isImpUID(in.ImpUID) {
		return nil, errInvalid("imp_uid is malformed")
	}
	is, err := s.store.GetIssuance(ctx, in.MerchantUID)
	if errors.Is(err, ErrNotFound) {
		return nil, errNotFound("no such billing-key request")
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get issuance", err)
	}
	if userID != "" && is.UserID != userID {
		// Another user's issuance looks exactly like a missing one (R11).
		return nil, errNotFound("no such billing-key request")
	}
	if is.Status != IssuancePending {
		return s.settledAnswer(ctx, is)
	}
	now := s.now()
	if !now.Before(is.ExpiresAt) {
		_, err := s.store.SettleIssuance(ctx, is.MerchantUID, &Issuance{Status: IssuanceExpired, UpdatedAt: now}, nil)
		if err != nil && !errors.Is(err, ErrConflict) {
			return nil, s.storeErr(ctx, "expire issuance", err)
		}
		if errors.Is(err, ErrConflict) {
			return s.reread(ctx, is.MerchantUID)
		}
		return nil, errIssuanceExpired()
	}

	p := pre
	if p == nil && in.ImpUID != "" {
		if e := s.foreignImpUID(ctx, is, in.ImpUID); e != nil {
			return nil, e
		}
	}
	if p == nil {
		if in.ImpUID != "" {
			p, err = s.client.GetPayment(ctx, in.ImpUID, s.cfg.TestMode)
		} else {
			p, err = s.client.FindPayment(ctx, is.MerchantUID, "")
		}
		if errors.Is(err, iamport.ErrNotFound) {
			return s.notIssued(ctx, is, in, "no issuance payment at iamport yet")
		}
		if err != nil {
			return nil, s.upstreamErr(ctx, "get issuance payment", is.MerchantUID, err)
		}
		if p == nil {
			return nil, s.upstreamErr(ctx, "get issuance payment", is.MerchantUID, errors.New("empty answer"))
		}
	}
	if p.MerchantUID != is.MerchantUID {
		// The imp_uid names a payment of another order: the same answer as a missing
		// record (R11), whoever's it is.
		return nil, errNotFound("no such payment for this billing-key request")
	}
	if reason := issuancePaymentMismatch(is, p, s.cfg.TestMode); reason != "" {
		s.emitMismatch(ctx, Event{UserID: is.UserID, MerchantUID: is.MerchantUID, ImpUID: p.ImpUID,
			PlanID: is.PlanID, Amount: is.Amount, Reason: reason, At: now})
		return nil, errPaymentMismatch()
	}
	switch p.Status {
	case iamport.StatusPaid:
	case iamport.StatusFailed:
		reason := cleanText(scrub(p.FailReason), 200)
		if reason == "" {
			reason = "iamport reports the issuance failed"
		}
		return s.settleFailed(ctx, is, p.ImpUID, reason)
	default:
		return s.notIssued(ctx, is, in, "issuance payment is "+cleanText(string(p.Status), 20))
	}

	cust, err := s.client.GetCustomer(ctx, is.CustomerUID)
	if errors.Is(err, iamport.ErrNotFound) {
		return nil, errIssuanceFailed("no billing key registered at iamport")
	}
	if err != nil {
		return nil, s.upstreamErr(ctx, "get customer", is.MerchantUID, err)
	}
	if cust == nil {
		return nil, s.upstreamErr(ctx, "get customer", is.MerchantUID, errors.New("empty answer"))
	}
	reason := ""
	switch {
	case cust.CustomerUID != "" && cust.CustomerUID != is.CustomerUID:
		reason = "billing key answered for another customer_uid"
	case cust.Sandbox && !s.cfg.TestMode:
		reason = "sandbox billing key in live mode"
	}
	if reason != "" {
		s.emitMismatch(ctx, Event{UserID: is.UserID, MerchantUID: is.MerchantUID, ImpUID: p.ImpUID,
			PlanID: is.PlanID, Amount: is.Amount, Reason: reason, At: now})
		return nil, errPaymentMismatch()
	}
	return s.settleIssued(ctx, is, p, cust, now)
}

// foreignImpUID refuses, without calling iamport, an imp_uid the store already records on
// another issuance or on a charge (R11: a foreign imp_uid causes no call).
func (s *Service) foreignImpUID(ctx context.Context, is *Issuance, impUID string) *Error {
	other, err := s.store.GetIssuanceByImpUID(ctx, impUID)
	switch {
	case err == nil && other != nil && other.MerchantUID != is.MerchantUID:
		return errNotFound("no such payment for this billing-key request")
	case err != nil && !errors.Is(err, ErrNotFound):
		return s.storeErr(ctx, "get issuance by imp_uid", err)
	}
	c, err := s.store.GetChargeByImpUID(ctx, impUID)
	switch {
	case err == nil && c != nil:
		return errNotFound("no such payment for this billing-key request")
	case err != nil && !errors.Is(err, ErrNotFound):
		return s.storeErr(ctx, "get charge by imp_uid", err)
	}
	return nil
}

// issuancePaymentMismatch compares the issuance payment iamport returned with our record.
func issuancePaymentMismatch(is *Issuance, p *iamport.Payment, testMode bool) string {
	switch {
	case p.MerchantUID != is.MerchantUID:
		return "payment belongs to another merchant_uid"
	case p.CustomerUID != is.CustomerUID:
		return "payment names another customer_uid"
	case p.CustomerUIDUsage != "" && p.CustomerUIDUsage != iamport.UsageIssue:
		return "payment is not a billing-key issuance (customer_uid_usage " + cleanText(p.CustomerUIDUsage, 40) + ")"
	case p.Sandbox && !testMode:
		return "sandbox payment in live mode"
	case p.Status == iamport.StatusPaid && p.Amount != 0 && p.Amount != is.Amount:
		// No approval happens at a kcp_billing issuance, and whether iamport records the
		// amount shown in the window or 0 on its payment record is not documented (FACTS
		// §14.1, §11): both are accepted. Any other amount means the request_pay the
		// window got was not the one we built (R1: e.g. amount 1 for a plan's price).
		return fmt.Sprintf("amount differs: shown %d, iamport has %d", is.Amount, p.Amount)
	}
	return ""
}

// notIssued answers a completion that iamport does not (yet) confirm. A failure reported
// by the window itself (error_code) settles the issuance as failed, since iamport
// confirms nothing; otherwise it stays pending for a later signal.
func (s *Service) notIssued(ctx context.Context, is *Issuance, in CompleteInput, why string) (*IssuanceResult, error) {
	if in.Source != SourceWebhook && (in.ErrorCode != "" || in.ErrorMsg != "") {
		reason := cleanText(scrub(in.ErrorMsg), 200)
		if reason == "" {
			reason = "payment window error " + cleanText(in.ErrorCode, 40)
		}
		return s.settleFailed(ctx, is, "", reason)
	}
	return nil, errIssuanceFailed(why)
}

// settleFailed moves a pending issuance to failed and raises issuance.failed.
func (s *Service) settleFailed(ctx context.Context, is *Issuance, impUID, reason string) (*IssuanceResult, error) {
	now := s.now()
	_, err := s.store.SettleIssuance(ctx, is.MerchantUID,
		&Issuance{Status: IssuanceFailed, ImpUID: impUID, FailReason: reason, UpdatedAt: now}, nil)
	switch {
	case errors.Is(err, ErrConflict):
		return s.reread(ctx, is.MerchantUID)
	case errors.Is(err, ErrDuplicate):
		// The imp_uid is recorded on another issuance: not this one's payment.
		s.emitMismatch(ctx, Event{UserID: is.UserID, MerchantUID: is.MerchantUID, ImpUID: impUID,
			PlanID: is.PlanID, Reason: "imp_uid already recorded for another issuance", At: now})
		return nil, errPaymentMismatch()
	case err != nil:
		return nil, s.storeErr(ctx, "settle issuance failed", err)
	}
	s.emit(ctx, Event{Kind: EventIssuanceFailed, UserID: is.UserID, MerchantUID: is.MerchantUID,
		ImpUID: impUID, PlanID: is.PlanID, Amount: is.Amount, Reason: reason, At: now})
	return nil, errIssuanceFailed(reason)
}

// settleIssued records the verified key. Only the caller whose compare-and-set wins
// raises billing_key.issued and removes the replaced key at iamport.
func (s *Service) settleIssued(ctx context.Context, is *Issuance, p *iamport.Payment, cust *iamport.Customer, now time.Time) (*IssuanceResult, error) {
	cardNumber := maskCardNumber(cust.CardNumber)
	cardName := cleanText(cust.CardName, 64)
	to := &Issuance{
		Status:     IssuanceIssued,
		ImpUID:     p.ImpUID,
		CardName:   cardName,
		CardNumber: cardNumber,
		UpdatedAt:  now,
	}
	if is.PlanID != "" {
		// The first charge's intent is committed before the issuance is settled (R18):
		// a crash between the two leaves a pending charge the reconciler finds. Every
		// racing completion maps to this one row through its idempotency key.
		row := s.firstChargeRow(is)
		row.MerchantUID = newMerchantUID(prefixCharge, now)
		row.Status = ChargePending
		row.CreatedAt, row.UpdatedAt = now, now
		stored, _, err := s.store.CreateCharge(ctx, row)
		if err == nil && stored == nil {
			err = errors.New("store returned no charge")
		}
		if err != nil {
			return nil, s.storeErr(ctx, "create first charge", err)
		}
		to.ChargeMerchantUID = stored.MerchantUID
	}
	key := &BillingKey{
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
	case errors.Is(err, ErrConflict):
		return s.reread(ctx, is.MerchantUID)
	case errors.Is(err, ErrDuplicate):
		s.emitMismatch(ctx, Event{UserID: is.UserID, MerchantUID: is.MerchantUID, ImpUID: p.ImpUID,
			PlanID: is.PlanID, Reason: "imp_uid already recorded for another issuance", At: now})
		return nil, errPaymentMismatch()
	case err != nil:
		return nil, s.storeErr(ctx, "settle issuance issued", err)
	}
	settled := *is
	settled.Status = IssuanceIssued
	settled.ImpUID = to.ImpUID
	settled.CardName = to.CardName
	settled.CardNumber = to.CardNumber
	settled.ChargeMerchantUID = to.ChargeMerchantUID
	settled.UpdatedAt = now
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: billing key issued",
		slog.String("merchant_uid", is.MerchantUID),
		slog.String("customer_uid", maskCustomerUID(is.CustomerUID)))
	s.emit(ctx, Event{Kind: EventBillingKeyIssued, UserID: is.UserID, MerchantUID: is.MerchantUID,
		ImpUID: p.ImpUID, PlanID: is.PlanID, Amount: is.Amount, At: now})
	if replaced != nil && replaced.CustomerUID != "" && replaced.CustomerUID != is.CustomerUID {
		s.removeKeyAtIamport(ctx, replaced.CustomerUID, "replaced by a new card")
	}
	return s.issuedResult(ctx, &settled)
}

// removeKeyAtIamport deletes a key we no longer use, best effort: a failure is logged.
func (s *Service) removeKeyAtIamport(ctx context.Context, customerUID, reason string) {
	wctx, cancel := afterwards(ctx)
	defer cancel()
	_, err := s.client.DeleteCustomer(wctx, customerUID, reason)
	if err != nil && !errors.Is(err, iamport.ErrNotFound) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not delete a replaced billing key at iamport",
			slog.String("customer_uid", maskCustomerUID(customerUID)),
			slog.String("error", errText(err)))
	}
}

// reread answers from the stored state after a lost compare-and-set.
func (s *Service) reread(ctx context.Context, merchantUID string) (*IssuanceResult, error) {
	is, err := s.store.GetIssuance(ctx, merchantUID)
	if err != nil {
		return nil, s.storeErr(ctx, "reread issuance", err)
	}
	if is.Status == IssuancePending {
		return nil, s.storeErr(ctx, "reread issuance", errors.New("issuance still pending after a conflict"))
	}
	return s.settledAnswer(ctx, is)
}

// settledAnswer is the answer for an issuance that is no longer pending.
func (s *Service) settledAnswer(ctx context.Context, is *Issuance) (*IssuanceResult, error) {
	switch is.Status {
	case IssuanceIssued:
		return s.issuedResult(ctx, is)
	case IssuanceFailed:
		return nil, errIssuanceSettled(is)
	case IssuanceExpired:
		return nil, errIssuanceExpired()
	}
	return nil, s.storeErr(ctx, "issuance state", fmt.Errorf("unexpected issuance status %q", cleanText(string(is.Status), 20)))
}

// issuedResult builds the result of an issued issuance, running (or reporting) its first
// charge when a plan was attached.
func (s *Service) issuedResult(ctx context.Context, is *Issuance) (*IssuanceResult, error) {
	res := &IssuanceResult{
		MerchantUID: is.MerchantUID,
		Status:      IssuanceIssued,
		Key:         &KeyInfo{CardName: is.CardName, CardNumber: is.CardNumber, IssuedAt: is.UpdatedAt},
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
func (s *Service) firstCharge(ctx context.Context, is *Issuance) (*ChargeView, error) {
	c := s.firstChargeRow(is)
	c.MerchantUID = is.ChargeMerchantUID
	return s.createAndRun(ctx, c, false)
}

// firstChargeRow is the charge of the plan attached to an issuance: the amount shown in
// the window, under a fixed idempotency key.
func (s *Service) firstChargeRow(is *Issuance) *Charge {
	name := s.defaultOrderName()
	if p, ok := s.plans[is.PlanID]; ok {
		name = p.Name
	}
	return &Charge{
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

// maskCardNumber keeps at most the first 6 and the last 4 digits of a card number visible,
// whatever iamport sent: card data never reaches the store in full.
func maskCardNumber(n string) string {
	n = cleanText(n, 32)
	digits := 0
	for _, r := range n {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits <= 10 {
		return n
	}
	var b strings.Builder
	i := 0
	for _, r := range n {
		if r >= '0' && r <= '9' {
			if i >= 6 && i < digits-4 {
				r = '*'
			}
			i++
		}
		b.WriteRune(r)
	}
	return b.String()
}

// BillingKey returns what the user may see of their billing key (masked card number and
// card name). Errors: CodeUnauthenticated, CodeInvalidRequest, CodeBillingKeyMissing
// (404), CodeInternal.
func (s *Service) BillingKey(ctx context.Context, userID string) (*KeyInfo, error) {
	if e := checkUserID(userID); e != nil {
		return nil, e
	}
	k, err := s.store.GetBillingKey(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, errKeyMissing(http.StatusNotFound)
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get billing key", err)
	}
	return &KeyInfo{CardName: k.CardName, CardNumber: k.CardNumber, IssuedAt: k.IssuedAt}, nil
}

// DeleteBillingKey removes the user's billing key at iamport (already gone there is fine)
// and then from the store, raising billing_key.deleted. Errors: CodeUnauthenticated,
// CodeInvalidRequest, CodeBillingKeyMissing (404), CodeUpstreamUnavailable (iamport
// could not delete it: nothing was removed, try again), CodeInternal.
func (s *Service) DeleteBillingKey(ctx context.Context, userID string) error {
	if e := checkUserID(userID); e != nil {
		return e
	}
	k, err := s.store.GetBillingKey(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return errKeyMissing(http.StatusNotFound)
	}
	if err != nil {
		return s.storeErr(ctx, "get billing key", err)
	}
	if _, err := s.client.DeleteCustomer(ctx, k.CustomerUID, "deleted by the customer"); err != nil && !errors.Is(err, iamport.ErrNotFound) {
		return s.upstreamErr(ctx, "delete customer", k.IssuanceMerchantUID, err)
	}
	wctx, cancel := afterwards(ctx)
	defer cancel()
	err = s.store.DeleteBillingKey(wctx, userID, k.CustomerUID)
	if errors.Is(err, ErrNotFound) {
		// Deleted or replaced meanwhile: the key we removed at iamport is gone here too.
		return nil
	}
	if err != nil {
		return s.storeErr(ctx, "delete billing key", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: billing key deleted",
		slog.String("customer_uid", maskCustomerUID(k.CustomerUID)))
	s.emit(ctx, Event{Kind: EventBillingKeyDeleted, UserID: userID, MerchantUID: k.IssuanceMerchantUID, At: s.now()})
	return nil
}
