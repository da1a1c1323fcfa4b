package core

import (
	"context"
	"log/slog"
	"time"
)

// Health is what a readiness probe needs to know.
type Health struct {
	// Ready is false when the store cannot be reached or the last token request failed
	// after the last one that succeeded.
	Ready bool `json:"ready"`
	// Store is "ok" or "unreachable" (the cause is logged, not shown: it may name hosts).
	Store string `json:"store"`
	// Token says whether a token is held and when the last request for one succeeded and
	// failed (iamport's own reasons are not repeated: they may be about the credentials).
	TokenValid       bool       `json:"token_valid"`
	TokenRefreshedAt *time.Time `json:"token_refreshed_at,omitempty"`
	TokenFailedAt    *time.Time `json:"token_failed_at,omitempty"`
	// OpenCharges counts charges not settled yet; OldestOpen is how old the oldest is.
	// Charges older than a few ReconcileAfter mean the reconciler is not running.
	OpenCharges int           `json:"open_charges"`
	OldestOpen  time.Duration `json:"oldest_open_ns"`
	// Stuck is true when the oldest open charge is older than ten ReconcileAfter.
	Stuck     bool      `json:"stuck"`
	CheckedAt time.Time `json:"checked_at"`
}

// healthTimeout bounds a health check's store query.
const healthTimeout = 2 * time.Second

// Health checks the store (one bounded query) and reports the token's state without
// fetching a token: cheap enough for a probe every few seconds.
func (s *Service) Health(ctx context.Context) Health {
	h := Health{Store: "ok", CheckedAt: s.now()}
	qctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	n, oldest, err := s.store.OpenCharges(qctx)
	if err != nil {
		h.Store = "unreachable"
		s.log.LogAttrs(ctx, slog.LevelWarn, "billkey: health check: store unreachable", slog.String("error", errText(err)))
	} else {
		h.OpenCharges = n
		if !oldest.IsZero() {
			h.OldestOpen = max(h.CheckedAt.Sub(oldest), 0)
		}
	}
	st := s.client.TokenState()
	h.TokenValid = st.Valid
	h.TokenRefreshedAt, h.TokenFailedAt = timePtr(st.FetchedAt), timePtr(st.LastErrorAt)
	tokenFailing := !st.LastErrorAt.IsZero() && st.LastErrorAt.After(st.FetchedAt)
	h.Stuck = h.OldestOpen > 10*s.cfg.ReconcileAfter
	h.Ready = err == nil && !tokenFailing
	return h
}
