package demo

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// TimeMachinePath is the sandbox's time machine: GET reads the shop's time, POST
// {"step":"day"|"month"} moves it forward (the fake iamport's, the service's and the
// store's clocks together) and runs a sweep, so the page shows at once what the jump
// brought: renewals, declines, retries, subscriptions ending. Only in the sandbox, for a
// signed-in demo user, from this site.
const TimeMachinePath = "/sandbox/clock"

// travelTimeout bounds one jump with its sweep.
const travelTimeout = time.Minute

// Steps of the time machine.
const (
	StepDay   = "day"
	StepMonth = "month"
)

// stepLength is how far step moves the clock from now: a day, or a calendar month in the
// location billing periods are counted in (a month from January 31 is February 28).
func stepLength(step string, now time.Time, loc *time.Location) (time.Duration, bool) {
	switch step {
	case StepDay:
		return 24 * time.Hour, true
	case StepMonth:
		t := now.In(loc)
		y, m, d := t.Date()
		first := time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
		last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, loc).Day()
		h, mi, s := t.Clock()
		next := time.Date(first.Year(), first.Month(), min(d, last), h, mi, s, t.Nanosecond(), loc)
		return next.Sub(now), true
	}
	return 0, false
}

// SweepReport is what one sweep (core's Reconcile, then Renew) did, as the time machine
// answers it.
type SweepReport struct {
	Settled int `json:"settled"` // charges whose outcome the reconciler settled
	Charged int `json:"charged"` // renewal charges sent
	Renewed int `json:"renewed"` // periods started (renewed, recovered, trials converted)
	Failed  int `json:"failed"`  // renewal charges that failed
	Ended   int `json:"ended"`   // subscriptions that ended
}

// ClockState is the shop's time as the time machine shows it.
type ClockState struct {
	Now time.Time `json:"now"`
	// CanTravel is true in the sandbox, where the time machine exists.
	CanTravel bool         `json:"can_travel"`
	Sweep     *SweepReport `json:"sweep,omitempty"` // after a jump
}

// Now is the shop's time: the fake iamport's in the sandbox, the real time live.
func (a *App) Now() time.Time { return a.clock.Now() }

// HoldClock keeps the sandbox's clock from jumping while a request to path is served, and
// returns what releases it. Billing routes (the customer's, the callbacks, the staff's)
// may charge or refund; a jump in the middle would make the lease of the charge in
// flight look expired (see demoClock). Other paths, and live mode, hold nothing: the fake
// iamport must stay reachable during a jump, since the jump's sweep calls it through
// this server.
func (a *App) HoldClock(path string) (release func()) {
	for _, p := range []string{BillingPrefix, CallbackPrefix, AdminAPIPrefix} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return a.clock.hold()
		}
	}
	return func() {}
}

// Travel moves the sandbox's clock forward by one step once no billing request is in
// flight, then sweeps before any other request sees the new time.
func (a *App) Travel(ctx context.Context, step string) (ClockState, error) {
	d, ok := stepLength(step, a.clock.Now(), a.svc.Config().Subscriptions.Location)
	if !ok {
		return ClockState{}, errUnknownStep
	}
	var rep SweepReport
	err := a.clock.jump(ctx, d, func() { rep = a.sweep(ctx) })
	if err != nil {
		return ClockState{}, err
	}
	now := a.clock.Now()
	a.log.Info("demo: time machine", "step", step, "now", now.Format(time.RFC3339),
		"charged", rep.Charged, "renewed", rep.Renewed, "failed", rep.Failed, "ended", rep.Ended)
	return ClockState{Now: now, CanTravel: true, Sweep: &rep}, nil
}

// sweep runs one Reconcile and one Renew, as core's RunReconciler does each round.
func (a *App) sweep(ctx context.Context) SweepReport {
	var out SweepReport
	rec, err := a.svc.Reconcile(ctx)
	if err != nil && ctx.Err() == nil {
		a.log.Warn("demo: reconcile sweep failed", "code", core.ErrorCode(err))
	}
	out.Settled = rec.Paid + rec.Failed + rec.Cancelled
	ren, err := a.svc.Renew(ctx)
	if err != nil && ctx.Err() == nil {
		a.log.Warn("demo: renewal sweep failed", "code", core.ErrorCode(err))
	}
	out.Charged, out.Renewed, out.Failed, out.Ended = ren.Charged, ren.Renewed, ren.Failed, ren.Ended
	return out
}

// RunReconciler sweeps (Reconcile, then Renew) now and every half ReconcileAfter until
// ctx ends, as core's RunReconciler does, but holding the clock for each sweep so a time
// machine jump never lands in the middle of one.
func (a *App) RunReconciler(ctx context.Context) {
	t := time.NewTicker(max(a.svc.Config().ReconcileAfter/2, time.Second))
	defer t.Stop()
	for {
		release := a.clock.hold()
		a.sweep(ctx)
		release()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errUnknownStep: Travel takes StepDay or StepMonth.
var errUnknownStep = errors.New(`demo: the step must be "day" or "month"`)

// clockBody is the body of a POST to TimeMachinePath.
type clockBody struct {
	Step string `json:"step"`
}

// GET and POST TimeMachinePath.
func (a *App) timeMachine(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.sessions.userFromRequest(r); !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"code": codes.Unauthenticated})
		return
	}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, ClockState{Now: a.clock.Now(), CanTravel: a.clock.canTravel()})
		return
	}
	if a.crossSite(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"code": "cross_site_request"})
		return
	}
	var body clockBody
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") ||
		json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": codes.InvalidRequest})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), travelTimeout)
	defer cancel()
	st, err := a.Travel(ctx, body.Step)
	switch {
	case errors.Is(err, errUnknownStep):
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": codes.InvalidRequest})
		return
	case err != nil:
		// A shared fake that does not answer its clock control route.
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "demo: the time machine could not move the clock", slog.String("error", err.Error()))
		writeJSON(w, http.StatusBadGateway, map[string]string{"code": codes.UpstreamUnavailable})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// writeJSON answers v as JSON, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"code":"internal"}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
