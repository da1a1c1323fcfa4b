package iamporttest

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/iamport"
)

// charges issues a key and charges it n times, returning the imp_uids.
func charges(t *testing.T, e *apiEnv, n int) []string {
	t.Helper()
	if _, ok := e.srv.Customer("c_hook"); !ok {
		e.issue("c_hook", CardOK)
	}
	var ids []string
	for i := range n {
		r := e.again("c_hook", fmt.Sprintf("hook_%d_%s", i, randomAlnum(4)), 1000)
		require.Equal(t, 0, r.code)
		ids = append(ids, as[iamport.Payment](t, r).ImpUID)
	}
	return ids
}

func TestWebhookJSON(t *testing.T) {
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.login()
	res := e.issue("c1", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	got := hooks.received()
	require.Len(t, got, 1)
	assert.Equal(t, "application/json", got[0].contentType)
	assert.Equal(t, map[string]string{
		"imp_uid": res.Payment.ImpUID, "merchant_uid": res.Payment.MerchantUID, "status": "paid",
	}, got[0].fields)

	log := e.srv.Webhooks()
	require.Len(t, log, 1)
	assert.Equal(t, Webhook{URL: hooks.srv.URL, ImpUID: res.Payment.ImpUID, MerchantUID: res.Payment.MerchantUID,
		Status: "paid", HTTPStatus: http.StatusOK}, log[0])
}

func TestWebhookFormAndDuplicates(t *testing.T) {
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL, Format: WebhookForm, Duplicates: 2}))
	e.login()
	ids := charges(t, e, 1) // issuance + one charge, three copies each
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	got := hooks.received()
	require.Len(t, got, 6)
	for _, h := range got {
		assert.Equal(t, "application/x-www-form-urlencoded", h.contentType)
		assert.Equal(t, "paid", h.fields["status"])
	}
	assert.Equal(t, ids[0], got[5].fields["imp_uid"])
	assert.Equal(t, ids[0], got[3].fields["imp_uid"])
	assert.Len(t, e.srv.Webhooks(), 6)
}

func TestWebhookReorderDeterministic(t *testing.T) {
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL, Reorder: true, Delay: time.Hour}))
	e.login()
	e.srv.hooks.shuffle = func(n int, swap func(i, j int)) { // reverse
		for i := range n / 2 {
			swap(i, n-1-i)
		}
	}
	ids := charges(t, e, 4)
	assert.False(t, e.srv.WaitWebhooks(20*time.Millisecond), "held for the reorder window")
	assert.Empty(t, hooks.received())
	e.srv.SetWebhook(WebhookConfig{URL: hooks.srv.URL, Reorder: true}) // shorten the hold
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	got := hooks.keys()
	require.Len(t, got, 5)
	want := []string{ids[3] + ":paid", ids[2] + ":paid", ids[1] + ":paid", ids[0] + ":paid"}
	assert.Equal(t, want, got[:4], "delivered in the shuffled order")
}

func TestWebhookReorderRandom(t *testing.T) {
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.login()
	e.issue("c_hook", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	e.srv.SetWebhook(WebhookConfig{URL: hooks.srv.URL, Reorder: true, Delay: time.Hour})
	ids := charges(t, e, 10)
	e.srv.SetWebhook(WebhookConfig{URL: hooks.srv.URL, Reorder: true})
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	var got []string
	for _, k := range hooks.keys()[1:] {
		got = append(got, k[:len(k)-len(":paid")])
	}
	require.ElementsMatch(t, ids, got)
	// 10 notifications stay in order with probability 1/10!; accept that one-in-3.6M flake
	// rather than a test that cannot fail.
	assert.False(t, slices.Equal(ids, got), "10 notifications delivered in their original order")
}

func TestWebhookDelayAndClose(t *testing.T) {
	verifyNoLeaks(t)
	hooks := newHookReceiver(t)
	srv := NewServer(WithWebhook(WebhookConfig{URL: hooks.srv.URL, Delay: time.Hour}))
	res, err := srv.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "m1", CustomerUID: "c1", CardNumber: CardOK})
	require.NoError(t, err)
	require.NotNil(t, res.Payment)
	assert.False(t, srv.WaitWebhooks(20*time.Millisecond))
	assert.Empty(t, srv.Webhooks())
	srv.Close()
	assert.Empty(t, hooks.received())
	log := srv.Webhooks()
	require.Len(t, log, 1)
	assert.ErrorIs(t, log[0].Err, errFakeClosed)
	assert.True(t, srv.WaitWebhooks(time.Second))

	// After Close, notifications are logged as undelivered at once.
	_, err = srv.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "m2", CustomerUID: "c1", CardNumber: CardOK})
	require.NoError(t, err)
	assert.Len(t, srv.Webhooks(), 2)
}

func TestWebhookCloseAbortsInFlight(t *testing.T) {
	verifyNoLeaks(t)
	hooks := newHookReceiver(t)
	hooks.block = make(chan struct{})
	defer close(hooks.block)
	f := New(WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	_, err := f.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "m1", CustomerUID: "c1", CardNumber: CardOK})
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the receiver has the request and holds it
		f.hooks.mu.Lock()
		defer f.hooks.mu.Unlock()
		return len(f.hooks.pending) == 0
	}, 5*time.Second, time.Millisecond)
	f.Close()
	log := f.Webhooks()
	require.Len(t, log, 1)
	assert.Error(t, log[0].Err)
}

func TestWebhookReceiverErrors(t *testing.T) {
	hooks := newHookReceiver(t)
	hooks.status = http.StatusInternalServerError
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.issue("c1", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	log := e.srv.Webhooks()
	require.Len(t, log, 1)
	assert.NoError(t, log[0].Err)
	assert.Equal(t, http.StatusInternalServerError, log[0].HTTPStatus)

	e.srv.SetWebhook(WebhookConfig{URL: "http://127.0.0.1:1/unreachable"})
	e.issue("c2", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	log = e.srv.Webhooks()
	require.Len(t, log, 2)
	assert.Error(t, log[1].Err)
	assert.Zero(t, log[1].HTTPStatus)

	e.srv.SetWebhook(WebhookConfig{URL: "::not a url"})
	e.issue("c3", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Error(t, e.srv.Webhooks()[2].Err)

	e.srv.SetWebhook(WebhookConfig{})
	e.issue("c4", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Len(t, e.srv.Webhooks(), 3, "no URL: nothing sent")
}

// verifyNoLeaks checks, after every other cleanup of t, that no goroutine started by the
// test is left.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// With retries on, a 5xx or an unreachable shop gets the notification again, RetryEvery
// apart, until it answers below 500 or the retries run out; a 4xx is not resent. Without
// them (iamport's default) there is one delivery.
func TestWebhookRetries(t *testing.T) {
	hooks := newHookReceiver(t)
	hooks.status = http.StatusServiceUnavailable
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL, Retries: 5, RetryEvery: 20 * time.Millisecond}))
	e.issue("c1", CardOK)
	require.Eventually(t, func() bool { return len(hooks.received()) == 3 }, 5*time.Second, time.Millisecond)
	hooks.mu.Lock()
	hooks.status = http.StatusOK
	hooks.mu.Unlock()
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	var statuses []int
	for _, w := range e.srv.Webhooks() {
		statuses = append(statuses, w.HTTPStatus)
	}
	require.GreaterOrEqual(t, len(statuses), 4)
	assert.Equal(t, http.StatusOK, statuses[len(statuses)-1], "resent until answered")
	assert.NotContains(t, statuses[:len(statuses)-1], http.StatusOK)

	before := len(e.srv.Webhooks())
	e.srv.SetWebhook(WebhookConfig{URL: "http://127.0.0.1:1/unreachable", Retries: 2, RetryEvery: time.Millisecond})
	e.issue("c2", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	log := e.srv.Webhooks()[before:]
	require.Len(t, log, 3, "one delivery and two retries")
	for _, w := range log {
		assert.Error(t, w.Err)
	}

	hooks.mu.Lock()
	hooks.status = http.StatusBadRequest
	hooks.mu.Unlock()
	before = len(e.srv.Webhooks())
	e.srv.SetWebhook(WebhookConfig{URL: hooks.srv.URL, Retries: 3, RetryEvery: time.Millisecond})
	e.issue("c3", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Len(t, e.srv.Webhooks()[before:], 1, "a 4xx is an answer")

	hooks.mu.Lock()
	hooks.status = http.StatusInternalServerError
	hooks.mu.Unlock()
	before = len(e.srv.Webhooks())
	e.srv.SetWebhook(WebhookConfig{URL: hooks.srv.URL, Reorder: true})
	e.issue("c4", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Len(t, e.srv.Webhooks()[before:], 1, "no retries by default")
}
