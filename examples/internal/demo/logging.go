package demo

import (
	"context"
	"io"
	"log/slog"
)

// webhookReceivedMessage is the line billkey's HTTP layer writes at Info for every
// notification its webhook route receives (ids, result, source).
const webhookReceivedMessage = "billkey: webhook received"

// serviceLogHandler is the handler of the logger billkey gets: its warnings and errors,
// and of its Info lines only the one per webhook received. The demo prints billkey's
// events itself (logEvent), so the rest of billkey's Info lines would say everything
// twice.
func serviceLogHandler(out io.Writer) slog.Handler {
	return &passBelow{
		Handler: slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}),
		min:     slog.LevelWarn,
		pass:    map[string]bool{webhookReceivedMessage: true},
	}
}

// passBelow drops records below min unless their message is one of pass. Enabled cannot
// see the message, so records down to the inner handler's level are built and filtered
// in Handle.
type passBelow struct {
	slog.Handler
	min  slog.Level
	pass map[string]bool
}

func (h *passBelow) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min && !h.pass[r.Message] {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *passBelow) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &passBelow{Handler: h.Handler.WithAttrs(attrs), min: h.min, pass: h.pass}
}

func (h *passBelow) WithGroup(name string) slog.Handler {
	return &passBelow{Handler: h.Handler.WithGroup(name), min: h.min, pass: h.pass}
}
