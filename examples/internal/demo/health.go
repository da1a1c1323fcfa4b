package demo

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/billkey/billkey/iamport"
)

// healthTimeout bounds the checks of one health request.
const healthTimeout = 3 * time.Second

// healthReport is the body of GET /healthz.
type healthReport struct {
	// Status is "ok" when every check passed, otherwise "unavailable" (HTTP 503).
	Status string `json:"status"`
	Mode   string `json:"mode"` // sandbox or live
	// Store is "ok" when the database answered a ping.
	Store string `json:"store"`
	// UpstreamLock (PostgreSQL only) is "held" while the connection holding the lock that
	// keeps a private fake alone on the database is open, "lost" otherwise.
	UpstreamLock string `json:"upstream_lock,omitempty"`
	// IAMPort is the state of the access token: the client fetches one at its first call
	// and refreshes it before it expires.
	IAMPort tokenReport `json:"iamport"`
}

// tokenReport is what the health endpoint shows of the iamport client's token.
type tokenReport struct {
	Valid bool `json:"token_valid"`
	// LastRefresh is when the last token request that succeeded was sent.
	LastRefresh *time.Time `json:"last_refresh,omitempty"`
	// LastFailure is when the last token request that failed was sent. One later than
	// LastRefresh makes the example unavailable: iamport refuses or does not answer.
	LastFailure *time.Time `json:"last_failure,omitempty"`
}

func tokenReportOf(st iamport.TokenState) (tokenReport, bool) {
	r := tokenReport{Valid: st.Valid}
	if !st.FetchedAt.IsZero() {
		t := st.FetchedAt.UTC()
		r.LastRefresh = &t
	}
	if !st.LastErrorAt.IsZero() {
		t := st.LastErrorAt.UTC()
		r.LastFailure = &t
	}
	failing := !st.LastErrorAt.IsZero() && st.LastErrorAt.After(st.FetchedAt)
	return r, !failing
}

// GET /healthz: whether the example can work, for a load balancer or a person: the store
// answers a ping, the lock (PostgreSQL) is held, and the last token request to iamport did
// not fail; 200 when all hold, 503 otherwise. It names no host, DSN or error text, and
// never asks iamport itself.
func (a *App) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	rep := healthReport{Status: "ok", Mode: a.cfg.Mode.String(), Store: "ok"}
	if err := a.db.PingContext(ctx); err != nil {
		rep.Store, rep.Status = "unreachable", "unavailable"
	}
	var tokenOK bool
	if rep.IAMPort, tokenOK = tokenReportOf(a.client.TokenState()); !tokenOK {
		rep.Status = "unavailable"
	}
	if a.lock != nil {
		rep.UpstreamLock = "held"
		if err := a.lock.ping(ctx); err != nil {
			rep.UpstreamLock, rep.Status = "lost", "unavailable"
		}
	}
	status := http.StatusOK
	if rep.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	body, _ := json.Marshal(rep) // strings only: cannot fail
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
