package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/billkey/billkey/store"
)

// subscriptions are the Store's subscription records and their indexes, guarded by
// Store.mu.
type subscriptions struct {
	byID   map[string]*store.Subscription
	byIdem map[idemKey]string // (user, idempotency key) -> id
	bySlot map[idemKey]string // (user, slot) -> id
	byUser map[string][]string
	// due holds the subscriptions with a next action in claim order, so that a claim
	// reads no more of them than its limit needs.
	due []dueKey
}

// dueKey is a subscription's place in the claim order: by NextActionAt, then by id.
type dueKey struct {
	at time.Time
	id string
}

func compareDue(a, b dueKey) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id)) }

// setDue moves id in the due index from the NextActionAt old to next (zero: not in it).
func (x *subscriptions) setDue(id string, old, next time.Time) {
	if old.Equal(next) {
		return
	}
	if !old.IsZero() {
		if i, ok := slices.BinarySearchFunc(x.due, dueKey{old, id}, compareDue); ok {
			x.due = slices.Delete(x.due, i, i+1)
		}
	}
	if !next.IsZero() {
		i, _ := slices.BinarySearchFunc(x.due, dueKey{next, id}, compareDue)
		x.due = slices.Insert(x.due, i, dueKey{next, id})
	}
}

func (x *subscriptions) init() {
	if x.byID == nil {
		x.byID = make(map[string]*store.Subscription)
		x.byIdem = make(map[idemKey]string)
		x.bySlot = make(map[idemKey]string)
		x.byUser = make(map[string][]string)
	}
}

var errNoSubscriptionID = errors.New("memstore: subscription without id")

// CreateSubscription inserts a copy of sub with Version 1, unless the user already has
// a subscription with sub.IdempotencyKey: then it returns a copy of that one with
// created=false. ErrDuplicate if sub.ID exists, or sub.Slot is taken by another of the
// user's subscriptions.
func (s *Store) CreateSubscription(ctx context.Context, sub *store.Subscription) (*store.Subscription, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if sub == nil {
		return nil, false, errNilRecord
	}
	if sub.ID == "" {
		return nil, false, errNoSubscriptionID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := &s.subs
	x.init()
	if id, ok := x.byIdem[idemKey{sub.UserID, sub.IdempotencyKey}]; ok {
		return clone(x.byID[id]), false, nil
	}
	if _, ok := x.byID[sub.ID]; ok {
		return nil, false, fmt.Errorf("memstore: subscription id: %w", store.ErrDuplicate)
	}
	if sub.Slot != "" {
		if _, ok := x.bySlot[idemKey{sub.UserID, sub.Slot}]; ok {
			return nil, false, fmt.Errorf("memstore: subscription slot: %w", store.ErrDuplicate)
		}
	}
	c := clone(sub)
	normalizeSubscription(c)
	c.Version = 1
	c.ClaimedBy, c.ClaimedUntil = "", time.Time{}
	x.byID[c.ID] = c
	x.byIdem[idemKey{c.UserID, c.IdempotencyKey}] = c.ID
	if c.Slot != "" {
		x.bySlot[idemKey{c.UserID, c.Slot}] = c.ID
	}
	x.byUser[c.UserID] = append(x.byUser[c.UserID], c.ID)
	x.setDue(c.ID, time.Time{}, c.NextActionAt)
	return clone(c), true, nil
}

// GetSubscription returns a copy of the subscription id. ErrNotFound if none.
func (s *Store) GetSubscription(ctx context.Context, id string) (*store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs.byID[id]
	if !ok {
		return nil, notFound("subscription")
	}
	return clone(sub), nil
}

// ListSubscriptions returns copies of the user's subscriptions, newest CreatedAt first
// (ties: the greater id first).
func (s *Store) ListSubscriptions(ctx context.Context, userID string) ([]*store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.subs.byUser[userID]
	out := make([]*store.Subscription, 0, len(ids))
	for _, id := range ids {
		out = append(out, clone(s.subs.byID[id]))
	}
	slices.SortFunc(out, func(a, b *store.Subscription) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

// UpdateSubscription stores sub's fields (all but ID, UserID, IdempotencyKey, CreatedAt
// and the lease) when the stored Version equals sub.Version, and returns a copy with the
// next Version. release clears the lease. ErrConflict on another version, ErrNotFound if
// none, ErrDuplicate if sub.Slot is taken by another of the user's subscriptions.
func (s *Store) UpdateSubscription(ctx context.Context, sub *store.Subscription, release bool) (*store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sub == nil {
		return nil, errNilRecord
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := &s.subs
	cur, ok := x.byID[sub.ID]
	if !ok {
		return nil, notFound("subscription")
	}
	if cur.Version != sub.Version {
		return nil, fmt.Errorf("memstore: subscription at version %d: %w", cur.Version, store.ErrConflict)
	}
	if sub.Slot != "" && sub.Slot != cur.Slot {
		if other, ok := x.bySlot[idemKey{cur.UserID, sub.Slot}]; ok && other != cur.ID {
			return nil, fmt.Errorf("memstore: subscription slot: %w", store.ErrDuplicate)
		}
	}
	next := clone(sub)
	normalizeSubscription(next)
	next.UserID, next.IdempotencyKey, next.CreatedAt = cur.UserID, cur.IdempotencyKey, cur.CreatedAt
	next.ClaimedBy, next.ClaimedUntil = cur.ClaimedBy, cur.ClaimedUntil
	if release {
		next.ClaimedBy, next.ClaimedUntil = "", time.Time{}
	}
	next.Version = cur.Version + 1
	if cur.Slot != next.Slot {
		if cur.Slot != "" {
			delete(x.bySlot, idemKey{cur.UserID, cur.Slot})
		}
		if next.Slot != "" {
			x.bySlot[idemKey{cur.UserID, next.Slot}] = cur.ID
		}
	}
	x.setDue(cur.ID, cur.NextActionAt, next.NextActionAt)
	x.byID[cur.ID] = next
	return clone(next), nil
}

// ClaimSubscriptions claims, for req.Lease.Owner, up to req.Limit subscriptions with a
// NextActionAt (not zero) at or before req.Due whose lease has run out by the store's
// clock, earliest NextActionAt first (ties: the smaller id), holding req.Lease on each.
// It walks the due index from its start and stops at the limit or at the first
// subscription due after req.Due.
func (s *Store) ClaimSubscriptions(ctx context.Context, req store.SubscriptionClaim) ([]*store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Lease.Owner == "" || req.Lease.For <= 0 {
		return nil, errClaimOwner
	}
	if req.Limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	until := utc(now.Add(req.Lease.For))
	var out []*store.Subscription
	for _, k := range s.subs.due {
		if len(out) == req.Limit || k.at.After(req.Due) {
			break
		}
		sub := s.subs.byID[k.id]
		if sub.ClaimedUntil.After(now) {
			continue
		}
		sub.ClaimedBy, sub.ClaimedUntil = req.Lease.Owner, until
		out = append(out, clone(sub))
	}
	return out, nil
}

// normalizeSubscription puts every time of sub in UTC.
func normalizeSubscription(sub *store.Subscription) {
	for _, t := range []*time.Time{&sub.Anchor, &sub.PeriodStart, &sub.PeriodEnd, &sub.TrialEnd,
		&sub.CanceledAt, &sub.EndedAt, &sub.NextActionAt, &sub.CreatedAt, &sub.UpdatedAt} {
		*t = utc(*t)
	}
}
