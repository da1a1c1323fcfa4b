package store

import (
	"context"
	"time"
)

// InboxEntry is one notification (webhook) as received, before and after it was applied.
// Notifications saying the same thing (the same key: core makes it from the ids and the
// status) are one entry that counts them.
type InboxEntry struct {
	ID          string // unique; alphanumeric, made by core
	Key         string // unique: what deduplicates it
	ReceivedAt  time.Time
	LastAt      time.Time // when the latest copy arrived
	Count       int       // copies received
	Source      string    // the sender's address
	ContentType string
	ImpUID      string
	MerchantUID string
	Status      string // the status it carried
	// Result is what applying it did: "received" (not applied yet), "applied",
	// "ignored" (nothing of ours) or "failed"; Error says why it failed.
	Result    string
	Error     string
	AppliedAt time.Time
}

// Inbox results.
const (
	InboxReceived = "received"
	InboxApplied  = "applied"
	InboxIgnored  = "ignored"
	InboxFailed   = "failed"
)

// InboxQuery selects inbox entries; empty fields select everything. Limit is required
// (1 to MaxPageLimit).
type InboxQuery struct {
	MerchantUID string
	ImpUID      string
	Results     []string
	After       Cursor // by ReceivedAt and ID
	Limit       int
}

// InboxPage is one page of entries, newest ReceivedAt first.
type InboxPage struct {
	Entries []*InboxEntry
	Next    Cursor
}

// Inbox keeps received notifications.
type Inbox interface {
	// RecordNotification inserts e unless an entry with e.Key exists, in which case that
	// entry's Count grows by one and its LastAt becomes e.ReceivedAt if that is later (a
	// copy recorded out of order leaves it), and it is returned with created=false.
	// ErrDuplicate if e.ID exists under another key.
	RecordNotification(ctx context.Context, e *InboxEntry) (stored *InboxEntry, created bool, err error)
	// SetNotificationResult records what applying entry id did, at at. ErrNotFound if none.
	SetNotificationResult(ctx context.Context, id, result, errText string, at time.Time) (*InboxEntry, error)
	// GetNotification finds an entry by id. ErrNotFound if none.
	GetNotification(ctx context.Context, id string) (*InboxEntry, error)
	// ListNotifications returns the entries q selects, newest ReceivedAt first (then ID
	// descending), after q.After, at most q.Limit.
	ListNotifications(ctx context.Context, q InboxQuery) (InboxPage, error)
	// PurgeNotifications deletes up to limit entries whose LastAt is before before and
	// returns how many it deleted.
	PurgeNotifications(ctx context.Context, before time.Time, limit int) (int, error)
}
