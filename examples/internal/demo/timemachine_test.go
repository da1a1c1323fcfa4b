package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

func TestStepLength(t *testing.T) {
	kst := time.FixedZone("KST", 9*60*60)
	for _, tc := range []struct {
		name string
		now  time.Time
		step string
		want time.Time
	}{
		{"a day", time.Date(2027, 3, 1, 10, 0, 0, 0, kst), StepDay, time.Date(2027, 3, 2, 10, 0, 0, 0, kst)},
		{"a month", time.Date(2027, 3, 15, 10, 30, 0, 0, kst), StepMonth, time.Date(2027, 4, 15, 10, 30, 0, 0, kst)},
		{"to a shorter month", time.Date(2027, 1, 31, 12, 0, 0, 0, kst), StepMonth, time.Date(2027, 2, 28, 12, 0, 0, 0, kst)},
		{"to February of a leap year", time.Date(2028, 1, 30, 12, 0, 0, 0, kst), StepMonth, time.Date(2028, 2, 29, 12, 0, 0, 0, kst)},
		{"over the year's end", time.Date(2027, 12, 31, 23, 0, 0, 0, kst), StepMonth, time.Date(2028, 1, 31, 23, 0, 0, 0, kst)},
		// 2027-01-31 15:00 UTC is February 1 in Seoul: a month on is March 1 there.
		{"counted where periods are", time.Date(2027, 1, 31, 15, 0, 0, 0, time.UTC), StepMonth, time.Date(2027, 3, 1, 0, 0, 0, 0, kst)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := stepLength(tc.step, tc.now, kst)
			require.True(t, ok)
			assert.True(t, tc.now.Add(d).Equal(tc.want), "%s + %s = %s, want %s", tc.now, d, tc.now.Add(d), tc.want)
		})
	}
	_, ok := stepLength("year", time.Now(), kst)
	assert.False(t, ok)
}

// subscriptionOf returns the user's only subscription.
func subscriptionOf(t *testing.T, app *App, userID string) core.SubscriptionView {
	t.Helper()
	list, err := app.Service().Subscriptions(context.Background(), userID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0]
}

// paidCharges counts the paid charges of a subscription.
func paidCharges(v core.SubscriptionView) int {
	n := 0
	for _, c := range v.Charges {
		if c.Status == core.ChargePaid {
			n++
		}
	}
	return n
}

func travel(t *testing.T, app *App, step string) SweepReport {
	t.Helper()
	before := app.Now()
	st, err := app.Travel(context.Background(), step)
	require.NoError(t, err)
	require.NotNil(t, st.Sweep)
	assert.True(t, st.Now.After(before), "the clock moved forward")
	return *st.Sweep
}

// The time machine moves the fake's, the service's and the store's clocks together and
// sweeps at once: a subscription renews a month later; a card that pays twice is then
// declined and the subscription goes past due, a new card recovers it at once, and a
// subscription cancelled at period end ends after the period.
func TestTimeMachine(t *testing.T) {
	app, base := serveTestAppOut(t, io.Discard)
	alice := Users[0].ID
	require.True(t, app.clock.canTravel())
	assert.WithinDuration(t, app.fake.Now(), app.Now(), time.Second, "the shop runs on the fake's clock")

	mobileWindow(t, app, base, "basic", iamporttest.CardDeclineAfter+"02")
	require.Eventually(t, func() bool {
		return subscriptionOf(t, app, alice).Status == core.SubscriptionActive
	}, 20*time.Second, 20*time.Millisecond, "one window subscribes a new customer")
	sub := subscriptionOf(t, app, alice)
	require.NotNil(t, sub.NextChargeAt)
	assert.Equal(t, int64(9900), sub.NextAmount)
	assert.Equal(t, 1, paidCharges(sub))

	rep := travel(t, app, StepDay)
	assert.Zero(t, rep.Charged, "nothing is due a day later")

	rep = travel(t, app, StepMonth)
	assert.Equal(t, 1, rep.Renewed)
	sub = subscriptionOf(t, app, alice)
	assert.Equal(t, core.SubscriptionActive, sub.Status)
	assert.Equal(t, 2, paidCharges(sub), "renewed once")
	assert.True(t, sub.Entitled(app.Now()))
	assert.WithinDuration(t, app.fake.Now(), app.Now(), time.Second, "the fake jumped too")

	rep = travel(t, app, StepMonth)
	assert.Equal(t, 1, rep.Failed, "the card pays twice, then is declined")
	sub = subscriptionOf(t, app, alice)
	assert.Equal(t, core.SubscriptionPastDue, sub.Status)
	assert.Equal(t, 1, sub.Retries)

	// A new card pays the renewal at once.
	mobileWindow(t, app, base, "", iamporttest.CardOK)
	require.Eventually(t, func() bool {
		return subscriptionOf(t, app, alice).Status == core.SubscriptionActive
	}, 20*time.Second, 20*time.Millisecond, "recovered by a new card")
	sub = subscriptionOf(t, app, alice)
	assert.Equal(t, 3, paidCharges(sub))

	_, err := app.Service().CancelSubscription(context.Background(), alice, sub.ID, true)
	require.NoError(t, err)
	assert.Equal(t, core.SubscriptionCanceled, subscriptionOf(t, app, alice).Status)
	rep = travel(t, app, StepMonth)
	assert.Equal(t, 1, rep.Ended)
	sub = subscriptionOf(t, app, alice)
	assert.Equal(t, core.SubscriptionEnded, sub.Status)
	assert.Equal(t, 3, paidCharges(sub), "never charged after the cancellation")
	assert.False(t, sub.Entitled(app.Now()))
}

// The time machine's route: a signed-in demo user of this site moves the clock by a day
// or a month; anything else changes nothing.
func TestTimeMachineRoute(t *testing.T) {
	app, base := serveTestAppOut(t, io.Discard)
	session := app.sessions.cookie(Users[0])
	post := func(body string, header map[string]string, withSession bool) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+TimeMachinePath, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if withSession {
			req.AddCookie(session)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res.StatusCode, out
	}

	start := app.Now()
	for _, tc := range []struct {
		name       string
		body       string
		header     map[string]string
		session    bool
		wantStatus int
		wantCode   string
	}{
		{"no session", `{"step":"day"}`, nil, false, http.StatusUnauthorized, codes.Unauthenticated},
		{"cross-site", `{"step":"day"}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, true, http.StatusForbidden, "cross_site_request"},
		{"another origin", `{"step":"day"}`, map[string]string{"Origin": "https://evil.example"}, true, http.StatusForbidden, "cross_site_request"},
		{"unknown step", `{"step":"year"}`, nil, true, http.StatusBadRequest, codes.InvalidRequest},
		{"not JSON", `step=day`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, true, http.StatusBadRequest, codes.InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(tc.body, tc.header, tc.session)
			assert.Equal(t, tc.wantStatus, status)
			assert.Equal(t, tc.wantCode, out["code"])
		})
	}
	assert.WithinDuration(t, start, app.Now(), time.Minute, "nothing moved the clock")

	status, out := post(`{"step":"month"}`, map[string]string{"Origin": base}, true)
	require.Equal(t, http.StatusOK, status)
	now, err := time.Parse(time.RFC3339Nano, out["now"].(string))
	require.NoError(t, err)
	assert.True(t, now.After(start.Add(27*24*time.Hour)), "a month later: %s", now)
	assert.Equal(t, true, out["can_travel"])
	assert.Contains(t, out, "sweep")

	alice := browserless{t: t, base: base, session: session}
	res, body := alice.get(TimeMachinePath)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, `"can_travel":true`)
}

// A jump waits for the billing requests in flight, and new ones wait for the jump and
// its sweep: no charge ever sees the clock move under it.
func TestJumpWaitsForBillingRequests(t *testing.T) {
	app, _ := newTestApp(t)
	release := app.HoldClock(BillingPrefix + "/subscriptions")
	jumped := make(chan struct{})
	go func() {
		defer close(jumped)
		_, err := app.Travel(context.Background(), StepDay)
		assert.NoError(t, err)
	}()
	select {
	case <-jumped:
		t.Fatal("the clock jumped while a billing request was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	<-jumped

	// Pages and the fake are never held: the jump's own sweep reaches the fake through
	// this server.
	for _, p := range []string{"/", FakePrefix + "/subscribe/payments/again", HealthPath, TimeMachinePath, "/billingx"} {
		app.HoldClock(p)() // returns at once
	}
}

// Live, the shop runs on the real time and there is no time machine.
func TestNoTimeMachineLive(t *testing.T) {
	upstream := liveFake(t)
	app, err := newAppErr(t, liveEnv, "-db", t.TempDir()+"/live.db", "-iamport-url", upstream.URL)
	require.NoError(t, err)
	assert.False(t, app.clock.canTravel())
	assert.WithinDuration(t, time.Now(), app.Now(), time.Second)
	_, err = app.Travel(context.Background(), StepDay)
	assert.ErrorIs(t, err, errNoTimeMachine)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		req := httptest.NewRequest(m, TimeMachinePath, strings.NewReader(`{"step":"day"}`))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(app.sessions.cookie(Users[0]))
		rec := httptest.NewRecorder()
		app.Handler().ServeHTTP(rec, req)
		assert.Equal(t, http.StatusNotFound, rec.Code, m)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(app.sessions.cookie(Users[0]))
	rec := httptest.NewRecorder()
	app.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.NotContains(t, rec.Body.String(), `id="time-machine"`)
	assert.Contains(t, rec.Body.String(), `"can_travel":false`)
}

// With a shared fake the shop follows the fake's clock, and the time machine moves it
// through the fake's clock control route, for every example that uses the fake.
func TestTimeMachineSharedFake(t *testing.T) {
	upstream := iamporttest.NewServer(iamporttest.WithSandbox(true), iamporttest.WithRealClock())
	t.Cleanup(upstream.Close)
	upstream.Advance(48 * time.Hour) // another example travelled already
	app, _ := serveTestAppOut(t, io.Discard, "-iamport-url", upstream.URL)
	other, _ := serveTestAppOut(t, io.Discard, "-iamport-url", upstream.URL)
	assert.WithinDuration(t, upstream.Now(), app.Now(), time.Second, "the shop follows the shared fake's clock")

	st, err := app.Travel(context.Background(), StepDay)
	require.NoError(t, err)
	assert.WithinDuration(t, upstream.Now(), st.Now, time.Second)
	assert.WithinDuration(t, time.Now().Add(72*time.Hour), upstream.Now(), time.Minute, "the fake moved a day")
	require.Eventually(t, func() bool {
		return other.Now().Sub(upstream.Now()).Abs() < time.Second
	}, 10*time.Second, 20*time.Millisecond, "another example on the fake follows the jump")

	upstream.Close()
	_, err = app.Travel(context.Background(), StepDay)
	assert.Error(t, err, "a fake that does not answer cannot be moved")
}

// -clock-skew moves the billing service's clock alone: what the service stamps (here its
// health check) is the shop's time (the fake's) plus the skew.
func TestClockSkewMovesTheServiceClock(t *testing.T) {
	const skew = -40 * time.Minute
	app, _ := serveTestAppOut(t, io.Discard, "-clock-skew", skew.String())
	h := app.Service().Health(context.Background())
	assert.WithinDuration(t, app.fake.Now().Add(skew), h.CheckedAt, 10*time.Second)
	assert.WithinDuration(t, app.fake.Now(), app.Now(), time.Second, "the shop's clock stays the fake's")
}
