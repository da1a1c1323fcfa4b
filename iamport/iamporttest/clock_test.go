package iamporttest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

func TestFrozenClockIsTheDefault(t *testing.T) {
	f := New()
	defer f.Close()
	a := f.Now()
	assert.Equal(t, a, f.Now(), "only Advance moves it")
	f.Advance(time.Minute)
	assert.Equal(t, a.Add(time.Minute), f.Now())
	f.Advance(-time.Hour)
	assert.Equal(t, a.Add(time.Minute), f.Now(), "never backwards")
}

func TestRealClock(t *testing.T) {
	f := New(WithRealClock())
	defer f.Close()
	assert.WithinDuration(t, time.Now(), f.Now(), time.Minute)
	f.Advance(24 * time.Hour)
	assert.WithinDuration(t, time.Now().Add(24*time.Hour), f.Now(), time.Minute, "Advance grows the offset")

	start := time.Now().Add(-72 * time.Hour)
	g := New(WithRealClock(), WithClock(start))
	defer g.Close()
	assert.WithinDuration(t, start, g.Now(), time.Minute, "WithClock sets where it starts")
}

// With the real clock, schedules run when they come due: by Advance, or by the next API
// call once the wall clock passes them.
func TestRealClockRunsDueSchedules(t *testing.T) {
	e := newAPIEnv(t, WithRealClock())
	e.login()
	e.issue("c1", CardOK)
	at := e.srv.Now().Add(time.Hour).Unix()
	r := e.call(http.MethodPost, "/subscribe/payments/schedule", map[string]any{
		"customer_uid": "c1",
		"schedules": []map[string]any{
			{"merchant_uid": "s1", "schedule_at": at, "amount": 1000, "name": "예약 1"},
			{"merchant_uid": "s2", "schedule_at": at + 3600, "amount": 1000, "name": "예약 2"},
		},
	})
	require.Equal(t, 0, r.code, r.msg())

	e.srv.Advance(90 * time.Minute)
	s, _ := e.srv.Schedule("s1")
	assert.Equal(t, iamport.ScheduleExecuted, s.ScheduleStatus, "Advance runs what came due")
	s, _ = e.srv.Schedule("s2")
	assert.Equal(t, iamport.ScheduleScheduled, s.ScheduleStatus)

	// Time passing (here: the offset moved behind the fake's back, as the wall clock would).
	e.srv.mu.Lock()
	e.srv.clock.offset += time.Hour
	e.srv.mu.Unlock()
	s, _ = e.srv.Schedule("s2")
	require.Equal(t, iamport.ScheduleScheduled, s.ScheduleStatus, "nothing runs without a call")
	e.call(http.MethodGet, "/subscribe/payments/schedule/s2", nil)
	s, _ = e.srv.Schedule("s2")
	assert.Equal(t, iamport.ScheduleExecuted, s.ScheduleStatus, "the next API call runs it")
	assert.Equal(t, iamport.StatusPaid, s.PaymentStatus)
}
