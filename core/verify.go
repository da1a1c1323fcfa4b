package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// CompleteIssuance is the one verification step behind the PC callback, the mobile
// return and the webhook. userID is the signed-in customer for the PC callback; it is ""
// for the webhook and the mobile return, which arrive without a session (a card app may
// bring the customer back in another browser): the issuance's merchant_uid, 82 random
// bits, names it, and iamport's records decide. It loads the issuance, checks ownership,
// state and expiry without calling iamport, then looks the issuance payment up (by
// imp_uid, else by merchant_uid) and the billing key, and accepts the key only if
// iamport's records match ours (docs/guarantees.md, R2). Browser hints (Success,
// ErrorCode) never make an issuance succeed. Idempotent: whichever signal settles the
// issuance first, the others get the same result. When a plan was attached, its first
// charge runs exactly once (with its own merchant_uid) and is reported in FirstCharge.
//
// Errors: codes.Unauthenticated (userID "" from the PC callback), codes.InvalidRequest
// (malformed ids), codes.NotFound (no such issuance, another user's, or an imp_uid that
// names another order's payment; refused before any call when the store already knows
// the imp_uid elsewhere), codes.IssuanceExpired, codes.IssuanceSettled (it failed earlier),
// codes.IssuanceFailed (iamport says not issued; settled failed only when iamport reported
// the failure or the window reported an error, otherwise it stays pending for a later
// signal), codes.PaymentMismatch (iamport's record disagrees on customer_uid, amount,
// usage or test channel; a payment.mismatch event is raised and the issuance stays
// pending), codes.UpstreamUnavailable (iamport could not be asked; nothing changed),
// codes.Internal.
func (s *Service) CompleteIssuance(ctx context.Context, userID string, in CompleteInput) (*IssuanceResult, error) {
	ctx, span := s.tel.span(ctx, "complete_issuance", attribute.String("source", string(in.Source)))
	out, err := s.completeIssuanceTraced(ctx, userID, in)
	endSpan(span, err)
	return out, err
}

// completeIssuanceTraced is CompleteIssuance inside its span.
func (s *Service) completeIssuanceTraced(ctx context.Context, userID string, in CompleteInput) (*IssuanceResult, error) {
	ctx = withSource(ctx, srcIssuance+" ("+string(in.Source)+")")
	return s.completeIssuance(ctx, userID, in, nil)
}

// completeIssuance implements CompleteIssuance; pre, when not nil, is the issuance
// payment the webhook path already fetched by imp_uid.
func (s *Service) completeIssuance(ctx context.Context, userID string, in CompleteInput, pre *iamport.Payment) (*IssuanceResult, error) {
	if e := checkCompleteInput(userID, in); e != nil {
		return nil, e
	}
	is, settled, err := s.openIssuance(ctx, userID, in.MerchantUID)
	if settled != nil || err != nil {
		return settled, err
	}
	p := pre
	if p == nil {
		if p, err = s.issuancePayment(ctx, is, in.ImpUID); err != nil {
			return nil, err
		}
		if p == nil {
			return s.notIssued(ctx, is, in, "no issuance payment at iamport yet")
		}
	}
	now := s.now()
	if p.MerchantUID != is.MerchantUID {
		// The imp_uid names a payment of another order: the same answer as a missing
		// record, whoever's it is (docs/guarantees.md, R11).
		return nil, errNotFound("no such payment for this billing-key request")
	}
	if reason := s.issuancePaymentMismatch(is, p); reason != "" {
		return nil, s.issuanceMismatch(ctx, is, p.ImpUID, reason, now)
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
	cust, err := s.issuedKey(ctx, is, p.ImpUID, now)
	if err != nil {
		return nil, err
	}
	return s.settleIssued(ctx, is, p, cust, now)
}

// checkCompleteInput checks the ids of a completion before anything is read.
func checkCompleteInput(userID string, in CompleteInput) *Error {
	switch {
	case userID != "":
		if e := checkUserID(userID); e != nil {
			return e
		}
	case in.Source != SourceWebhook && in.Source != SourceRedirect:
		return errUnauthenticated() // only iamport's webhook and the mobile return come without a user
	}
	if !idrule.MerchantUID.Valid(in.MerchantUID) {
		return errInvalid("merchant_uid is missing or malformed")
	}
	if in.ImpUID != "" && !idrule.ImpUID.Valid(in.ImpUID) {
		return errInvalid("imp_uid is malformed")
	}
	return nil
}

// openIssuance loads the pending, unexpired issuance merchantUID of userID (any user's
// when userID is ""), without calling iamport. An issuance that is no longer pending
// gives its settled answer instead; one past its expiry is settled expired first.
func (s *Service) openIssuance(ctx context.Context, userID, merchantUID string) (*store.Issuance, *IssuanceResult, error) {
	is, err := s.store.GetIssuance(ctx, merchantUID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errNotFound("no such billing-key request")
	}
	if err != nil {
		return nil, nil, s.storeErr(ctx, "get issuance", err)
	}
	if userID != "" && is.UserID != userID {
		// Another user's issuance looks exactly like a missing one (docs/guarantees.md, R11).
		return nil, nil, errNotFound("no such billing-key request")
	}
	if is.Status != store.IssuancePending {
		res, err := s.settledAnswer(ctx, is)
		return nil, res, err
	}
	now := s.now()
	if now.Before(is.ExpiresAt) {
		return is, nil, nil
	}
	_, err = s.store.SettleIssuance(ctx, is.MerchantUID, &store.Issuance{Status: store.IssuanceExpired, UpdatedAt: now}, nil)
	switch {
	case errors.Is(err, store.ErrConflict):
		res, err := s.reread(ctx, is.MerchantUID)
		return nil, res, err
	case err != nil:
		return nil, nil, s.storeErr(ctx, "expire issuance", err)
	}
	return nil, nil, errIssuanceExpired()
}

// issuancePayment looks the issuance payment up: by impUID when the browser named one
// (after refusing an imp_uid the store records elsewhere), else by merchant_uid. nil and
// no error: iamport has none (yet).
func (s *Service) issuancePayment(ctx context.Context, is *store.Issuance, impUID string) (*iamport.Payment, error) {
	var p *iamport.Payment
	var err error
	if impUID != "" {
		if e := s.foreignImpUID(ctx, is, impUID); e != nil {
			return nil, e
		}
		p, err = s.client.GetPayment(ctx, impUID, s.cfg.TestMode)
	} else {
		p, err = s.client.FindPayment(ctx, is.MerchantUID, "")
	}
	switch {
	case errors.Is(err, iamport.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, s.upstreamErr(ctx, "get issuance payment", is.MerchantUID, err)
	case p == nil:
		return nil, s.upstreamErr(ctx, "get issuance payment", is.MerchantUID, errors.New("empty answer"))
	}
	return p, nil
}

// issuedKey reads the billing key the issuance registered at iamport and checks it is
// the one we asked for.
func (s *Service) issuedKey(ctx context.Context, is *store.Issuance, impUID string, now time.Time) (*iamport.Customer, error) {
	cust, err := s.client.GetCustomer(ctx, is.CustomerUID)
	switch {
	case errors.Is(err, iamport.ErrNotFound):
		return nil, errIssuanceFailed("no billing key registered at iamport")
	case err != nil:
		return nil, s.upstreamErr(ctx, "get customer", is.MerchantUID, err)
	case cust == nil:
		return nil, s.upstreamErr(ctx, "get customer", is.MerchantUID, errors.New("empty answer"))
	}
	reason := s.testChannelKey(cust)
	if cust.CustomerUID != "" && cust.CustomerUID != is.CustomerUID {
		reason = "billing key answered for another customer_uid"
	}
	if reason != "" {
		return nil, s.issuanceMismatch(ctx, is, impUID, reason, now)
	}
	return cust, nil
}

// issuanceMismatch raises payment.mismatch for an issuance and returns the error.
func (s *Service) issuanceMismatch(ctx context.Context, is *store.Issuance, impUID, reason string, now time.Time) *Error {
	s.emitMismatch(ctx, event.Event{UserID: is.UserID, MerchantUID: is.MerchantUID, ImpUID: impUID,
		PlanID: is.PlanID, Amount: is.Amount, Reason: reason, At: now})
	return errPaymentMismatch()
}

// foreignImpUID refuses, without calling iamport, an imp_uid the store already records on
// another issuance or on a charge (R11: a foreign imp_uid causes no call).
func (s *Service) foreignImpUID(ctx context.Context, is *store.Issuance, impUID string) *Error {
	other, err := s.store.GetIssuanceByImpUID(ctx, impUID)
	switch {
	case err == nil && other != nil && other.MerchantUID != is.MerchantUID:
		return errNotFound("no such payment for this billing-key request")
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return s.storeErr(ctx, "get issuance by imp_uid", err)
	}
	c, err := s.store.GetChargeByImpUID(ctx, impUID)
	switch {
	case err == nil && c != nil:
		return errNotFound("no such payment for this billing-key request")
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return s.storeErr(ctx, "get charge by imp_uid", err)
	}
	return nil
}

// issuancePaymentMismatch compares the issuance payment iamport returned with our record.
func (s *Service) issuancePaymentMismatch(is *store.Issuance, p *iamport.Payment) string {
	switch {
	case p.MerchantUID != is.MerchantUID:
		return "payment belongs to another merchant_uid"
	case p.CustomerUID != is.CustomerUID:
		return "payment names another customer_uid"
	case p.CustomerUIDUsage != "" && p.CustomerUIDUsage != iamport.UsageIssue:
		return "payment is not a billing-key issuance (customer_uid_usage " + cleanText(p.CustomerUIDUsage, 40) + ")"
	}
	if reason := s.testChannelPayment(p); reason != "" {
		return reason
	}
	if p.Status == iamport.StatusPaid && p.Amount != 0 && p.Amount != is.Amount {
		// No approval happens at a kcp_billing issuance, and iamport does not document
		// whether its record carries the amount shown in the window or 0: both are
		// accepted. Any other amount means the window got another request_pay than the one
		// we built (docs/guarantees.md, R1: e.g. amount 1 for a plan's price).
		return fmt.Sprintf("amount differs: shown %d, iamport has %d", is.Amount, p.Amount)
	}
	return ""
}

// notIssued answers a completion that iamport does not (yet) confirm. A failure reported
// by the window itself (error_code) settles the issuance as failed, since iamport
// confirms nothing; otherwise it stays pending for a later signal.
func (s *Service) notIssued(ctx context.Context, is *store.Issuance, in CompleteInput, why string) (*IssuanceResult, error) {
	if in.Source != SourceWebhook && (in.ErrorCode != "" || in.ErrorMsg != "") {
		reason := cleanText(scrub(in.ErrorMsg), 200)
		if reason == "" {
			reason = "payment window error " + cleanText(in.ErrorCode, 40)
		}
		return s.settleFailed(ctx, is, "", reason)
	}
	return nil, errIssuanceFailed(why)
}
