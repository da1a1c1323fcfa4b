package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/billkey/billkey/store"
)

const inboxCols = "notification_id, dedupe_key, received_at, last_at, copies, source, content_type, " +
	"imp_uid, merchant_uid, status, result, error_text, applied_at"

// selectInbox is an inbox SELECT up to its WHERE condition.
const selectInbox = "SELECT " + inboxCols + " FROM billkey_inbox WHERE "

func scanInbox(r rowScanner) (*store.InboxEntry, error) {
	var e store.InboxEntry
	if err := r.Scan(&e.ID, &e.Key, timeCol{&e.ReceivedAt}, timeCol{&e.LastAt}, &e.Count, &e.Source,
		&e.ContentType, &e.ImpUID, &e.MerchantUID, &e.Status, &e.Result, &e.Error, timeCol{&e.AppliedAt}); err != nil {
		return nil, err
	}
	return &e, nil
}

// RecordNotification implements store.Store as one INSERT ... ON CONFLICT (dedupe_key) DO
// UPDATE that counts the copy and moves last_at to the later of the two arrivals, so
// copies racing each other are all counted; the row came from the insert when it counts
// one copy. An id taken under another key is a unique violation: ErrDuplicate.
func (s *Store) RecordNotification(ctx context.Context, e *store.InboxEntry) (*store.InboxEntry, bool, error) {
	if e == nil || e.ID == "" || e.Key == "" || e.ReceivedAt.IsZero() {
		return nil, false, errors.New("sqlstore: record notification: an entry needs an id, a key and a time of arrival")
	}
	d := s.dialect
	result := e.Result
	if result == "" {
		result = store.InboxReceived
	}
	later := "max"
	if d == Postgres {
		later = "GREATEST"
	}
	at := d.timeArg(e.ReceivedAt)
	stored, err := writeOne(ctx, s, "record notification", scanInbox, `INSERT INTO billkey_inbox (`+inboxCols+`)
VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dedupe_key) DO UPDATE SET copies = billkey_inbox.copies + 1,
last_at = `+later+`(billkey_inbox.last_at, excluded.last_at)
RETURNING `+inboxCols,
		e.ID, e.Key, at, at, e.Source, e.ContentType, e.ImpUID, e.MerchantUID, e.Status, result, e.Error,
		d.timeArg(e.AppliedAt))
	if err != nil {
		return nil, false, err
	}
	return stored, stored.Count == 1, nil
}

// SetNotificationResult implements store.Store.
func (s *Store) SetNotificationResult(ctx context.Context, id, result, errText string, at time.Time) (*store.InboxEntry, error) {
	return writeOne(ctx, s, "set notification result", scanInbox,
		"UPDATE billkey_inbox SET result = ?, error_text = ?, applied_at = ? WHERE notification_id = ? RETURNING "+inboxCols,
		result, errText, s.dialect.timeArg(at), id)
}

// GetNotification implements store.Store.
func (s *Store) GetNotification(ctx context.Context, id string) (*store.InboxEntry, error) {
	return queryOne(ctx, s, "get notification", scanInbox, selectInbox+"notification_id = ?", id)
}

// ListNotifications implements store.Store, from the indexes on (received_at,
// notification_id), (merchant_uid, ...) and (imp_uid, ...), each in the listing's order;
// the results are a filter on top.
func (s *Store) ListNotifications(ctx context.Context, q store.InboxQuery) (store.InboxPage, error) {
	l := &listing{op: "list notifications", table: "billkey_inbox", cols: inboxCols,
		timeCol: "received_at", idCol: "notification_id", order: inboxOrder, after: q.After, limit: q.Limit}
	l.filter("merchant_uid", q.MerchantUID)
	l.filter("imp_uid", q.ImpUID)
	if len(q.Results) > 0 {
		l.where = append(l.where, "result IN ("+placeholders(len(q.Results))+")")
		for _, r := range q.Results {
			l.args = append(l.args, r)
		}
	}
	rows, next, err := runListing(ctx, s, l, scanInbox,
		func(e *store.InboxEntry) (time.Time, string) { return e.ReceivedAt, e.ID })
	if err != nil {
		return store.InboxPage{}, err
	}
	return store.InboxPage{Entries: rows, Next: next}, nil
}

// PurgeNotifications implements store.Store: one DELETE of the entries whose latest copy
// is oldest, picked through the index on last_at (on PostgreSQL skipping rows another
// purge has locked).
func (s *Store) PurgeNotifications(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	pick := "SELECT id FROM billkey_inbox WHERE last_at < ? ORDER BY last_at LIMIT ?"
	query := "DELETE FROM billkey_inbox WHERE id IN (" + pick + ")"
	if s.dialect == Postgres {
		query = "DELETE FROM billkey_inbox WHERE id = ANY (ARRAY(" + pick + " FOR UPDATE SKIP LOCKED))"
	}
	n, err := writeExec(ctx, s, "purge notifications", query, s.dialect.timeArg(before), limit)
	return int(n), err
}
