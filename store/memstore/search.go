package memstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/billkey/billkey/store"
)

var errPageLimit = errors.New("memstore: a page limit must be 1 to 500")

func checkLimit(limit int) error {
	if limit <= 0 || limit > store.MaxPageLimit {
		return errPageLimit
	}
	return nil
}

// newestFirst orders by CreatedAt descending, then id descending: every listing's order.
func newestFirst(at time.Time, id string, bAt time.Time, bID string) int {
	return cmp.Or(bAt.Compare(at), cmp.Compare(bID, id))
}

// afterCursor reports whether the row (at, id) comes after c in newest-first order.
func afterCursor(c store.Cursor, at time.Time, id string) bool {
	return c.IsZero() || newestFirst(c.CreatedAt, c.ID, at, id) < 0
}

// page cuts the sorted rows to limit and computes the next cursor.
func page[T any](rows []*T, limit int, key func(*T) (time.Time, string)) ([]*T, store.Cursor) {
	if len(rows) <= limit {
		return rows, store.Cursor{}
	}
	rows = rows[:limit]
	at, id := key(rows[limit-1])
	return rows, store.Cursor{CreatedAt: at, ID: id}
}

func chargeKey(c *store.Charge) (time.Time, string) { return c.CreatedAt, c.MerchantUID }

func (q *chargeFilter) match(c *store.Charge) bool {
	return (q.UserID == "" || c.UserID == q.UserID) &&
		(len(q.Statuses) == 0 || slices.Contains(q.Statuses, c.Status)) &&
		(q.From.IsZero() || !c.CreatedAt.Before(q.From)) &&
		(q.To.IsZero() || c.CreatedAt.Before(q.To)) &&
		(q.MerchantUID == "" || c.MerchantUID == q.MerchantUID) &&
		(q.ImpUID == "" || c.ImpUID == q.ImpUID) &&
		(q.SubscriptionID == "" || c.SubscriptionID == q.SubscriptionID) &&
		afterCursor(q.After, c.CreatedAt, c.MerchantUID)
}

type chargeFilter struct{ store.ChargeQuery }

// SearchCharges returns the charges q selects, newest first. memstore scans them all: it
// is for tests and development, not for a shop's history.
func (s *Store) SearchCharges(ctx context.Context, q store.ChargeQuery) (store.ChargePage, error) {
	if err := ctx.Err(); err != nil {
		return store.ChargePage{}, err
	}
	if err := checkLimit(q.Limit); err != nil {
		return store.ChargePage{}, err
	}
	f := chargeFilter{q}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []*store.Charge
	for _, c := range s.charges {
		if f.match(c) {
			rows = append(rows, c)
		}
	}
	slices.SortFunc(rows, func(a, b *store.Charge) int {
		return newestFirst(a.CreatedAt, a.MerchantUID, b.CreatedAt, b.MerchantUID)
	})
	rows, next := page(rows, q.Limit, chargeKey)
	out := make([]*store.Charge, len(rows))
	for i, c := range rows {
		out[i] = clone(c)
	}
	return store.ChargePage{Charges: out, Next: next}, nil
}

// SearchSubscriptions returns the subscriptions q selects, newest first.
func (s *Store) SearchSubscriptions(ctx context.Context, q store.SubscriptionQuery) (store.SubscriptionPage, error) {
	if err := ctx.Err(); err != nil {
		return store.SubscriptionPage{}, err
	}
	if err := checkLimit(q.Limit); err != nil {
		return store.SubscriptionPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []*store.Subscription
	for _, sub := range s.subs.byID {
		if (q.UserID == "" || sub.UserID == q.UserID) &&
			(len(q.Statuses) == 0 || slices.Contains(q.Statuses, sub.Status)) &&
			afterCursor(q.After, sub.CreatedAt, sub.ID) {
			rows = append(rows, sub)
		}
	}
	slices.SortFunc(rows, func(a, b *store.Subscription) int {
		return newestFirst(a.CreatedAt, a.ID, b.CreatedAt, b.ID)
	})
	rows, next := page(rows, q.Limit, func(sub *store.Subscription) (time.Time, string) { return sub.CreatedAt, sub.ID })
	out := make([]*store.Subscription, len(rows))
	for i, sub := range rows {
		out[i] = clone(sub)
	}
	return store.SubscriptionPage{Subscriptions: out, Next: next}, nil
}

// OpenCharges counts the charges not settled yet and finds the oldest.
func (s *Store) OpenCharges(ctx context.Context) (int, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, oldest := 0, time.Time{}
	for _, c := range s.charges {
		switch c.Status {
		case store.ChargePending, store.ChargeCharging, store.ChargeUnknown:
			n++
			if oldest.IsZero() || c.CreatedAt.Before(oldest) {
				oldest = c.CreatedAt
			}
		}
	}
	return n, oldest, nil
}
