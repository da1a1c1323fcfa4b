package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/billkey/billkey/store"
)

var _ store.Store = (*Store)(nil)

// Store is an in-memory store.Store. The zero value is not usable; call New. It is safe
// for concurrent use. It is not durable: see the package documentation.
type Store struct {
	mu  sync.Mutex
	now func() time.Time // the store's clock, for leases

	issuances     map[string]*store.Issuance // by merchant_uid
	issByCustomer map[string]string          // customer_uid -> merchant_uid
	issByImp      map[string]string          // imp_uid -> merchant_uid

	keys          map[string]*store.BillingKey // by user id
	keyByCustomer map[string]string            // customer_uid -> user id

	charges      map[string]*store.Charge // by merchant_uid
	chargeByIdem map[idemKey]string       // (user, idempotency key) -> merchant_uid
	chargeByImp  map[string]string        // imp_uid -> merchant_uid
	chargeByUser map[string][]string      // user id -> merchant_uids

	subs    subscriptions
	refunds refunds
	inbox   inbox
}

type idemKey struct{ user, key string }

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock leases are measured on (default time.Now): the store's own
// clock, as a database's is for the SQL store. Tests pass a clock they move.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{
		now:           time.Now,
		issuances:     make(map[string]*store.Issuance),
		issByCustomer: make(map[string]string),
		issByImp:      make(map[string]string),
		keys:          make(map[string]*store.BillingKey),
		keyByCustomer: make(map[string]string),
		charges:       make(map[string]*store.Charge),
		chargeByIdem:  make(map[idemKey]string),
		chargeByImp:   make(map[string]string),
		chargeByUser:  make(map[string][]string),
	}
	s.refunds.init()
	s.inbox.init()
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

var (
	errNilRecord     = errors.New("memstore: nil record")
	errSettleStatus  = errors.New("memstore: an issuance settles only to issued, failed or expired")
	errKeyUser       = errors.New("memstore: billing key user differs from the issuance's user")
	errKeyCustomer   = errors.New("memstore: billing key without customer_uid")
	errChargeStatus  = errors.New("memstore: unknown charge status")
	errClaimOwner    = errors.New("memstore: claim without an owner or a lease")
	errIssuanceState = errors.New("memstore: unknown issuance status")
)

// utc returns t in UTC without a monotonic reading; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// clone returns a copy of the record *v (the records are plain values but for a
// charge's notes, which cloneCharge copies too).
func clone[T any](v *T) *T {
	c := *v
	if ch, ok := any(&c).(*store.Charge); ok {
		ch.Notes = slices.Clone(ch.Notes)
	}
	return &c
}

// cloneCharge is clone for a charge.
func cloneCharge(c *store.Charge) *store.Charge { return clone(c) }

func notFound(what string) error {
	return fmt.Errorf("memstore: %s: %w", what, store.ErrNotFound)
}

// get returns, under the lock, a copy of records[key] or, when index is not nil, of the
// record index maps key to. ErrNotFound (for what) if there is none. The imp_uid indexes
// never hold "", so an empty imp_uid is never found.
func get[T any](ctx context.Context, s *Store, what string, records map[string]*T, index map[string]string, key string) (*T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if index != nil {
		var ok bool
		if key, ok = index[key]; !ok {
			return nil, notFound(what)
		}
	}
	r, ok := records[key]
	if !ok {
		return nil, notFound(what)
	}
	return clone(r), nil
}

// impTaken reports whether impUID is set and indexed for a record other than owner.
func impTaken(index map[string]string, impUID, owner string) bool {
	if impUID == "" {
		return false
	}
	o, ok := index[impUID]
	return ok && o != owner
}

// setImpUID makes next (when set) the imp_uid of the record owner, whose imp_uid is at
// *cur, moving index from the old value.
func setImpUID(index map[string]string, cur *string, next, owner string) {
	if next == "" || next == *cur {
		return
	}
	if *cur != "" {
		delete(index, *cur)
	}
	*cur = next
	index[next] = owner
}

// firstSorted sorts all by cmp and returns at most limit of them.
func firstSorted[T any](all []*T, limit int, cmp func(a, b *T) int) []*T {
	slices.SortFunc(all, cmp)
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}

func validIssuanceStatus(s store.IssuanceStatus) bool {
	switch s {
	case store.IssuancePending, store.IssuanceIssued, store.IssuanceFailed, store.IssuanceExpired:
		return true
	}
	return false
}

func validChargeStatus(s store.ChargeStatus) bool {
	switch s {
	case store.ChargePending, store.ChargeCharging, store.ChargePaid, store.ChargeFailed,
		store.ChargeUnknown, store.ChargeCancelled:
		return true
	}
	return false
}

// CreateIssuance inserts a copy of is. ErrDuplicate if its merchant_uid, customer_uid or
// (when set) imp_uid is taken.
func (s *Store) CreateIssuance(ctx context.Context, is *store.Issuance) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if is == nil {
		return errNilRecord
	}
	if !validIssuanceStatus(is.Status) {
		return errIssuanceState
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.issuances[is.MerchantUID]; ok {
		return fmt.Errorf("memstore: issuance merchant_uid: %w", store.ErrDuplicate)
	}
	if _, ok := s.issByCustomer[is.CustomerUID]; ok {
		return fmt.Errorf("memstore: issuance customer_uid: %w", store.ErrDuplicate)
	}
	// Every indexed imp_uid belongs to a stored merchant_uid, and is's is not stored.
	if impTaken(s.issByImp, is.ImpUID, is.MerchantUID) {
		return fmt.Errorf("memstore: issuance imp_uid: %w", store.ErrDuplicate)
	}
	c := clone(is)
	c.CreatedAt, c.ExpiresAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.ExpiresAt), utc(c.UpdatedAt)
	s.issuances[c.MerchantUID] = c
	s.issByCustomer[c.CustomerUID] = c.MerchantUID
	if c.ImpUID != "" {
		s.issByImp[c.ImpUID] = c.MerchantUID
	}
	return nil
}

// GetIssuance returns a copy of the issuance with merchantUID. ErrNotFound if none.
func (s *Store) GetIssuance(ctx context.Context, merchantUID string) (*store.Issuance, error) {
	return get(ctx, s, "issuance", s.issuances, nil, merchantUID)
}

// GetIssuanceByCustomerUID returns a copy of the issuance with customerUID. ErrNotFound if
// none.
func (s *Store) GetIssuanceByCustomerUID(ctx context.Context, customerUID string) (*store.Issuance, error) {
	return get(ctx, s, "issuance", s.issuances, s.issByCustomer, customerUID)
}

// GetIssuanceByImpUID returns a copy of the issuance whose ImpUID is impUID. ErrNotFound
// if none, and for "".
func (s *Store) GetIssuanceByImpUID(ctx context.Context, impUID string) (*store.Issuance, error) {
	return get(ctx, s, "issuance", s.issuances, s.issByImp, impUID)
}

// SettleIssuance moves a pending issuance to to.Status (issued, failed or expired). The
// non-empty ImpUID, FailReason, CardName, CardNumber and ChargeMerchantUID of to, and a
// non-zero to.UpdatedAt, replace the stored values; empty ones leave them as they are.
// ErrNotFound if there is no such issuance, ErrConflict if it is not pending, ErrDuplicate
// if to.ImpUID belongs to another issuance or key.CustomerUID to another user's key.
//
// When to.Status is issued and key is not nil, key (which must belong to the issuance's
// user) becomes the user's billing key in the same step; the key it replaces is returned
// when its customer_uid differs from key's. Nothing changes when an error is returned.
func (s *Store) SettleIssuance(ctx context.Context, merchantUID string, to *store.Issuance, key *store.BillingKey) (*store.BillingKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if to == nil {
		return nil, errNilRecord
	}
	switch to.Status {
	case store.IssuanceIssued, store.IssuanceFailed, store.IssuanceExpired:
	default:
		return nil, errSettleStatus
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issuances[merchantUID]
	if !ok {
		return nil, notFound("issuance")
	}
	if is.Status != store.IssuancePending {
		return nil, fmt.Errorf("memstore: issuance is %s: %w", is.Status, store.ErrConflict)
	}
	if impTaken(s.issByImp, to.ImpUID, merchantUID) {
		return nil, fmt.Errorf("memstore: issuance imp_uid: %w", store.ErrDuplicate)
	}
	withKey := to.Status == store.IssuanceIssued && key != nil
	if withKey {
		if key.UserID != is.UserID {
			return nil, errKeyUser
		}
		if key.CustomerUID == "" {
			return nil, errKeyCustomer
		}
		if user, ok := s.keyByCustomer[key.CustomerUID]; ok && user != key.UserID {
			return nil, fmt.Errorf("memstore: billing key customer_uid: %w", store.ErrDuplicate)
		}
	}

	// Every check passed: apply all changes.
	is.Status = to.Status
	setImpUID(s.issByImp, &is.ImpUID, to.ImpUID, merchantUID)
	setString(&is.FailReason, to.FailReason)
	setString(&is.CardName, to.CardName)
	setString(&is.CardNumber, to.CardNumber)
	setString(&is.ChargeMerchantUID, to.ChargeMerchantUID)
	if !to.UpdatedAt.IsZero() {
		is.UpdatedAt = utc(to.UpdatedAt)
	}
	if !withKey {
		return nil, nil
	}
	var replaced *store.BillingKey
	if old, ok := s.keys[key.UserID]; ok {
		delete(s.keyByCustomer, old.CustomerUID)
		if old.CustomerUID != key.CustomerUID {
			replaced = clone(old)
		}
	}
	k := clone(key)
	k.IssuedAt = utc(k.IssuedAt)
	s.keys[k.UserID] = k
	s.keyByCustomer[k.CustomerUID] = k.UserID
	return replaced, nil
}

func setString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// ExpirePendingIssuances marks pending issuances with ExpiresAt <= now as expired (their
// UpdatedAt becomes now) and returns copies of them, earliest ExpiresAt first, at most
// limit. A limit <= 0 expires nothing.
func (s *Store) ExpirePendingIssuances(ctx context.Context, now time.Time, limit int) ([]*store.Issuance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*store.Issuance
	for _, is := range s.issuances {
		if is.Status == store.IssuancePending && !is.ExpiresAt.After(now) {
			due = append(due, is)
		}
	}
	due = firstSorted(due, limit, func(a, b *store.Issuance) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), cmp.Compare(a.MerchantUID, b.MerchantUID))
	})
	out := make([]*store.Issuance, 0, len(due))
	for _, is := range due {
		is.Status = store.IssuanceExpired
		is.UpdatedAt = utc(now)
		out = append(out, clone(is))
	}
	return out, nil
}

// PendingIssuance returns a copy of the user's newest pending issuance for planID whose
// ExpiresAt is after notBefore. ErrNotFound if none.
func (s *Store) PendingIssuance(ctx context.Context, userID, planID string, notBefore time.Time) (*store.Issuance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *store.Issuance
	for _, is := range s.issuances {
		if is.UserID != userID || is.PlanID != planID || is.Status != store.IssuancePending || !is.ExpiresAt.After(notBefore) {
			continue
		}
		if best == nil || is.CreatedAt.After(best.CreatedAt) || is.CreatedAt.Equal(best.CreatedAt) && is.MerchantUID > best.MerchantUID {
			best = is
		}
	}
	if best == nil {
		return nil, notFound("issuance")
	}
	return clone(best), nil
}

// ended reports whether an issuance failed or expired.
func ended(is *store.Issuance) bool {
	return is.Status == store.IssuanceFailed || is.Status == store.IssuanceExpired
}

// OrphanIssuances returns copies of up to limit failed or expired issuances with
// UpdatedAt before before and KeyRemoved false, oldest UpdatedAt first, leaving out any
// whose customer_uid is a user's billing key.
func (s *Store) OrphanIssuances(ctx context.Context, before time.Time, limit int) ([]*store.Issuance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*store.Issuance
	for _, is := range s.issuances {
		if _, bound := s.keyByCustomer[is.CustomerUID]; ended(is) && !is.KeyRemoved && is.UpdatedAt.Before(before) && !bound {
			due = append(due, is)
		}
	}
	due = firstSorted(due, limit, func(a, b *store.Issuance) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.MerchantUID, b.MerchantUID))
	})
	out := make([]*store.Issuance, len(due))
	for i, is := range due {
		out[i] = clone(is)
	}
	return out, nil
}

// MarkKeyRemoved sets KeyRemoved on a failed or expired issuance.
func (s *Store) MarkKeyRemoved(ctx context.Context, merchantUID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issuances[merchantUID]
	if !ok {
		return notFound("issuance")
	}
	if !ended(is) {
		return fmt.Errorf("memstore: issuance is %s: %w", is.Status, store.ErrConflict)
	}
	is.KeyRemoved = true
	return nil
}

// PurgeIssuances deletes up to limit failed or expired issuances with UpdatedAt before
// before and KeyRemoved set, oldest first, and returns how many.
func (s *Store) PurgeIssuances(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*store.Issuance
	for _, is := range s.issuances {
		if ended(is) && is.KeyRemoved && is.UpdatedAt.Before(before) {
			due = append(due, is)
		}
	}
	due = firstSorted(due, limit, func(a, b *store.Issuance) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.MerchantUID, b.MerchantUID))
	})
	for _, is := range due {
		delete(s.issuances, is.MerchantUID)
		delete(s.issByCustomer, is.CustomerUID)
		if is.ImpUID != "" {
			delete(s.issByImp, is.ImpUID)
		}
	}
	return len(due), nil
}

// GetBillingKey returns a copy of the user's billing key. ErrNotFound if none.
func (s *Store) GetBillingKey(ctx context.Context, userID string) (*store.BillingKey, error) {
	return get(ctx, s, "billing key", s.keys, nil, userID)
}

// DeleteBillingKey removes the user's billing key if its customer_uid is customerUID.
// ErrNotFound otherwise, and nothing is removed.
func (s *Store) DeleteBillingKey(ctx context.Context, userID, customerUID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[userID]
	if !ok || k.CustomerUID != customerUID {
		return notFound("billing key")
	}
	delete(s.keys, userID)
	delete(s.keyByCustomer, k.CustomerUID)
	return nil
}

// CreateCharge inserts a copy of c, holding hold on it, unless the user already has a
// charge with c.IdempotencyKey; then it returns a copy of that charge with
// created=false, whatever c holds. ErrDuplicate if c.MerchantUID, or a non-empty
// c.ImpUID, belongs to another charge.
func (s *Store) CreateCharge(ctx context.Context, c *store.Charge, hold store.Lease) (*store.Charge, bool, error) {
	return s.createCharge(ctx, c, hold, false)
}

// CreateKeyedCharge is CreateCharge with the customer_uid of the user's billing key,
// read under the same lock.
func (s *Store) CreateKeyedCharge(ctx context.Context, c *store.Charge, hold store.Lease) (*store.Charge, bool, error) {
	return s.createCharge(ctx, c, hold, true)
}

// createCharge is CreateCharge, keyed CreateKeyedCharge.
func (s *Store) createCharge(ctx context.Context, c *store.Charge, hold store.Lease, keyed bool) (*store.Charge, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if c == nil {
		return nil, false, errNilRecord
	}
	if !validChargeStatus(c.Status) {
		return nil, false, errChargeStatus
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ik := idemKey{c.UserID, c.IdempotencyKey}
	if mu, ok := s.chargeByIdem[ik]; ok {
		return clone(s.charges[mu]), false, nil
	}
	var key *store.BillingKey
	if keyed {
		k, ok := s.keys[c.UserID]
		if !ok {
			return nil, false, fmt.Errorf("memstore: billing key: %w", store.ErrNotFound)
		}
		key = k
	}
	if _, ok := s.charges[c.MerchantUID]; ok {
		return nil, false, fmt.Errorf("memstore: charge merchant_uid: %w", store.ErrDuplicate)
	}
	// Every indexed imp_uid belongs to a stored merchant_uid, and c's is not stored.
	if impTaken(s.chargeByImp, c.ImpUID, c.MerchantUID) {
		return nil, false, fmt.Errorf("memstore: charge imp_uid: %w", store.ErrDuplicate)
	}
	ch := cloneCharge(c)
	if key != nil {
		ch.CustomerUID = key.CustomerUID
	}
	ch.Notes = store.AppendNote(nil, ch.Notes...)
	for i := range ch.Notes {
		ch.Notes[i].At = utc(ch.Notes[i].At) // returned in UTC, as every time the store keeps
	}
	ch.CreatedAt, ch.UpdatedAt, ch.PaidAt = utc(ch.CreatedAt), utc(ch.UpdatedAt), utc(ch.PaidAt)
	ch.ClaimedBy, ch.ClaimedUntil = "", time.Time{}
	s.holdLocked(ch, &hold)
	s.charges[ch.MerchantUID] = ch
	s.chargeByIdem[ik] = ch.MerchantUID
	if ch.ImpUID != "" {
		s.chargeByImp[ch.ImpUID] = ch.MerchantUID
	}
	s.chargeByUser[ch.UserID] = append(s.chargeByUser[ch.UserID], ch.MerchantUID)
	return clone(ch), true, nil
}

// GetCharge returns a copy of the charge with merchantUID. ErrNotFound if none.
func (s *Store) GetCharge(ctx context.Context, merchantUID string) (*store.Charge, error) {
	return get(ctx, s, "charge", s.charges, nil, merchantUID)
}

// GetChargeByIdempotencyKey returns a copy of the user's charge created with idempotency
// key key. ErrNotFound if none.
func (s *Store) GetChargeByIdempotencyKey(ctx context.Context, userID, key string) (*store.Charge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mu, ok := s.chargeByIdem[idemKey{userID, key}]
	if !ok {
		return nil, notFound("charge")
	}
	ch, ok := s.charges[mu]
	if !ok {
		return nil, notFound("charge")
	}
	return clone(ch), nil
}

// GetChargeByImpUID returns a copy of the charge whose ImpUID is impUID. ErrNotFound if
// none, and for "".
func (s *Store) GetChargeByImpUID(ctx context.Context, impUID string) (*store.Charge, error) {
	return get(ctx, s, "charge", s.charges, s.chargeByImp, impUID)
}

// ListCharges returns copies of the user's charges, newest CreatedAt first (ties: the
// greater merchant_uid first), at most limit. A limit <= 0 returns none.
func (s *Store) ListCharges(ctx context.Context, userID string, limit int) ([]*store.Charge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	uids := s.chargeByUser[userID]
	all := make([]*store.Charge, 0, len(uids))
	for _, mu := range uids {
		all = append(all, s.charges[mu])
	}
	all = firstSorted(all, limit, func(a, b *store.Charge) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.MerchantUID, a.MerchantUID))
	})
	out := make([]*store.Charge, len(all))
	for i, ch := range all {
		out[i] = clone(ch)
	}
	return out, nil
}

// UpdateCharge applies u if the charge's status is one of from (and its Attempts is
// u.IfAttempts, when set), and returns a copy of the updated charge. A non-empty
// u.Status, u.ImpUID, u.FailReason, u.FailCode and non-zero u.PaidAt, u.At (UpdatedAt)
// replace stored values; u.AddAttempts is added to Attempts; u.Hold takes a fresh lease
// and u.ReleaseClaim clears it. The lease is otherwise kept. ErrNotFound if no such
// charge, ErrConflict if the condition fails (an empty from never matches), ErrDuplicate
// if u.ImpUID belongs to another charge. Nothing changes on error.
func (s *Store) UpdateCharge(ctx context.Context, merchantUID string, from []store.ChargeStatus, u store.ChargeUpdate) (*store.Charge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if u.Status != "" && !validChargeStatus(u.Status) {
		return nil, errChargeStatus
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.charges[merchantUID]
	if !ok {
		return nil, notFound("charge")
	}
	if !slices.Contains(from, ch.Status) {
		return nil, fmt.Errorf("memstore: charge is %s: %w", ch.Status, store.ErrConflict)
	}
	if u.IfAttempts != 0 && ch.Attempts != u.IfAttempts {
		return nil, fmt.Errorf("memstore: charge is at attempt %d: %w", ch.Attempts, store.ErrConflict)
	}
	if impTaken(s.chargeByImp, u.ImpUID, merchantUID) {
		return nil, fmt.Errorf("memstore: charge imp_uid: %w", store.ErrDuplicate)
	}
	if u.Status != "" {
		ch.Status = u.Status
	}
	setImpUID(s.chargeByImp, &ch.ImpUID, u.ImpUID, merchantUID)
	setString(&ch.FailReason, u.FailReason)
	setString(&ch.FailCode, u.FailCode)
	if !u.PaidAt.IsZero() {
		ch.PaidAt = utc(u.PaidAt)
	}
	ch.Attempts += u.AddAttempts
	if !u.At.IsZero() {
		ch.UpdatedAt = utc(u.At)
	}
	if u.Refunded != nil {
		ch.Refunded = *u.Refunded
	}
	setString(&ch.ReceiptURL, u.ReceiptURL)
	if u.Note != "" {
		ch.Notes = store.AppendNote(ch.Notes, store.Note{At: utc(u.At), Text: u.Note})
	}
	switch {
	case u.ReleaseClaim:
		ch.ClaimedBy, ch.ClaimedUntil = "", time.Time{}
	case u.Hold != nil:
		s.holdLocked(ch, u.Hold)
	}
	return clone(ch), nil
}

// holdLocked puts the lease l on ch, measured on the store's clock.
func (s *Store) holdLocked(ch *store.Charge, l *store.Lease) {
	if l == nil || l.For <= 0 {
		return
	}
	ch.ClaimedBy, ch.ClaimedUntil = l.Owner, utc(s.now().Add(l.For))
}

// ClaimCharges claims, for req.Lease.Owner, up to req.Limit charges whose status is in
// req.Statuses and whose lease has run out by the store's clock (ClaimedUntil zero or not
// after now), or in req.Held with a lease that ran out (ClaimedUntil set, not after now), the longest-expired first (ties: the smaller merchant_uid first), and holds
// req.Lease on each. UpdatedAt is not changed by a claim. It returns copies of the
// claimed charges. A row is never handed to two callers while a lease holds, even to the
// same owner. An empty owner or a lease <= 0 is an error; a limit <= 0 or no statuses
// claim none.
func (s *Store) ClaimCharges(ctx context.Context, req store.ClaimRequest) ([]*store.Charge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Lease.Owner == "" || req.Lease.For <= 0 {
		return nil, errClaimOwner
	}
	if req.Limit <= 0 || len(req.Statuses)+len(req.Held) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var due []*store.Charge
	for _, ch := range s.charges {
		ranOut := !ch.ClaimedUntil.After(now)
		held := !ch.ClaimedUntil.IsZero()
		if ranOut && (slices.Contains(req.Statuses, ch.Status) || held && slices.Contains(req.Held, ch.Status)) {
			due = append(due, ch)
		}
	}
	due = firstSorted(due, req.Limit, func(a, b *store.Charge) int {
		return cmp.Or(a.ClaimedUntil.Compare(b.ClaimedUntil), cmp.Compare(a.MerchantUID, b.MerchantUID))
	})
	out := make([]*store.Charge, len(due))
	for i, ch := range due {
		s.holdLocked(ch, &req.Lease)
		out[i] = clone(ch)
	}
	return out, nil
}
