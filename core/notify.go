package core

import (
	"context"
	"errors"
	"log/slog"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"

	"github.com/billkey/billkey/iamport"
)

// ApplyNotification applies an iamport webhook (docs/guarantees.md, R8 and R9). The
// notification only names what to re-fetch: the payment is read again from iamport by
// imp_uid (include_sandbox only in test mode) and its own merchant_uid decides what it
// belongs to. A billing-key issuance payment (customer_uid_usage "issue", or a
// merchant_uid of an issuance) goes through the same verification as the PC callback and
// the mobile return; a charge payment goes through the charge state machine. Applying the
// same notification any number of times, or several in any order, ends in the same state
// with one event per state change.
//
// The webhook is public and unsigned, so a lookup at iamport is spent only on what may be
// ours: a notification naming a merchant_uid billkey did not make, or one the store does
// not hold, costs no call; identical notifications arriving together share one lookup; and
// an imp_uid that led to nothing a moment ago is not looked up again for a minute.
//
// The result maps onto the webhook reply: nil for processed, duplicate or harmless
// (unknown imp_uid or merchant_uid, a payment that is not ours, a settled or mismatched
// issuance). codes.InvalidRequest for malformed ids. codes.UpstreamUnavailable when iamport
// could not be asked and codes.Internal when the store failed: a resend can fix those.
func (s *Service) ApplyNotification(ctx context.Context, n Notification) error {
	ctx, span := s.tel.span(ctx, "webhook")
	err := s.applyNotificationTraced(ctx, n)
	endSpan(span, err)
	return err
}

// applyNotificationTraced is ApplyNotification inside its span.
func (s *Service) applyNotificationTraced(ctx context.Context, n Notification) error {
	ctx = withSource(ctx, srcWebhook)
	if e := checkNotification(n); e != nil {
		s.tel.count(ctx, s.tel.webhooks, "result", "invalid", 1)
		return e
	}
	entry, fresh, err := s.recordNotification(ctx, n)
	if err != nil {
		return err
	}
	if !fresh && entry.Result == store.InboxApplied && n.Status != string(iamport.StatusCancelled) &&
		s.now().Sub(entry.AppliedAt) < nothingTTL {
		// The same notification was applied a moment ago: a burst of copies costs one
		// lookup. Cancellations are always looked up: two partial refunds may read alike.
		s.tel.count(ctx, s.tel.webhooks, "result", "duplicate", 1)
		return nil
	}
	result, err := s.applyNotification(ctx, n, false)
	s.noteResult(ctx, entry, result, err)
	if err != nil {
		result = store.InboxFailed
	}
	s.tel.count(ctx, s.tel.webhooks, "result", result, 1)
	return err
}

// checkNotification applies the id rules to a notification.
func checkNotification(n Notification) *Error {
	switch {
	case n.ImpUID == "" && n.MerchantUID == "":
		return errInvalid("imp_uid is required")
	case n.ImpUID != "" && !idrule.ImpUID.Valid(n.ImpUID):
		return errInvalid("imp_uid is malformed")
	case n.MerchantUID != "" && !idrule.MerchantUID.Valid(n.MerchantUID):
		return errInvalid("merchant_uid is malformed")
	case n.Status != "" && !idrule.PaymentStatus.Valid(n.Status):
		return errInvalid("status is malformed")
	case n.CancellationID != "" && !idrule.CancellationID.Valid(n.CancellationID):
		return errInvalid("cancellation_id is malformed")
	}
	return nil
}

// applyNotification applies a checked notification and says what it did: applied, or
// ignored (nothing of ours). fresh skips the memory of ids that led to nothing (an
// operator re-applying it).
func (s *Service) applyNotification(ctx context.Context, n Notification, fresh bool) (string, error) {
	if n.ImpUID == "" {
		return s.notifyByMerchantUID(ctx, n.MerchantUID)
	}
	if ours, err := s.mayBeOurs(ctx, n.MerchantUID); err != nil || !ours {
		return store.InboxIgnored, err
	}
	if !fresh && s.nothingThere.seen(n.ImpUID, s.now()) {
		return store.InboxIgnored, nil
	}
	return s.notifications.do(n.ImpUID, func() (string, error) { return s.refetch(ctx, n.ImpUID) })
}

// mayBeOurs reports whether a notification's merchant_uid can name one of our records:
// absent (iamport always sends it, but only the payment itself can tell), or one billkey
// made that the store holds as a charge or an issuance.
func (s *Service) mayBeOurs(ctx context.Context, merchantUID string) (bool, error) {
	if merchantUID == "" {
		return true, nil
	}
	if !generated(merchantUID) {
		return false, nil
	}
	_, err := s.store.GetCharge(ctx, merchantUID)
	if errors.Is(err, store.ErrNotFound) {
		_, err = s.store.GetIssuance(ctx, merchantUID)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: webhook for a merchant_uid we do not hold",
			slog.String("merchant_uid", merchantUID))
		return false, nil
	}
	return false, s.storeErr(ctx, "webhook lookup", err)
}

// refetch reads the payment a notification names and applies it.
func (s *Service) refetch(ctx context.Context, impUID string) (string, error) {
	p, err := s.client.GetPayment(ctx, impUID, s.cfg.TestMode)
	switch {
	case errors.Is(err, iamport.ErrNotFound):
		s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: webhook for an unknown payment",
			slog.String("imp_uid", impUID))
		s.nothingThere.add(impUID, s.now())
		return store.InboxIgnored, nil
	case errors.Is(err, iamport.ErrInvalidInput):
		return "", errInvalid("imp_uid is malformed")
	case err != nil:
		return "", s.upstreamErr(ctx, "webhook get payment", "", err)
	case p == nil:
		return "", s.upstreamErr(ctx, "webhook get payment", "", errors.New("empty answer"))
	}
	return s.applyFetched(ctx, p)
}

// notifyByMerchantUID handles a notification without imp_uid: only a merchant_uid we
// generated is looked up, and only after the store shows it is ours.
func (s *Service) notifyByMerchantUID(ctx context.Context, merchantUID string) (string, error) {
	if !generated(merchantUID) {
		return store.InboxIgnored, nil
	}
	c, err := s.store.GetCharge(ctx, merchantUID)
	switch {
	case err == nil:
		p, err := s.client.FindPayment(ctx, merchantUID, "")
		if errors.Is(err, iamport.ErrNotFound) || err == nil && p == nil {
			return store.InboxIgnored, nil
		}
		if err != nil {
			return "", s.upstreamErr(ctx, "webhook find payment", merchantUID, err)
		}
		if _, err := s.applyPayment(ctx, c, p, 0); err != nil {
			return "", err
		}
		return store.InboxApplied, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", s.storeErr(ctx, "get charge", err)
	}
	_, err = s.completeIssuance(ctx, "", CompleteInput{MerchantUID: merchantUID, Source: SourceWebhook}, nil)
	return s.webhookIssuanceErr(ctx, merchantUID, err)
}

// applyFetched routes a payment fetched for a webhook to the issuance or the charge it
// belongs to.
func (s *Service) applyFetched(ctx context.Context, p *iamport.Payment) (string, error) {
	mu := p.MerchantUID
	if !generated(mu) {
		s.nothingThere.add(p.ImpUID, s.now())
		return store.InboxIgnored, nil // not one of ours
	}
	issuance := p.CustomerUIDUsage == iamport.UsageIssue
	if !issuance {
		c, err := s.store.GetCharge(ctx, mu)
		switch {
		case err == nil:
			if _, err := s.applyPayment(ctx, c, p, 0); err != nil {
				return "", err
			}
			return store.InboxApplied, nil
		case !errors.Is(err, store.ErrNotFound):
			return "", s.storeErr(ctx, "get charge", err)
		}
	}
	// An issuance payment, or a merchant_uid that is not a charge: the same verification
	// as the callback and the redirect, never the charge state machine.
	_, err := s.completeIssuance(ctx, "", CompleteInput{MerchantUID: mu, ImpUID: p.ImpUID, Source: SourceWebhook}, p)
	return s.webhookIssuanceErr(ctx, mu, err)
}

// webhookIssuanceErr keeps from a completion only the failures a resend can fix.
func (s *Service) webhookIssuanceErr(ctx context.Context, merchantUID string, err error) (string, error) {
	if err == nil {
		return store.InboxApplied, nil
	}
	switch ErrorCode(err) {
	case codes.UpstreamUnavailable, codes.Internal:
		return "", err
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: webhook for an issuance changed nothing",
		slog.String("merchant_uid", merchantUID), slog.String("code", ErrorCode(err)))
	return store.InboxIgnored, nil
}
