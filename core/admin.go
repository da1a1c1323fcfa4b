package core

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// What the merchant's staff may see and do across users: search charges and
// subscriptions, read one charge's whole record, refund (Refund), settle one charge now
// and re-apply a stored webhook (ReapplyNotification). The admin routes serve these;
// protecting them is the merchant's admin login.

// ChargeFilter selects charges across users; empty fields select everything.
type ChargeFilter struct {
	UserID         string
	Status         ChargeStatus
	From, To       time.Time // created in [From, To)
	MerchantUID    string
	ImpUID         string
	SubscriptionID string
	Cursor         string // "" for the first page, then the Next of the page before
	Limit          int    // default 50, at most 500
}

// AdminCharge is a charge as an operator sees it: the customer's view and whose it is.
type AdminCharge struct {
	ChargeView
	UserID         string    `json:"user_id"`
	ImpUID         string    `json:"imp_uid,omitempty"`
	SubscriptionID string    `json:"subscription_id,omitempty"`
	Attempts       int       `json:"attempts"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func adminCharge(c *store.Charge) AdminCharge {
	return AdminCharge{ChargeView: *viewOf(c), UserID: c.UserID, ImpUID: c.ImpUID,
		SubscriptionID: c.SubscriptionID, Attempts: c.Attempts, UpdatedAt: c.UpdatedAt}
}

// SearchCharges returns a page of the charges f selects, newest first, and the cursor of
// the next page ("" after the last).
func (s *Service) SearchCharges(ctx context.Context, f ChargeFilter) ([]AdminCharge, string, error) {
	q, e := chargeQuery(f)
	if e != nil {
		return nil, "", e
	}
	page, err := s.store.SearchCharges(ctx, q)
	if err != nil {
		return nil, "", s.storeErr(ctx, "search charges", err)
	}
	out := make([]AdminCharge, len(page.Charges))
	for i, c := range page.Charges {
		out[i] = adminCharge(c)
	}
	return out, page.Next.String(), nil
}

// chargeQuery checks a filter against the id rules and makes the store's query of it.
func chargeQuery(f ChargeFilter) (store.ChargeQuery, *Error) {
	after, e := parseCursor(f.Cursor)
	if e != nil {
		return store.ChargeQuery{}, e
	}
	switch {
	case f.UserID != "" && !idrule.UserID.Valid(f.UserID):
		return store.ChargeQuery{}, errInvalid("user_id is malformed")
	case f.MerchantUID != "" && !idrule.MerchantUID.Valid(f.MerchantUID):
		return store.ChargeQuery{}, errInvalid("merchant_uid is malformed")
	case f.ImpUID != "" && !idrule.ImpUID.Valid(f.ImpUID):
		return store.ChargeQuery{}, errInvalid("imp_uid is malformed")
	case f.SubscriptionID != "" && !idrule.SubscriptionID.Valid(f.SubscriptionID):
		return store.ChargeQuery{}, errInvalid("subscription_id is malformed")
	case f.Status != "" && !knownChargeStatus(f.Status):
		return store.ChargeQuery{}, errInvalid("status is not a charge status")
	case !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To):
		return store.ChargeQuery{}, errInvalid("from must be before to")
	}
	q := store.ChargeQuery{UserID: f.UserID, From: f.From, To: f.To, MerchantUID: f.MerchantUID,
		ImpUID: f.ImpUID, SubscriptionID: f.SubscriptionID, After: after, Limit: pageLimit(f.Limit)}
	if f.Status != "" {
		q.Statuses = []store.ChargeStatus{f.Status}
	}
	return q, nil
}

func knownChargeStatus(st ChargeStatus) bool {
	switch st {
	case store.ChargePending, store.ChargeCharging, store.ChargePaid, store.ChargeFailed, store.ChargeUnknown, store.ChargeCancelled:
		return true
	}
	return false
}

// ChargeRecord is everything known of one charge: the charge, its history (attempts,
// lookups, webhooks applied, refunds, as billkey wrote them), its refunds and the
// notifications received about it.
type ChargeRecord struct {
	Charge        AdminCharge        `json:"charge"`
	History       []HistoryLine      `json:"history"`
	Refunds       []RefundView       `json:"refunds"`
	Notifications []NotificationView `json:"notifications"`
}

// HistoryLine is one line of a charge's history.
type HistoryLine struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// maxRecordNotifications bounds the notifications a ChargeRecord carries.
const maxRecordNotifications = 50

// ChargeRecord returns the whole record of one charge. codes.NotFound if there is none.
func (s *Service) ChargeRecord(ctx context.Context, merchantUID string) (*ChargeRecord, error) {
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
	rec := &ChargeRecord{Charge: adminCharge(c), History: []HistoryLine{}}
	for _, n := range c.Notes {
		rec.History = append(rec.History, HistoryLine{At: n.At, Text: n.Text})
	}
	if rec.Refunds, err = s.Refunds(ctx, merchantUID); err != nil {
		return nil, err
	}
	if rec.Notifications, _, err = s.Notifications(ctx, merchantUID, "", maxRecordNotifications); err != nil {
		return nil, err
	}
	return rec, nil
}

// SubscriptionFilter selects subscriptions across users; empty fields select everything.
type SubscriptionFilter struct {
	UserID string
	Status SubscriptionStatus
	Cursor string
	Limit  int
}

// AdminSubscription is a subscription as an operator sees it.
type AdminSubscription struct {
	SubscriptionView
	UserID string `json:"user_id"`
}

// SearchSubscriptions returns a page of the subscriptions f selects, newest first (ask
// for past_due first to see who is being dunned), without their charges.
func (s *Service) SearchSubscriptions(ctx context.Context, f SubscriptionFilter) ([]AdminSubscription, string, error) {
	after, e := parseCursor(f.Cursor)
	if e != nil {
		return nil, "", e
	}
	if f.UserID != "" && !idrule.UserID.Valid(f.UserID) {
		return nil, "", errInvalid("user_id is malformed")
	}
	q := store.SubscriptionQuery{UserID: f.UserID, After: after, Limit: pageLimit(f.Limit)}
	if f.Status != "" {
		if !knownSubscriptionStatus(f.Status) {
			return nil, "", errInvalid("status is not a subscription status")
		}
		q.Statuses = []store.SubscriptionStatus{f.Status}
	}
	page, err := s.store.SearchSubscriptions(ctx, q)
	if err != nil {
		return nil, "", s.storeErr(ctx, "search subscriptions", err)
	}
	out := make([]AdminSubscription, len(page.Subscriptions))
	for i, sub := range page.Subscriptions {
		out[i] = AdminSubscription{SubscriptionView: *s.subscriptionView(sub, nil), UserID: sub.UserID}
	}
	return out, page.Next.String(), nil
}

func knownSubscriptionStatus(st SubscriptionStatus) bool {
	switch st {
	case store.SubscriptionIncomplete, store.SubscriptionTrialing, store.SubscriptionActive,
		store.SubscriptionPastDue, store.SubscriptionCanceled, store.SubscriptionEnded:
		return true
	}
	return false
}

// ReconcileCharge looks one charge up at iamport now and applies what iamport has, for
// an operator who will not wait for the next sweep. It never sends `again`: a charge
// iamport has nothing for is left to the reconciler, which resends only once the
// attempt's lease ran out. Errors: codes.NotFound, codes.UpstreamUnavailable, codes.Internal.
func (s *Service) ReconcileCharge(ctx context.Context, operator, merchantUID string) (*AdminCharge, error) {
	ctx = withSource(ctx, "looked up by "+cleanText(operator, 40))
	if !idrule.UserID.Valid(operator) {
		return nil, errInvalid("the operator is required")
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
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: charge looked up by an operator",
		slog.String("merchant_uid", merchantUID), slog.String("operator", cleanText(operator, 64)))
	p, err := s.client.FindPayment(ctx, merchantUID, "")
	switch {
	case errors.Is(err, iamport.ErrNotFound):
		v := adminCharge(c)
		return &v, nil
	case err != nil:
		return nil, s.upstreamErr(ctx, "operator lookup", merchantUID, err)
	}
	cur, err := s.applyPayment(ctx, c, p, 0)
	if err != nil {
		return nil, err
	}
	v := adminCharge(cur)
	return &v, nil
}
