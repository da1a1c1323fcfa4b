package store

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Cursor marks where a page of a listing ended: the CreatedAt and id of its last row.
// Listings run newest first (CreatedAt descending, then id descending), so the next page
// holds the rows strictly after the cursor in that order. The zero Cursor is the start.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// ErrBadCursor is returned by ParseCursor for a string it did not make.
var ErrBadCursor = errors.New("billkey: malformed cursor")

// IsZero reports whether c is the start of a listing.
func (c Cursor) IsZero() bool { return c.ID == "" && c.CreatedAt.IsZero() }

// String encodes c as an opaque URL-safe token ("" for the zero Cursor).
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	raw := strconv.FormatInt(c.CreatedAt.UnixNano(), 36) + "." + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// maxCursorLen bounds a token before it is decoded.
const maxCursorLen = 200

// ParseCursor decodes a token made by Cursor.String ("" is the zero Cursor).
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	if len(s) > maxCursorLen {
		return Cursor{}, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	if !ok || id == "" || !alnum(id) {
		return Cursor{}, ErrBadCursor
	}
	ns, err := strconv.ParseInt(ts, 36, 64)
	if err != nil || ns <= 0 {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{CreatedAt: time.Unix(0, ns).UTC(), ID: id}, nil
}

// alnum reports whether s is ASCII letters and digits only, as every id billkey makes.
func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// ChargeQuery selects charges across users; empty fields select everything. Limit is
// required (1 to 500).
type ChargeQuery struct {
	UserID         string
	Statuses       []ChargeStatus
	From, To       time.Time // CreatedAt in [From, To); zero = unbounded
	MerchantUID    string
	ImpUID         string
	SubscriptionID string
	After          Cursor
	Limit          int
}

// ChargePage is one page of charges, newest first; Next is the cursor of the next page,
// zero when this is the last.
type ChargePage struct {
	Charges []*Charge
	Next    Cursor
}

// SubscriptionQuery selects subscriptions across users; empty fields select everything.
// Limit is required (1 to 500).
type SubscriptionQuery struct {
	UserID   string
	Statuses []SubscriptionStatus
	After    Cursor
	Limit    int
}

// SubscriptionPage is one page of subscriptions, newest CreatedAt first.
type SubscriptionPage struct {
	Subscriptions []*Subscription
	Next          Cursor
}

// MaxPageLimit is the largest Limit a query may ask for.
const MaxPageLimit = 500

// Search lists records across users, a page at a time. A page costs the same however
// many rows the store holds: stores serve each query from an index in its order.
type Search interface {
	// SearchCharges returns the charges q selects, newest CreatedAt first (then
	// MerchantUID descending), after q.After, at most q.Limit.
	SearchCharges(ctx context.Context, q ChargeQuery) (ChargePage, error)
	// SearchSubscriptions returns the subscriptions q selects, newest CreatedAt first
	// (then ID descending), after q.After, at most q.Limit.
	SearchSubscriptions(ctx context.Context, q SubscriptionQuery) (SubscriptionPage, error)
	// OpenCharges counts the charges not settled yet (pending, charging or unknown) and
	// returns the oldest one's CreatedAt (zero when there is none): what monitoring
	// alerts on.
	OpenCharges(ctx context.Context) (n int, oldest time.Time, err error)
}
