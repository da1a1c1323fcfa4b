package iamporttest

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

func scheduleBody(customerUID string, entries ...map[string]any) map[string]any {
	return map[string]any{"customer_uid": customerUID, "schedules": entries}
}

func TestScheduleRunsOnAdvance(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	hooks := newHookReceiver(t)
	own := newHookReceiver(t)
	e := newAPIEnv(t, WithClock(start), WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.login()
	e.issue("c1", CardDeclineAfter+"01")
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	n := len(hooks.received())

	at1 := start.Add(time.Hour).Unix()
	at2 := start.Add(2 * time.Hour).Unix()
	r := e.call(http.MethodPost, "/subscribe/payments/schedule", scheduleBody("c1",
		map[string]any{"merchant_uid": "s2", "schedule_at": at2, "amount": 2000, "name": "2월"},
		map[string]any{"merchant_uid": "s1", "schedule_at": at1, "amount": 1000, "name": "1월", "notice_url": own.srv.URL},
	))
	require.Equal(t, 0, r.code, r.msg())
	list := as[[]iamport.ScheduleResult](t, r)
	require.Len(t, list, 2)
	assert.Equal(t, iamport.ScheduleScheduled, list[0].ScheduleStatus)
	assert.Equal(t, "kcp_billing", list[0].PGProvider)
	assert.Equal(t, iamport.Timestamp(at2), list[0].ScheduleAt)
	assert.Empty(t, list[0].ImpUID)

	got := as[iamport.ScheduleResult](t, e.call(http.MethodGet, "/subscribe/payments/schedule/s1", nil))
	assert.Equal(t, list[1], got)

	e.srv.Advance(59 * time.Minute)
	s, _ := e.srv.Schedule("s1")
	assert.Equal(t, iamport.ScheduleScheduled, s.ScheduleStatus, "not due yet")

	e.srv.Advance(2 * time.Hour) // both due: s1 first (pays), s2 second (declined)
	e.login()                    // the old token expired meanwhile
	s1 := as[iamport.ScheduleResult](t, e.call(http.MethodGet, "/subscribe/payments/schedule/s1", nil))
	s2 := as[iamport.ScheduleResult](t, e.call(http.MethodGet, "/subscribe/payments/schedule/s2", nil))
	assert.Equal(t, iamport.ScheduleExecuted, s1.ScheduleStatus)
	assert.Equal(t, iamport.StatusPaid, s1.PaymentStatus)
	assert.Equal(t, iamport.StatusFailed, s2.PaymentStatus)
	assert.Equal(t, FailReasonDeclined, s2.FailReason)
	assert.NotZero(t, s1.ExecutedAt)

	p1, ok := e.srv.Payment(s1.ImpUID)
	require.True(t, ok)
	assert.Equal(t, iamport.UsagePaymentScheduled, p1.CustomerUIDUsage)
	assert.Equal(t, "s1", p1.MerchantUID)
	assert.Equal(t, int64(1000), p1.Amount)
	assert.Equal(t, "api", p1.Channel)
	p2, _ := e.srv.Payment(s2.ImpUID)
	assert.Equal(t, iamport.StatusFailed, p2.Status)

	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Equal(t, []string{s1.ImpUID + ":paid"}, own.keys(), "the entry's notice_url")
	assert.Equal(t, []string{s2.ImpUID + ":failed"}, hooks.keys()[n:], "scheduled failures notify too")

	e.srv.Advance(24 * time.Hour)
	assert.Len(t, e.srv.PaymentsByMerchantUID("s1"), 1, "a schedule runs once")
}

func TestScheduleRules(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	e.login()
	at := start.Add(time.Hour).Unix()
	entry := func(m string) map[string]any {
		return map[string]any{"merchant_uid": m, "schedule_at": at, "amount": 1000, "name": "plan"}
	}
	r := e.call(http.MethodPost, "/subscribe/payments/schedule", scheduleBody("nobody", entry("s1")))
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "등록된 고객정보가 없습니다.", r.msg())

	e.issue("c1", CardOK)
	require.Equal(t, 0, e.call(http.MethodPost, "/subscribe/payments/schedule", scheduleBody("c1", entry("s1"))).code)
	for name, body := range map[string]map[string]any{
		"already scheduled":   scheduleBody("c1", entry("s1")),
		"twice in one call":   scheduleBody("c1", entry("s2"), entry("s2")),
		"no schedules":        {"customer_uid": "c1"},
		"no customer_uid":     scheduleBody("", entry("s3")),
		"past":                scheduleBody("c1", map[string]any{"merchant_uid": "s4", "schedule_at": start.Add(-time.Hour).Unix(), "amount": 1000, "name": "p"}),
		"no schedule_at":      scheduleBody("c1", map[string]any{"merchant_uid": "s5", "amount": 1000, "name": "p"}),
		"amount zero":         scheduleBody("c1", map[string]any{"merchant_uid": "s6", "schedule_at": at, "amount": 0, "name": "p"}),
		"no name":             scheduleBody("c1", map[string]any{"merchant_uid": "s7", "schedule_at": at, "amount": 1000}),
		"schedules not array": {"customer_uid": "c1", "schedules": 5},
	} {
		r := e.call(http.MethodPost, "/subscribe/payments/schedule", body)
		assert.Equal(t, http.StatusOK, r.status, name)
		assert.NotEqual(t, 0, r.code, name)
	}
	_, ok := e.srv.Schedule("s2")
	assert.False(t, ok, "a refused request schedules nothing")

	// merchant_uid already paid
	require.Equal(t, 0, e.again("c1", "paid_1", 100).code)
	r = e.call(http.MethodPost, "/subscribe/payments/schedule", scheduleBody("c1", entry("paid_1")))
	assert.Equal(t, -1, r.code)

	// checking_amount with a card that declines
	e.issue("c_dec", CardDeclined)
	body := scheduleBody("c_dec", entry("s8"))
	body["checking_amount"] = 1000
	r = e.call(http.MethodPost, "/subscribe/payments/schedule", body)
	assert.NotEqual(t, 0, r.code)
	delete(body, "checking_amount")
	assert.Equal(t, 0, e.call(http.MethodPost, "/subscribe/payments/schedule", body).code)

	r = e.call(http.MethodGet, "/subscribe/payments/schedule/unknown", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestScheduleFormBody(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	e.login()
	e.issue("c1", CardOK)
	at := strconv.FormatInt(start.Add(time.Hour).Unix(), 10)
	r := e.form(http.MethodPost, "/subscribe/payments/schedule", url.Values{
		"customer_uid":               {"c1"},
		"schedules[0][merchant_uid]": {"f1"}, "schedules[0][schedule_at]": {at},
		"schedules[0][amount]": {"1000"}, "schedules[0][name]": {"plan"},
		"schedules[1][merchant_uid]": {"f2"}, "schedules[1][schedule_at]": {at},
		"schedules[1][amount]": {"2000"}, "schedules[1][name]": {"plan"},
	})
	require.Equal(t, 0, r.code, r.msg())
	list := as[[]iamport.ScheduleResult](t, r)
	require.Len(t, list, 2)
	assert.Equal(t, "f1", list[0].MerchantUID)
	assert.Equal(t, int64(2000), list[1].Amount)

	r = e.form(http.MethodPost, "/subscribe/payments/schedule", url.Values{
		"customer_uid": {"c1"}, "schedules[x][merchant_uid]": {"f3"},
	})
	assert.Equal(t, 1, r.code)
}

func TestUnschedule(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	e.login()
	e.issue("c1", CardOK)
	e.issue("c2", CardOK)
	at := start.Add(time.Hour).Unix()
	entry := func(m string) map[string]any {
		return map[string]any{"merchant_uid": m, "schedule_at": at, "amount": 1000, "name": "plan"}
	}
	require.Equal(t, 0, e.call(http.MethodPost, "/subscribe/payments/schedule", scheduleBody("c1", entry("a1"), entry("a2"), entry("a3"))).code)
	require.Equal(t, 0, e.call(http.MethodPost, "/subscribe/payments/schedule", scheduleBody("c2", entry("b1"))).code)

	r := e.call(http.MethodPost, "/subscribe/payments/unschedule", map[string]any{"merchant_uid": []string{"a1", "b1"}})
	require.Equal(t, 0, r.code)
	list := as[[]iamport.ScheduleResult](t, r)
	require.Len(t, list, 2)
	assert.Equal(t, iamport.ScheduleRevoked, list[0].ScheduleStatus)
	assert.NotZero(t, list[0].RevokedAt)

	r = e.form(http.MethodPost, "/subscribe/payments/unschedule", url.Values{"customer_uid": {"c1"}, "merchant_uid[]": {"a2"}})
	require.Equal(t, 0, r.code)
	assert.Len(t, as[[]iamport.ScheduleResult](t, r), 1)

	r = e.call(http.MethodPost, "/subscribe/payments/unschedule", map[string]any{"customer_uid": "c1"})
	require.Equal(t, 0, r.code)
	list = as[[]iamport.ScheduleResult](t, r)
	require.Len(t, list, 1)
	assert.Equal(t, "a3", list[0].MerchantUID)

	for _, body := range []map[string]any{{}, {"customer_uid": "c1"}, {"merchant_uid": "a1"}, {"customer_uid": "c2", "merchant_uid": []string{"a3"}}} {
		r = e.call(http.MethodPost, "/subscribe/payments/unschedule", body)
		assert.Equal(t, 1, r.code, body)
		assert.Equal(t, "취소할 예약결제 기록이 존재하지 않습니다.", r.msg())
	}

	e.srv.Advance(2 * time.Hour)
	e.login()
	for _, m := range []string{"a1", "a2", "a3", "b1"} {
		assert.Empty(t, e.srv.PaymentsByMerchantUID(m), "revoked schedules do not run")
	}
	// A revoked merchant_uid can be scheduled again.
	require.Equal(t, 0, e.call(http.MethodPost, "/subscribe/payments/schedule",
		scheduleBody("c1", map[string]any{"merchant_uid": "a1", "schedule_at": start.Add(3 * time.Hour).Unix(), "amount": 1000, "name": "p"})).code)
}

func TestScheduleAfterKeyDeleted(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	e.login()
	e.issue("c1", CardOK)
	require.Equal(t, 0, e.call(http.MethodPost, "/subscribe/payments/schedule", scheduleBody("c1",
		map[string]any{"merchant_uid": "s1", "schedule_at": start.Add(time.Hour).Unix(), "amount": 1000, "name": "p"})).code)
	require.Equal(t, 0, e.call(http.MethodDelete, "/subscribe/customers/c1", nil).code)
	e.srv.Advance(time.Hour)
	s, _ := e.srv.Schedule("s1")
	assert.Equal(t, iamport.ScheduleExecuted, s.ScheduleStatus)
	assert.Equal(t, iamport.StatusFailed, s.PaymentStatus)
	assert.Empty(t, s.ImpUID)
}
