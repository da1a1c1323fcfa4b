package store

import (
	"context"
	"time"
)

// RefundStatus is the state of one refund. sending -> succeeded | failed | unknown;
// unknown -> succeeded | failed, decided by looking the payment's cancellations up at
// iamport, never by sending again. Moved only by compare-and-set (UpdateRefund).
type RefundStatus string

// Refund states.
const (
	RefundSending   RefundStatus = "sending" // committed before the cancel is sent
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
	RefundUnknown   RefundStatus = "unknown" // sent, outcome not known
)

// Refund is one request to give back part or all of a paid charge. Its row is committed,
// holding a lease, before the cancel is sent.
type Refund struct {
	ID             string // unique; alphanumeric, made by core
	MerchantUID    string // the charge refunded
	UserID         string
	IdempotencyKey string // unique per charge: the request that asked for it
	Amount         int64
	// Checksum is the refundable amount core believed when it sent the cancel (sent as
	// iamport's checksum, so two refunds of one balance can never both go through).
	Checksum   int64
	Reason     string
	Operator   string // who asked for it
	Status     RefundStatus
	FailReason string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// ClaimedBy and ClaimedUntil are the lease, on the store's clock.
	ClaimedBy    string
	ClaimedUntil time.Time
}

// RefundUpdate is applied by UpdateRefund when the refund is in one of the expected
// states. Empty strings leave a field as it is.
type RefundUpdate struct {
	Status       RefundStatus
	FailReason   string
	At           time.Time // becomes UpdatedAt
	Hold         *Lease    // a fresh lease, or
	ReleaseClaim bool      // none
}

// Refunds keeps refunds.
type Refunds interface {
	// CreateRefund inserts r, holding hold's lease on it, unless the charge already has a
	// refund with r.IdempotencyKey, in which case it returns that one and created=false.
	// ErrDuplicate if r.ID exists.
	CreateRefund(ctx context.Context, r *Refund, hold Lease) (stored *Refund, created bool, err error)
	// GetRefund finds a refund by id. ErrNotFound if none.
	GetRefund(ctx context.Context, id string) (*Refund, error)
	// ListRefunds returns the charge's refunds, oldest first.
	ListRefunds(ctx context.Context, merchantUID string) ([]*Refund, error)
	// UpdateRefund applies u if the refund's status is one of from (compare-and-set) and
	// returns it. ErrConflict if not; ErrNotFound if none.
	UpdateRefund(ctx context.Context, id string, from []RefundStatus, u RefundUpdate) (*Refund, error)
	// ClaimRefunds claims up to limit refunds in statuses whose lease has run out by the
	// store's clock (or that hold none), oldest lease first, taking lease on each.
	ClaimRefunds(ctx context.Context, statuses []RefundStatus, lease Lease, limit int) ([]*Refund, error)
}
