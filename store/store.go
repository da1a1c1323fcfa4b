package store

import (
	"context"
	"errors"
	"slices"
	"time"
	"unicode/utf8"
)

// IssuanceStatus is the state of one billing-key issuance attempt.
type IssuanceStatus string

// Issuance states. pending -> issued | failed | expired; nothing leaves the last three.
const (
	IssuancePending IssuanceStatus = "pending"
	IssuanceIssued  IssuanceStatus = "issued"
	IssuanceFailed  IssuanceStatus = "failed"
	IssuanceExpired IssuanceStatus = "expired"
)

// Issuance is one prepared billing-key issuance: the merchant_uid and customer_uid the
// server generated for a user before building IMP.request_pay.
type Issuance struct {
	MerchantUID       string // unique; ≤40, alphanumeric (see docs/guarantees.md, R3)
	CustomerUID       string // unique; ≥128 random bits, alphanumeric (see docs/guarantees.md, R3)
	UserID            string
	PlanID            string // "" = no charge on issuance
	Amount            int64  // amount shown in the window (plan price or 0)
	Status            IssuanceStatus
	ImpUID            string // issuance payment's imp_uid once known; unique when set
	FailReason        string
	CardName          string // from iamport's Customer, once issued
	CardNumber        string // masked, from iamport's Customer
	ChargeMerchantUID string // merchant_uid of the first charge when PlanID is set
	// KeyRemoved records that the billing key an unfinished issuance may have left at
	// iamport (it failed or expired) was deleted there.
	KeyRemoved bool
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UpdatedAt  time.Time
}

// BillingKey is the user's current billing key. A user has at most one.
type BillingKey struct {
	UserID              string
	CustomerUID         string // unique
	IssuanceMerchantUID string
	CardName            string
	CardNumber          string // masked
	PGProvider          string
	IssuedAt            time.Time
}

// ChargeStatus is the state of one charge. pending -> charging -> paid | failed | unknown;
// unknown -> charging (retry with the same merchant_uid after a lookup found nothing) |
// paid | failed; paid -> cancelled. Moved only by compare-and-set (Store.UpdateCharge).
// What iamport reports also moves a row: charging -> unknown (a stale attempt, before the
// reconciler retries it); pending | charging | unknown -> paid | failed | cancelled (a
// lookup or webhook settles it); failed -> paid (a late payment, never lost) and
// failed -> cancelled (that payment cancelled). cancelled is final.
type ChargeStatus string

// Charge states.
const (
	ChargePending   ChargeStatus = "pending"
	ChargeCharging  ChargeStatus = "charging"
	ChargePaid      ChargeStatus = "paid"
	ChargeFailed    ChargeStatus = "failed"
	ChargeUnknown   ChargeStatus = "unknown"
	ChargeCancelled ChargeStatus = "cancelled"
)

// Charge is one attempt to take money with a billing key. Its row is committed before
// `again` is called, so a crash is repaired by reconciliation (docs/guarantees.md, R18).
type Charge struct {
	MerchantUID    string // unique; the same for every retry of this charge (R5)
	UserID         string
	IdempotencyKey string // unique per user
	CustomerUID    string
	PlanID         string // "" when the amount was given explicitly from Go code
	Name           string
	Amount         int64
	Status         ChargeStatus
	ImpUID         string // unique when set
	FailReason     string
	// SubscriptionID and Period name the subscription period the charge pays for ("" and
	// 0 for a charge outside any subscription).
	SubscriptionID string
	Period         int
	// FailCode is core's error code for a failed charge (card_declined, charge_refused,
	// billing_key_gone, payment_mismatch, ...), so a repeated request answers alike.
	FailCode string
	// Refunded is how much of Amount iamport has cancelled (refunded) so far; a charge
	// refunded in full is cancelled. ReceiptURL is iamport's receipt of the payment.
	Refunded   int64
	ReceiptURL string
	// Notes is the charge's history as core wrote it (attempts, lookups, webhooks,
	// refunds), oldest first, at most MaxNotes: the oldest are dropped first.
	Notes     []Note
	Attempts  int // how many times `again` was sent
	CreatedAt time.Time
	UpdatedAt time.Time
	PaidAt    time.Time // zero unless paid
	// ClaimedBy is the instance holding the row's lease, "" if none; ClaimedUntil is when
	// the lease ends, by the store's clock (the database's, for a shared store).
	ClaimedBy    string
	ClaimedUntil time.Time
}

// Note is one line of a charge's history.
type Note struct {
	At   time.Time
	Text string // at most MaxNoteLen bytes
}

// Bounds of a charge's history.
const (
	MaxNotes   = 32
	MaxNoteLen = 200
)

// AppendNote appends notes to a history, each cut to MaxNoteLen bytes (on a rune
// boundary), keeping the newest MaxNotes: the one rule every store applies.
func AppendNote(history []Note, notes ...Note) []Note {
	out := slices.Clone(history)
	for _, n := range notes {
		n.Text = cutText(n.Text, MaxNoteLen)
		out = append(out, n)
	}
	if len(out) > MaxNotes {
		out = slices.Delete(out, 0, len(out)-MaxNotes)
	}
	return out
}

// cutText is s cut to at most max bytes without splitting a UTF-8 sequence.
func cutText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Lease is a hold on a row: nobody claims it until the store's clock passes the time the
// lease was taken plus For. Leases are measured on the store's clock only, so instances
// whose clocks disagree never hold one row at once (docs/guarantees.md, R4).
type Lease struct {
	Owner string        // instance id
	For   time.Duration // > 0
}

// ChargeUpdate is applied by Store.UpdateCharge when the charge is in one of the expected
// states (and, with IfAttempts, at the expected attempt). Empty strings and zero times
// leave a field as it is.
type ChargeUpdate struct {
	Status      ChargeStatus
	ImpUID      string
	FailReason  string
	FailCode    string
	PaidAt      time.Time
	AddAttempts int
	At          time.Time // becomes UpdatedAt
	// IfAttempts, when not 0, applies the update only while the charge's Attempts equals
	// it: what an attempt learnt is never written over a later attempt.
	IfAttempts int
	// Hold, when not nil, takes a fresh lease on the row for Hold.Owner; ReleaseClaim
	// clears the lease instead.
	Hold         *Lease
	ReleaseClaim bool
	// Refunded, when not nil, sets Charge.Refunded; ReceiptURL, when not "", sets
	// Charge.ReceiptURL.
	Refunded   *int64
	ReceiptURL string
	// Note, when not "", is appended to the charge's Notes at At.
	Note string
}

// ClaimRequest asks for charges whose lease has run out.
type ClaimRequest struct {
	// Statuses are claimed when their lease ran out or they hold none (pending, charging,
	// unknown); Held only when they hold a lease that ran out (failed: a failure
	// awaiting its confirming lookup).
	Statuses []ChargeStatus
	Held     []ChargeStatus
	Lease    Lease // the claim: ClaimedBy = Lease.Owner until the store's clock + Lease.For
	Limit    int
}

// Errors a Store returns (wrapped is fine); core branches on them with errors.Is.
var (
	ErrNotFound  = errors.New("billkey: not found")
	ErrConflict  = errors.New("billkey: state changed concurrently")
	ErrDuplicate = errors.New("billkey: duplicate")
)

// Store keeps issuances, billing keys, charges, subscriptions, refunds and received
// notifications. Every method is safe for concurrent use
// and, for stores shared by several instances, across processes. Returned records are
// copies the caller may keep. Times are stored with at least millisecond precision, in UTC.
type Store interface {
	Subscriptions
	Refunds
	Inbox
	Search

	// CreateIssuance inserts a new issuance. ErrDuplicate if its merchant_uid or
	// customer_uid exists.
	CreateIssuance(ctx context.Context, is *Issuance) error
	// GetIssuance finds an issuance by merchant_uid. ErrNotFound if none.
	GetIssuance(ctx context.Context, merchantUID string) (*Issuance, error)
	// GetIssuanceByCustomerUID finds an issuance by customer_uid. ErrNotFound if none.
	GetIssuanceByCustomerUID(ctx context.Context, customerUID string) (*Issuance, error)
	// GetIssuanceByImpUID finds the issuance whose ImpUID is impUID. ErrNotFound if none (and for "").
	GetIssuanceByImpUID(ctx context.Context, impUID string) (*Issuance, error)
	// SettleIssuance moves a pending issuance to to.Status (issued, failed or expired),
	// copying ImpUID, FailReason, CardName, CardNumber, ChargeMerchantUID and UpdatedAt
	// from to. ErrConflict if it is not pending any more; ErrDuplicate if ImpUID belongs
	// to another issuance; ErrNotFound if none. When to.Status is issued and key is not nil
	// the user's billing key is replaced by key in the same transaction, and the replaced
	// key (if any, and if its customer_uid differs) is returned.
	SettleIssuance(ctx context.Context, merchantUID string, to *Issuance, key *BillingKey) (replaced *BillingKey, err error)
	// ExpirePendingIssuances marks pending issuances with ExpiresAt <= now as expired and
	// returns them (at most limit).
	ExpirePendingIssuances(ctx context.Context, now time.Time, limit int) ([]*Issuance, error)
	// PendingIssuance returns the user's newest pending issuance for planID ("" for none)
	// whose ExpiresAt is after notBefore. ErrNotFound if there is none.
	PendingIssuance(ctx context.Context, userID, planID string, notBefore time.Time) (*Issuance, error)
	// OrphanIssuances returns up to limit issuances, oldest first, that ended failed or
	// expired with UpdatedAt < before and KeyRemoved false, leaving out any whose
	// customer_uid is some user's billing key.
	OrphanIssuances(ctx context.Context, before time.Time, limit int) ([]*Issuance, error)
	// MarkKeyRemoved sets KeyRemoved on a failed or expired issuance. ErrNotFound if there
	// is none; ErrConflict if it is not failed or expired.
	MarkKeyRemoved(ctx context.Context, merchantUID string) error
	// PurgeIssuances deletes up to limit issuances that ended failed or expired with
	// UpdatedAt < before and KeyRemoved set, and returns how many it deleted.
	PurgeIssuances(ctx context.Context, before time.Time, limit int) (int, error)

	// GetBillingKey returns the user's key. ErrNotFound if none.
	GetBillingKey(ctx context.Context, userID string) (*BillingKey, error)
	// DeleteBillingKey removes the user's key if its customer_uid is customerUID.
	// ErrNotFound otherwise.
	DeleteBillingKey(ctx context.Context, userID, customerUID string) error

	// CreateCharge inserts c, holding hold's lease on it, unless the user already has a
	// charge with c.IdempotencyKey, in which case it returns that charge and
	// created=false (and c is not stored). ErrDuplicate if c.MerchantUID exists under
	// another idempotency key.
	CreateCharge(ctx context.Context, c *Charge, hold Lease) (stored *Charge, created bool, err error)
	// CreateKeyedCharge is CreateCharge for a charge on the user's billing key: c is stored
	// with the CustomerUID of c.UserID's key as it is when the row is written (c.CustomerUID
	// is ignored). The user's charge with c.IdempotencyKey, if any, is returned first
	// (created=false), whether or not the user still has a key; otherwise ErrNotFound if
	// the user has no key.
	CreateKeyedCharge(ctx context.Context, c *Charge, hold Lease) (stored *Charge, created bool, err error)
	// GetCharge finds a charge by merchant_uid. ErrNotFound if none.
	GetCharge(ctx context.Context, merchantUID string) (*Charge, error)
	// GetChargeByIdempotencyKey finds the user's charge created with idempotency key key.
	// ErrNotFound if none (another user's charge with the same key is never found).
	GetChargeByIdempotencyKey(ctx context.Context, userID, key string) (*Charge, error)
	// GetChargeByImpUID finds the charge whose ImpUID is impUID. ErrNotFound if none (and for "").
	GetChargeByImpUID(ctx context.Context, impUID string) (*Charge, error)
	// ListCharges returns the user's charges, newest first, at most limit.
	ListCharges(ctx context.Context, userID string, limit int) ([]*Charge, error)
	// UpdateCharge applies u if the charge's status is one of from and, when u.IfAttempts
	// is set, its Attempts equals it (compare-and-set), and returns the updated charge.
	// ErrConflict if the condition fails; ErrNotFound if no such charge; ErrDuplicate if
	// u.ImpUID belongs to another charge.
	UpdateCharge(ctx context.Context, merchantUID string, from []ChargeStatus, u ChargeUpdate) (*Charge, error)
	// ClaimCharges claims up to req.Limit charges in req.Statuses whose lease has run out
	// by the store's clock (or that hold none), or in req.Held whose lease has run out,
	// taking req.Lease on each. Concurrent
	// callers (goroutines or instances) never receive the same row while a lease holds.
	// Oldest lease first.
	ClaimCharges(ctx context.Context, req ClaimRequest) ([]*Charge, error)
}
