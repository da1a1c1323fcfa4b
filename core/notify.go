package core

import (
	"context"
	"errors"
	"log/slog"

	"github.com/billkey/billkey/iamport"
)

// ApplyNotification applies an iamport webhook (R8, R9). The notification only names what
// to re-fetch: the payment is read again from iamport by imp_uid (include_sandbox only in
// test mode) and its own merchant_uid decides what it belongs to. A billing-key issuance
// payment (customer_uid_usage "issue", or a merchant_uid of an issuance) goes through the
// same verification as the callback and the redirect; a charge payment goes through the
// charge state machine. Applying the same notification any number of times, or several
// in any order, ends in the same state with one event per state change.
//
// The result maps onto the webhook reply: nil for processed, duplicate or harmless
// (unknown imp_uid or merchant_uid, a payment that is not ours, a settled or mismatched
// issuance): answer 200. CodeInvalidRequest (400) for malformed ids. CodeUpstreamUnavailable
// (503) when iamport could not be asked and CodeInternal (500) when the store failed: a
// resend can fix those.
func (s *Service) ApplyNotification(ctx context.Context, n Notification) error {
	switch {
	case n.ImpUID == "" && n.MerchantUID == "":
		return errInvalid("imp_uid is required")
	case n.ImpUID != "" && !isImpUID(n.ImpUID):
		return errInvalid("imp_uid is malformed")
	case n.MerchantUID != "" && !isForeignMerchantUID(n.MerchantUID):
		return errInvalid("merchant_uid is malformed")
	case n.Status != "" && !isPrintableASCII(n.Status, 32):
		return errInvalid("status is malformed")
	case n.CancellationID != "" && !isPrintableASCII(n.CancellationID, 128):
		return errInvalid("cancellation_id is malformed")
	}
	if n.ImpUID == "" {
		return s.notifyByMerchantUID(ctx, n.MerchantUID)
	}
	p, err := s.client.GetPayment(ctx, n.ImpUID, s.cfg.TestMode)
	switch {
	case errors.Is(err, iamport.ErrNotFound):
		s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: webhook for an unknown payment",
			slog.String("imp_uid", n.ImpUID))
		return nil
	case errors.Is(err, iamport.ErrInvalidInput):
		return errInvalid("imp_uid is malformed")
	case err != nil:
		return s.upstreamErr(ctx, "webhook get payment", n.MerchantUID, err)
	case p == nil:
		return s.upstreamErr(ctx, "webhook get payment", n.MerchantUID, errors.New("empty answer"))
	}
	return s.applyFetched(ctx, p)
}

// notifyByMerchantUID handles a notification without imp_uid: only a merchant_uid we
// generated is looked up, and only after the store shows it is ours.
func (s *Service) notifyByMerchantUID(ctx context.Context, merchantUID string) error {
	if !isMerchantUID(merchantUID) {
		return nil
	}
	c, err := s.store.GetCharge(ctx, merchantUID)
	switch {
	case err == nil:
		p, err := s.client.FindPayment(ctx, merchantUID, "")
		if errors.Is(err, iamport.ErrNotFound) {
			return nil
		}
		if err != nil {
			return s.upstreamErr(ctx, "webhook find payment", merchantUID, err)
		}
		if p == nil {
			return nil
		}
		if _, err := s.applyPayment(ctx, c, p); err != nil {
			return err
		}
		return nil
	case !errors.Is(err, ErrNotFound):
		return s.storeErr(ctx, "get charge", err)
	}
	_, err = s.completeIssuance(ctx, "", CompleteInput{MerchantUID: merchantUID, Source: SourceWebhook}, nil)
	return s.webhookIssuanceErr(ctx, merchantUID, err)
}

// applyFetched routes a payment fetched for a webhook to the issuance or the charge it
// belongs to.
func (s *Service) applyFetched(ctx context.Context, p *iamport.Payment) error {
	mu := p.MerchantUID
	if !isMerchantUID(mu) {
		return nil // not one of ours
	}
	issuance := p.CustomerUIDUsage == iamport.UsageIssue
	if !issuance {
		c, err := s.store.GetCharge(ctx, mu)
		switch {
		case err == nil:
			if _, err := s.applyPayment(ctx, c, p); err != nil {
				return err
			}
			return nil
		case !errors.Is(err, ErrNotFound):
			return s.storeErr(ctx, "get charge", err)
		}
	}
	// An issuance payment, or a merchant_uid that is not a charge: the same verification
	// as the callback and the redirect, never the charge state machine.
	_, err := s.completeIssuance(ctx, "", CompleteInput{MerchantUID: mu, ImpUID: p.ImpUID, Source: SourceWebhook}, p)
	return s.webhookIssuanceErr(ctx, mu, err)
}

// webhookIssuanceErr keeps from a completion only the failures a resend can fix.
func (s *Service) webhookIssuanceErr(ctx context.Context, merchantUID string, err error) error {
	if err == nil {
		return nil
	}
	switch ErrorCode(err) {
	case CodeUpstreamUnavailable, CodeInternal:
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: webhook for an issuance changed nothing",
		slog.String("merchant_uid", merchantUID), slog.String("code", ErrorCode(err)))
	return nil
}
