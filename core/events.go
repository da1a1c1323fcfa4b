package core

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/billkey/billkey/event"
)

// maxMismatchSeen bounds the per-process memory used to report each payment mismatch once.
const maxMismatchSeen = 4096

// emit hands e to the configured sink, after the state change that caused it was
// committed. A panicking sink is contained and logged: it must not undo or repeat the
// state change.
func (s *Service) emit(ctx context.Context, e event.Event) {
	e.Reason = scrub(e.Reason)
	s.log.LogAttrs(ctx, slog.LevelInfo, "billkey: event",
		slog.String("kind", string(e.Kind)),
		slog.String("merchant_uid", e.MerchantUID),
		slog.String("imp_uid", e.ImpUID),
		slog.Int64("amount", e.Amount),
		slog.String("reason", e.Reason))
	if s.events == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "billkey: event sink panicked",
				slog.String("kind", string(e.Kind)),
				slog.String("panic", scrub(fmt.Sprint(r))))
		}
	}()
	s.events.Handle(ctx, e)
}

// emitMismatch reports a payment whose iamport record disagrees with ours, once per
// (merchant_uid, imp_uid, reason) in this process: a webhook resent a hundred times
// raises one event.
func (s *Service) emitMismatch(ctx context.Context, e event.Event) {
	e.Kind = event.PaymentMismatch
	key := e.MerchantUID + "\x00" + e.ImpUID + "\x00" + e.Reason
	s.mismatchMu.Lock()
	_, seen := s.mismatchSeen[key]
	if !seen {
		if len(s.mismatchSeen) >= maxMismatchSeen {
			clear(s.mismatchSeen)
		}
		s.mismatchSeen[key] = struct{}{}
	}
	s.mismatchMu.Unlock()
	if seen {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: payment mismatch",
		slog.String("merchant_uid", e.MerchantUID),
		slog.String("imp_uid", e.ImpUID),
		slog.String("reason", scrub(e.Reason)))
	s.emit(ctx, e)
}
