package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// The webhook inbox: every notification that passes the id rules is stored before it is
// applied, with what applying it did, so an operator can see what iamport said and
// apply it again. Copies saying the same thing (the same ids and status) are one entry
// that counts them; entries are purged after Config.InboxRetention.

// prefixInbox starts every inbox entry id.
const prefixInbox = "bkw"

// notificationKey is what deduplicates a notification: its ids and status.
func notificationKey(n Notification) string {
	h := sha256.Sum256([]byte(n.ImpUID + "\\x00" + n.MerchantUID + "\\x00" + n.Status + "\\x00" + n.CancellationID))
	return hex.EncodeToString(h[:16])
}

// recordNotification stores n in the inbox (or counts one more copy of it) and reports
// whether it is new.
func (s *Service) recordNotification(ctx context.Context, n Notification) (*store.InboxEntry, bool, error) {
	now := s.now()
	e := &store.InboxEntry{
		ID: newMerchantUID(prefixInbox, now), Key: notificationKey(n), ReceivedAt: now,
		Source: cleanText(n.From, 64), ContentType: cleanText(n.ContentType, 100),
		ImpUID: n.ImpUID, MerchantUID: n.MerchantUID, Status: n.Status, Result: store.InboxReceived,
	}
	stored, created, err := s.store.RecordNotification(ctx, e)
	if err == nil && stored == nil {
		err = errors.New("store returned no entry")
	}
	if err != nil {
		return nil, false, s.storeErr(ctx, "record notification", err)
	}
	return stored, created, nil
}

// noteResult records what applying an inbox entry did. A failure to record it is only
// logged: the notification itself was applied (or not) either way.
func (s *Service) noteResult(ctx context.Context, e *store.InboxEntry, result string, err error) {
	text := ""
	if err != nil {
		result, text = store.InboxFailed, cleanText(scrub(err.Error()), 200)
	}
	wctx, cancel := afterwards(ctx)
	defer cancel()
	if _, serr := s.store.SetNotificationResult(wctx, e.ID, result, text, s.now()); serr != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: could not record a notification's result",
			slog.String("notification", e.ID), slog.String("error", errText(serr)))
	}
}

// NotificationView is one inbox entry as an operator sees it.
type NotificationView struct {
	ID          string     `json:"id"`
	ReceivedAt  time.Time  `json:"received_at"`
	LastAt      time.Time  `json:"last_at"`
	Count       int        `json:"count"`
	Source      string     `json:"source,omitempty"`
	ContentType string     `json:"content_type,omitempty"`
	ImpUID      string     `json:"imp_uid,omitempty"`
	MerchantUID string     `json:"merchant_uid,omitempty"`
	Status      string     `json:"status,omitempty"`
	Result      string     `json:"result"` // received, applied, ignored or failed
	Error       string     `json:"error,omitempty"`
	AppliedAt   *time.Time `json:"applied_at,omitempty"`
}

func notificationView(e *store.InboxEntry) NotificationView {
	return NotificationView{ID: e.ID, ReceivedAt: e.ReceivedAt, LastAt: e.LastAt, Count: e.Count,
		Source: e.Source, ContentType: e.ContentType, ImpUID: e.ImpUID, MerchantUID: e.MerchantUID,
		Status: e.Status, Result: e.Result, Error: e.Error, AppliedAt: timePtr(e.AppliedAt)}
}

// Notifications lists the inbox, newest first, a page at a time: those naming
// merchantUID when it is not "", after the cursor (from the previous page's Next).
func (s *Service) Notifications(ctx context.Context, merchantUID, cursor string, limit int) ([]NotificationView, string, error) {
	after, e := parseCursor(cursor)
	if e != nil {
		return nil, "", e
	}
	if merchantUID != "" && !idrule.MerchantUID.Valid(merchantUID) {
		return nil, "", errInvalid("merchant_uid is malformed")
	}
	page, err := s.store.ListNotifications(ctx, store.InboxQuery{MerchantUID: merchantUID, After: after, Limit: pageLimit(limit)})
	if err != nil {
		return nil, "", s.storeErr(ctx, "list notifications", err)
	}
	out := make([]NotificationView, len(page.Entries))
	for i, e := range page.Entries {
		out[i] = notificationView(e)
	}
	return out, page.Next.String(), nil
}

// ReapplyNotification applies a stored notification again, as if iamport had sent it
// now (re-fetching the payment), for an operator who fixed what made it fail.
func (s *Service) ReapplyNotification(ctx context.Context, operator, id string) (*NotificationView, error) {
	ctx = withSource(ctx, "webhook re-applied by "+cleanText(operator, 40))
	if !idrule.UserID.Valid(operator) {
		return nil, errInvalid("the operator is required")
	}
	if !idrule.NotificationID.Valid(id) {
		return nil, errNotFound("no such notification")
	}
	e, err := s.store.GetNotification(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound("no such notification")
	}
	if err != nil {
		return nil, s.storeErr(ctx, "get notification", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: notification re-applied",
		slog.String("notification", id), slog.String("operator", cleanText(operator, 64)))
	n := Notification{ImpUID: e.ImpUID, MerchantUID: e.MerchantUID, Status: e.Status}
	result, aerr := s.applyNotification(ctx, n, true)
	s.noteResult(ctx, e, result, aerr)
	cur, err := s.store.GetNotification(ctx, id)
	if err != nil {
		return nil, s.storeErr(ctx, "get notification", err)
	}
	v := notificationView(cur)
	return &v, aerr
}

// iamport delivers a webhook once unless the merchant asked for retries, so a notification
// that failed to apply (iamport's lookup failed, the store was down) would leave its charge
// as it was, such as paid after a refund in iamport's console. The reconciler applies such
// notifications again, each after waiting as long as it has been failing (at least
// notificationRetryMin), for notificationRetryWindow after it arrived.
const (
	notificationRetryMin    = time.Minute
	notificationRetryWindow = 24 * time.Hour
)

// retryFailedNotifications applies again the failed notifications whose wait is over,
// newest first, at most one page of them per sweep.
func (s *Service) retryFailedNotifications(ctx context.Context, rep *ReconcileReport) error {
	page, err := s.store.ListNotifications(ctx, store.InboxQuery{Results: []string{store.InboxFailed}, Limit: purgeBatch})
	if err != nil {
		return s.storeErr(ctx, "list failed notifications", err)
	}
	now := s.now()
	ctx = withSource(ctx, "webhook retried by the reconciler")
	for _, e := range page.Entries {
		if now.Sub(e.ReceivedAt) > notificationRetryWindow {
			break // newest first: the rest are older still
		}
		if now.Sub(e.AppliedAt) < max(e.AppliedAt.Sub(e.ReceivedAt), notificationRetryMin) {
			continue
		}
		n := Notification{ImpUID: e.ImpUID, MerchantUID: e.MerchantUID, Status: e.Status}
		result, aerr := s.applyNotification(ctx, n, true)
		s.noteResult(ctx, e, result, aerr)
		if aerr == nil {
			rep.NotificationsRetried++
		}
	}
	return nil
}

// purgeNotifications deletes inbox entries older than the retention.
func (s *Service) purgeNotifications(ctx context.Context, rep *ReconcileReport) error {
	n, err := s.store.PurgeNotifications(ctx, s.now().Add(-s.cfg.InboxRetention), purgeBatch)
	if err != nil {
		return s.storeErr(ctx, "purge notifications", err)
	}
	rep.NotificationsPurged = n
	return nil
}
