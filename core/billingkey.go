package core

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

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
// card name). Errors: codes.Unauthenticated, codes.InvalidRequest, codes.BillingKeyMissing
// (404), codes.Internal.
func (s *Service) BillingKey(ctx context.Context, userID string) (*KeyInfo, error) {
	if e := checkUserID(userID); e != nil {
		return nil, e
	}
	k, err := s.store.GetBillingKey(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errKeyMissing()
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get billing key", err)
	}
	return &KeyInfo{CardName: k.CardName, CardNumber: k.CardNumber, IssuedAt: k.IssuedAt}, nil
}

// DeleteBillingKey removes the user's billing key at iamport (already gone there is fine)
// and then from the store, raising billing_key.deleted. Errors: codes.Unauthenticated,
// codes.InvalidRequest, codes.BillingKeyMissing, codes.BillingKeyInUse (a subscription that is
// still charged uses it: cancel it, or register another card, which replaces this one),
// codes.UpstreamUnavailable (iamport could not delete it: nothing was removed, try again),
// codes.Internal.
func (s *Service) DeleteBillingKey(ctx context.Context, userID string) error {
	if e := checkUserID(userID); e != nil {
		return e
	}
	k, err := s.store.GetBillingKey(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errKeyMissing()
	}
	if err != nil {
		return s.storeErr(ctx, "get billing key", err)
	}
	if busy, err := s.chargesSubscription(ctx, userID); err != nil || busy {
		if err != nil {
			return err
		}
		// Removing the card would make the next renewal fail into dunning, which nobody
		// asking to remove a card expects: cancel first, or register another card.
		return newError(codes.BillingKeyInUse, "a subscription is charged to this card; cancel it or register another card first", nil)
	}
	if _, err := s.client.DeleteCustomer(ctx, k.CustomerUID, "deleted by the customer"); err != nil && !errors.Is(err, iamport.ErrNotFound) {
		return s.upstreamErr(ctx, "delete customer", k.IssuanceMerchantUID, err)
	}
	wctx, cancel := afterwards(ctx)
	defer cancel()
	err = s.store.DeleteBillingKey(wctx, userID, k.CustomerUID)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted or replaced meanwhile: the key we removed at iamport is gone here too.
		return nil
	}
	if err != nil {
		return s.storeErr(ctx, "delete billing key", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: billing key deleted",
		slog.String("customer_uid", maskCustomerUID(k.CustomerUID)))
	s.emit(ctx, event.Event{Kind: event.BillingKeyDeleted, UserID: userID, MerchantUID: k.IssuanceMerchantUID, At: s.now()})
	return nil
}
