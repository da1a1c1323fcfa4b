package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/billkey/billkey/store"
)

// inbox is the Store's received notifications, guarded by Store.mu.
type inbox struct {
	byID  map[string]*store.InboxEntry
	byKey map[string]string // key -> id
}

func (x *inbox) init() {
	if x.byID == nil {
		x.byID = make(map[string]*store.InboxEntry)
		x.byKey = make(map[string]string)
	}
}

var errInboxEntry = errors.New("memstore: inbox entry without id or key")

// RecordNotification inserts e, or counts one more copy of the entry with its key.
func (s *Store) RecordNotification(ctx context.Context, e *store.InboxEntry) (*store.InboxEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if e == nil || e.ID == "" || e.Key == "" {
		return nil, false, errInboxEntry
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.inbox.byKey[e.Key]; ok {
		cur := s.inbox.byID[id]
		cur.Count++
		if at := utc(e.ReceivedAt); at.After(cur.LastAt) {
			cur.LastAt = at
		}
		return clone(cur), false, nil
	}
	if _, ok := s.inbox.byID[e.ID]; ok {
		return nil, false, fmt.Errorf("memstore: inbox id: %w", store.ErrDuplicate)
	}
	n := clone(e)
	n.ReceivedAt, n.AppliedAt = utc(n.ReceivedAt), utc(n.AppliedAt)
	n.LastAt, n.Count = n.ReceivedAt, 1
	if n.Result == "" {
		n.Result = store.InboxReceived
	}
	s.inbox.byID[n.ID] = n
	s.inbox.byKey[n.Key] = n.ID
	return clone(n), true, nil
}

// SetNotificationResult records what applying entry id did.
func (s *Store) SetNotificationResult(ctx context.Context, id, result, errText string, at time.Time) (*store.InboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.inbox.byID[id]
	if !ok {
		return nil, notFound("inbox entry")
	}
	e.Result, e.Error, e.AppliedAt = result, errText, utc(at)
	return clone(e), nil
}

// GetNotification returns a copy of entry id.
func (s *Store) GetNotification(ctx context.Context, id string) (*store.InboxEntry, error) {
	return get(ctx, s, "inbox entry", s.inbox.byID, nil, id)
}

// ListNotifications returns the entries q selects, newest first.
func (s *Store) ListNotifications(ctx context.Context, q store.InboxQuery) (store.InboxPage, error) {
	if err := ctx.Err(); err != nil {
		return store.InboxPage{}, err
	}
	if err := checkLimit(q.Limit); err != nil {
		return store.InboxPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []*store.InboxEntry
	for _, e := range s.inbox.byID {
		if (q.MerchantUID == "" || e.MerchantUID == q.MerchantUID) &&
			(q.ImpUID == "" || e.ImpUID == q.ImpUID) &&
			(len(q.Results) == 0 || slices.Contains(q.Results, e.Result)) &&
			afterCursor(q.After, e.ReceivedAt, e.ID) {
			rows = append(rows, e)
		}
	}
	slices.SortFunc(rows, func(a, b *store.InboxEntry) int {
		return newestFirst(a.ReceivedAt, a.ID, b.ReceivedAt, b.ID)
	})
	rows, next := page(rows, q.Limit, func(e *store.InboxEntry) (time.Time, string) { return e.ReceivedAt, e.ID })
	out := make([]*store.InboxEntry, len(rows))
	for i, e := range rows {
		out[i] = clone(e)
	}
	return store.InboxPage{Entries: out, Next: next}, nil
}

// PurgeNotifications deletes up to limit entries last received before before.
func (s *Store) PurgeNotifications(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, e := range s.inbox.byID {
		if n >= limit {
			break
		}
		if e.LastAt.Before(before) {
			delete(s.inbox.byID, id)
			delete(s.inbox.byKey, e.Key)
			n++
		}
	}
	return n, nil
}
