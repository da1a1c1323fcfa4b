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

// refunds are the Store's refund records and their indexes, guarded by Store.mu.
type refunds struct {
	byID     map[string]*store.Refund
	byIdem   map[idemKey]string  // (merchant_uid, idempotency key) -> id
	byCharge map[string][]string // merchant_uid -> ids, oldest first
}

func (x *refunds) init() {
	if x.byID == nil {
		x.byID = make(map[string]*store.Refund)
		x.byIdem = make(map[idemKey]string)
		x.byCharge = make(map[string][]string)
	}
}

var (
	errRefundStatus = errors.New("memstore: unknown refund status")
	errNoRefundID   = errors.New("memstore: refund without id")
)

func validRefundStatus(st store.RefundStatus) bool {
	switch st {
	case store.RefundSending, store.RefundSucceeded, store.RefundFailed, store.RefundUnknown:
		return true
	}
	return false
}

// leaseUntil is when a lease l taken now ends, on the store's clock.
func (s *Store) leaseUntil(l *store.Lease) (string, time.Time) {
	return l.Owner, utc(s.now().Add(l.For))
}

// CreateRefund inserts a copy of r holding hold, unless the charge has a refund with
// r.IdempotencyKey: that one is returned with created=false.
func (s *Store) CreateRefund(ctx context.Context, r *store.Refund, hold store.Lease) (*store.Refund, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	switch {
	case r == nil:
		return nil, false, errNilRecord
	case r.ID == "":
		return nil, false, errNoRefundID
	case !validRefundStatus(r.Status):
		return nil, false, errRefundStatus
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ik := idemKey{r.MerchantUID, r.IdempotencyKey}
	if id, ok := s.refunds.byIdem[ik]; ok {
		return clone(s.refunds.byID[id]), false, nil
	}
	if _, ok := s.refunds.byID[r.ID]; ok {
		return nil, false, fmt.Errorf("memstore: refund id: %w", store.ErrDuplicate)
	}
	rf := clone(r)
	rf.CreatedAt, rf.UpdatedAt = utc(rf.CreatedAt), utc(rf.UpdatedAt)
	rf.ClaimedBy, rf.ClaimedUntil = "", time.Time{}
	if hold.For > 0 {
		rf.ClaimedBy, rf.ClaimedUntil = s.leaseUntil(&hold)
	}
	s.refunds.byID[rf.ID] = rf
	s.refunds.byIdem[ik] = rf.ID
	s.refunds.byCharge[rf.MerchantUID] = append(s.refunds.byCharge[rf.MerchantUID], rf.ID)
	return clone(rf), true, nil
}

// GetRefund returns a copy of refund id.
func (s *Store) GetRefund(ctx context.Context, id string) (*store.Refund, error) {
	return get(ctx, s, "refund", s.refunds.byID, nil, id)
}

// ListRefunds returns copies of the charge's refunds, oldest first.
func (s *Store) ListRefunds(ctx context.Context, merchantUID string) ([]*store.Refund, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.refunds.byCharge[merchantUID]
	out := make([]*store.Refund, 0, len(ids))
	for _, id := range ids {
		out = append(out, clone(s.refunds.byID[id]))
	}
	slices.SortStableFunc(out, func(a, b *store.Refund) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// UpdateRefund applies u if the refund's status is one of from.
func (s *Store) UpdateRefund(ctx context.Context, id string, from []store.RefundStatus, u store.RefundUpdate) (*store.Refund, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if u.Status != "" && !validRefundStatus(u.Status) {
		return nil, errRefundStatus
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refunds.byID[id]
	if !ok {
		return nil, notFound("refund")
	}
	if !slices.Contains(from, rf.Status) {
		return nil, fmt.Errorf("memstore: refund is %s: %w", rf.Status, store.ErrConflict)
	}
	if u.Status != "" {
		rf.Status = u.Status
	}
	setString(&rf.FailReason, u.FailReason)
	if !u.At.IsZero() {
		rf.UpdatedAt = utc(u.At)
	}
	switch {
	case u.ReleaseClaim:
		rf.ClaimedBy, rf.ClaimedUntil = "", time.Time{}
	case u.Hold != nil && u.Hold.For > 0:
		rf.ClaimedBy, rf.ClaimedUntil = s.leaseUntil(u.Hold)
	}
	return clone(rf), nil
}

// ClaimRefunds claims refunds in statuses whose lease ran out, the longest-expired first.
func (s *Store) ClaimRefunds(ctx context.Context, statuses []store.RefundStatus, lease store.Lease, limit int) ([]*store.Refund, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if lease.Owner == "" || lease.For <= 0 {
		return nil, errClaimOwner
	}
	if limit <= 0 || len(statuses) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var due []*store.Refund
	for _, rf := range s.refunds.byID {
		if !rf.ClaimedUntil.After(now) && slices.Contains(statuses, rf.Status) {
			due = append(due, rf)
		}
	}
	due = firstSorted(due, limit, func(a, b *store.Refund) int {
		return cmp.Or(a.ClaimedUntil.Compare(b.ClaimedUntil), cmp.Compare(a.ID, b.ID))
	})
	out := make([]*store.Refund, len(due))
	for i, rf := range due {
		rf.ClaimedBy, rf.ClaimedUntil = s.leaseUntil(&lease)
		out[i] = clone(rf)
	}
	return out, nil
}
