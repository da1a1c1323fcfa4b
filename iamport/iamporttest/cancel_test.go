package iamporttest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

func paidPayment(t *testing.T, e *apiEnv, merchantUID string, amount int64) iamport.Payment {
	t.Helper()
	if _, ok := e.srv.Customer("c_cancel"); !ok {
		e.issue("c_cancel", CardOK)
	}
	r := e.again("c_cancel", merchantUID, amount)
	require.Equal(t, 0, r.code)
	return as[iamport.Payment](t, r)
}

func TestCancelFull(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	p := paidPayment(t, e, "o1", 10000)
	r := e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "reason": "환불"})
	require.Equal(t, 0, r.code, r.msg())
	c := as[iamport.Payment](t, r)
	assert.Equal(t, iamport.StatusCancelled, c.Status)
	assert.Equal(t, int64(10000), c.CancelAmount)
	assert.Equal(t, "환불", c.CancelReason)
	assert.NotZero(t, c.CancelledAt)
	require.Len(t, c.CancelHistory, 1)
	assert.Equal(t, int64(10000), c.CancelHistory[0].Amount)
	assert.NotEmpty(t, c.CancelHistory[0].CancellationID)
	assert.Equal(t, p.PGTID, c.CancelHistory[0].PGTID)

	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "취소할 결제건이 존재하지 않습니다.", r.msg())
}

func TestCancelPartialAndChecksum(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	p := paidPayment(t, e, "o1", 10000)

	// A checksum that is not the balance changes nothing.
	r := e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "amount": 3000, "checksum": 9999})
	assert.Equal(t, 1, r.code)
	got, _ := e.srv.Payment(p.ImpUID)
	assert.Equal(t, p, got)

	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "amount": 3000, "checksum": 10000})
	require.Equal(t, 0, r.code, r.msg())
	c := as[iamport.Payment](t, r)
	assert.Equal(t, iamport.StatusCancelled, c.Status)
	assert.Equal(t, int64(3000), c.CancelAmount)

	r = e.form(http.MethodPost, "/payments/cancel", map[string][]string{"merchant_uid": {"o1"}, "amount": {"2000"}, "checksum": {"7000"}})
	require.Equal(t, 0, r.code, r.msg())
	c = as[iamport.Payment](t, r)
	assert.Equal(t, int64(5000), c.CancelAmount)
	require.Len(t, c.CancelHistory, 2)
	assert.NotEqual(t, c.CancelHistory[0].CancellationID, c.CancelHistory[1].CancellationID)

	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "amount": 6000})
	assert.Equal(t, 1, r.code, "more than the balance")

	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "amount": 0})
	require.Equal(t, 0, r.code)
	c = as[iamport.Payment](t, r)
	assert.Equal(t, int64(10000), c.CancelAmount, "0 cancels the rest")
	assert.Len(t, c.CancelHistory, 3)
}

func TestCancelTargets(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	p1 := paidPayment(t, e, "o1", 1000)
	p2 := paidPayment(t, e, "o2", 1000)

	r := e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p1.ImpUID, "merchant_uid": "o2"})
	require.Equal(t, 0, r.code)
	assert.Equal(t, p1.ImpUID, as[iamport.Payment](t, r).ImpUID, "imp_uid wins")
	got, _ := e.srv.Payment(p2.ImpUID)
	assert.Equal(t, iamport.StatusPaid, got.Status)

	for _, body := range []map[string]any{
		{},
		{"imp_uid": "imps_000000000000"},
		{"merchant_uid": "unknown"},
		{"imp_uid": p1.ImpUID}, // fully cancelled
		{"imp_uid": p2.ImpUID, "amount": -1},
		{"imp_uid": p2.ImpUID, "checksum": "x"},
	} {
		r := e.call(http.MethodPost, "/payments/cancel", body)
		assert.Equal(t, http.StatusOK, r.status, body)
		assert.Equal(t, 1, r.code, body)
	}

	// A declined payment has nothing to cancel.
	e.issue("c_dec", CardDeclined)
	dec := as[iamport.Payment](t, e.again("c_dec", "o3", 1000))
	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": dec.ImpUID})
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "취소할 결제건이 존재하지 않습니다.", r.msg())
}

func TestCancelWebhook(t *testing.T) {
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.login()
	p := paidPayment(t, e, "o1", 1000)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	n := len(hooks.received())

	r := e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "amount": 100})
	require.Equal(t, 0, r.code)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Len(t, hooks.received(), n, "API cancels are silent unless enable_webhook")

	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "amount": 100, "enable_webhook": true})
	require.Equal(t, 0, r.code)
	c := as[iamport.Payment](t, r)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	got := hooks.received()
	require.Len(t, got, n+1)
	last := got[len(got)-1].fields
	assert.Equal(t, "cancelled", last["status"])
	assert.Equal(t, p.ImpUID, last["imp_uid"])
	assert.Equal(t, "o1", last["merchant_uid"])
	assert.Equal(t, c.CancelHistory[1].CancellationID, last["cancellation_id"])

	logged := e.srv.Webhooks()
	assert.Equal(t, c.CancelHistory[1].CancellationID, logged[len(logged)-1].CancellationID)
}

func TestCancelFromConsole(t *testing.T) {
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.login()
	p := paidPayment(t, e, "o1", 1000)
	c, err := e.srv.CancelFromConsole(p.ImpUID, 400, "console")
	require.NoError(t, err)
	assert.Equal(t, int64(400), c.CancelAmount)
	c, err = e.srv.CancelFromConsole(p.ImpUID, 0, "console")
	require.NoError(t, err)
	assert.Equal(t, int64(1000), c.CancelAmount)
	_, err = e.srv.CancelFromConsole(p.ImpUID, 0, "again")
	assert.Error(t, err)
	_, err = e.srv.CancelFromConsole("imps_missing", 0, "")
	assert.Error(t, err)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Equal(t, []string{p.ImpUID + ":paid", p.ImpUID + ":cancelled", p.ImpUID + ":cancelled"}, hooks.keys()[1:])
}
