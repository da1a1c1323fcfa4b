package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// webhookReply is the body of a 200 webhook answer.
type webhookReply struct {
	Status string `json:"status"`
}

// POST /webhook: iamport's notification. Every notification received is logged once,
// with the ids it named, what became of it and where it came from.
func (rt *router) webhook(w Response, r Request) {
	const route = "POST " + PatternWebhook
	n, result, err := rt.applyWebhook(r)
	rt.logWebhook(r, n, result, err)
	switch result {
	case "ok", "ignored":
		writeJSONBody(w, http.StatusOK, webhookReply{Status: result})
	default:
		rt.fail(w, r, route, err)
	}
}

// applyWebhook checks the source and the body, applies the notification within
// WebhookTimeout and says how it ended: "ok" (processed, or a duplicate), "ignored" (it
// names nothing a resend could change) or "error" with the error to answer.
func (rt *router) applyWebhook(r Request) (core.Notification, string, error) {
	var n core.Notification
	if err := checkSource(r, rt.env.allow, rt.env.hops); err != nil {
		return n, "error", err
	}
	ct := r.Header().Get("Content-Type")
	if mt := bodyMediaType(ct); mt != mediaJSON && mt != mediaForm {
		return n, "error", unsupportedMedia("Send application/json or application/x-www-form-urlencoded.")
	}
	body, err := readCappedBody(r, rt.env.maxBody)
	if err != nil {
		return n, "error", err
	}
	if n, err = ParseNotification(ct, body); err != nil {
		return n, "error", err
	}
	ctx, cancel := context.WithTimeout(routeContext(r), webhookTimeout)
	defer cancel()
	err = rt.s.ApplyNotification(ctx, n)
	if err == nil {
		return n, "ok", nil
	}
	p := ProblemFor(err)
	switch {
	case ctx.Err() != nil && p.Status < 500:
		// The deadline (or the caller) ended the work: a resend can finish it.
		return n, "error", &core.Error{Code: codes.UpstreamUnavailable, Err: err}
	case p.Status >= 500 || p.Code == codes.InvalidRequest:
		return n, "error", err
	}
	// Names nothing we can act on (an unknown payment, a mismatch already reported as an
	// event): a resend would change nothing.
	return n, "ignored", nil
}

// logWebhook writes the one line a received notification leaves.
func (rt *router) logWebhook(r Request, n core.Notification, result string, err error) {
	if rt.env.logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("imp_uid", n.ImpUID),
		slog.String("merchant_uid", n.MerchantUID),
		slog.String("status", n.Status),
		slog.String("result", result),
		slog.String("source", webhookSource(r, rt.env.hops)),
	}
	level := slog.LevelInfo
	if err != nil {
		p := ProblemFor(err)
		attrs = append(attrs, slog.String("code", p.Code), slog.Int("http_status", p.Status))
		if p.Status >= 500 {
			level = slog.LevelWarn
		}
	}
	rt.env.logger.LogAttrs(routeContext(r), level, "billkey: webhook received", attrs...)
}

// webhookSource is the address a notification came from, as the allowlist sees it.
func webhookSource(r Request, hops int) string {
	if a, err := SourceAddr(r, hops); err == nil {
		return a.String()
	}
	return r.RemoteAddr()
}
