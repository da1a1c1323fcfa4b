package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/billkey/billkey/store"
)

// A charge's history (store.Charge.Notes) says what moved it and why, one line per
// write: the operator's view of attempts, lookups, webhooks and refunds. Each line names
// its source, carried in the context from the entry point that started the work.

type sourceKey struct{}

// Sources of charge history lines.
const (
	srcRequest    = "request"
	srcWebhook    = "webhook"
	srcReconciler = "reconciler"
	srcRenewal    = "renewal"
	srcIssuance   = "issuance"
)

// withSource marks ctx's work as coming from src, unless it already has a source.
func withSource(ctx context.Context, src string) context.Context {
	if _, ok := ctx.Value(sourceKey{}).(string); ok {
		return ctx
	}
	return context.WithValue(ctx, sourceKey{}, src)
}

// sourceOf is the source ctx's work comes from.
func sourceOf(ctx context.Context) string {
	if src, ok := ctx.Value(sourceKey{}).(string); ok {
		return src
	}
	return "go"
}

// chargeNote is the history line of update u, written by ctx's source.
func chargeNote(ctx context.Context, u store.ChargeUpdate) string {
	var what []string
	if u.Note != "" {
		what = append(what, u.Note)
	}
	if u.AddAttempts > 0 {
		what = append(what, "attempt started, sending again")
	}
	switch u.Status {
	case "":
	case store.ChargeFailed:
		what = append(what, "failed: "+withReason(u.FailCode, u.FailReason))
	case store.ChargeUnknown:
		what = append(what, "outcome unknown")
	case store.ChargeCharging:
	default:
		s := string(u.Status)
		if u.ImpUID != "" {
			s += " (imp_uid " + u.ImpUID + ")"
		}
		what = append(what, s)
	}
	switch {
	case len(what) > 0:
	case u.Hold != nil:
		what = append(what, "looked up: not settled yet, asked again later")
	case u.ReleaseClaim:
		what = append(what, "looked up: confirmed")
	default:
		return ""
	}
	return cleanText(scrub(fmt.Sprintf("%s: %s", sourceOf(ctx), strings.Join(what, "; "))), store.MaxNoteLen)
}
