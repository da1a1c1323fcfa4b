package iamporttest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

var impUIDRe = regexp.MustCompile(`^imps_[0-9]{12}$`)

func TestAgainPays(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithClock(start), WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.login()
	e.issue("cust_1", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))

	r := e.call(http.MethodPost, "/subscribe/payments/again", map[string]any{
		"customer_uid": "cust_1", "merchant_uid": "order_1", "amount": 9900, "name": "월 구독",
		"buyer_name": "홍길동", "buyer_email": "hong@example.com", "buyer_tel": "010-1234-5678",
		"custom_data": map[string]any{"plan": "basic"}, "card_quota": 0,
	})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 0, r.code)
	assert.Nil(t, r.message)
	p := as[iamport.Payment](t, r)
	assert.Regexp(t, impUIDRe, p.ImpUID)
	assert.Equal(t, "order_1", p.MerchantUID)
	assert.Equal(t, iamport.StatusPaid, p.Status)
	assert.Equal(t, int64(9900), p.Amount)
	assert.Equal(t, "KRW", p.Currency)
	assert.Equal(t, "card", p.PayMethod)
	assert.Equal(t, "api", p.Channel)
	assert.Equal(t, "kcp_billing", p.PGProvider)
	assert.Equal(t, LiveSiteCode, p.PGID)
	assert.Equal(t, "cust_1", p.CustomerUID)
	assert.Equal(t, iamport.UsagePayment, p.CustomerUIDUsage)
	assert.Equal(t, "411111******1111", p.CardNumber)
	assert.Equal(t, "BC카드", p.CardName)
	assert.Len(t, p.ApplyNum, 8)
	assert.Equal(t, iamport.Timestamp(start.Unix()), p.StartedAt)
	assert.Equal(t, iamport.Timestamp(start.Unix()), p.PaidAt)
	assert.Zero(t, p.FailedAt)
	assert.Equal(t, e.srv.URL+"/receipts/"+p.ImpUID, p.ReceiptURL)
	assert.Equal(t, `{"plan":"basic"}`, p.CustomData)
	assert.Equal(t, "홍길동", p.BuyerName)
	assert.Equal(t, boolPtr(false), p.Sandbox)
	assert.NotNil(t, p.CancelHistory)

	stored, ok := e.srv.Payment(p.ImpUID)
	require.True(t, ok)
	assert.Equal(t, p, stored)

	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Contains(t, hooks.keys(), p.ImpUID+":paid")
}

func TestAgainFormBody(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("cust_1", CardOK)
	r := e.form(http.MethodPost, "/subscribe/payments/again", url.Values{
		"customer_uid": {"cust_1"}, "merchant_uid": {"order_f"}, "amount": {"1000.0"}, "name": {"월 구독"},
	})
	require.Equal(t, 0, r.code, r.msg())
	p := as[iamport.Payment](t, r)
	assert.Equal(t, int64(1000), p.Amount)
	assert.Equal(t, iamport.StatusPaid, p.Status)

	// multipart/form-data too
	var b strings.Builder
	b.WriteString("--XX\r\nContent-Disposition: form-data; name=\"customer_uid\"\r\n\r\ncust_1\r\n")
	b.WriteString("--XX\r\nContent-Disposition: form-data; name=\"merchant_uid\"\r\n\r\norder_mp\r\n")
	b.WriteString("--XX\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n2000\r\n")
	b.WriteString("--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nplan\r\n--XX--\r\n")
	r = e.do(e.request(http.MethodPost, "/subscribe/payments/again", strings.NewReader(b.String()), "multipart/form-data; boundary=XX"))
	require.Equal(t, 0, r.code, r.msg())
	assert.Equal(t, int64(2000), as[iamport.Payment](t, r).Amount)
}

func TestAgainUnknownCustomer(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	r := e.again("nobody", "order_1", 1000)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "등록되지 않은 구매자입니다.", r.msg())
	assert.Equal(t, "null", string(r.response))
	assert.Empty(t, e.srv.PaymentsByMerchantUID("order_1"))
}

func TestAgainDuplicateMerchantUID(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("cust_1", CardOK)
	first := e.again("cust_1", "order_1", 1000)
	require.Equal(t, 0, first.code)

	r := e.again("cust_1", "order_1", 1000)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, -1, r.code)
	assert.Equal(t, "이미 주문이 이루어진 건입니다. (동일한 merchant_uid로 결제 또는 취소된 기록이 있습니다)", r.msg())
	assert.Len(t, e.srv.PaymentsByMerchantUID("order_1"), 1)

	// Cancelled counts as used too.
	p := as[iamport.Payment](t, first)
	_, err := e.srv.CancelFromConsole(p.ImpUID, 0, "test")
	require.NoError(t, err)
	r = e.again("cust_1", "order_1", 1000)
	assert.Equal(t, -1, r.code)

	// The issuance consumed its merchant_uid as well.
	iss := e.issue("cust_2", CardOK)
	r = e.again("cust_2", iss.Payment.MerchantUID, 1000)
	assert.Equal(t, -1, r.code)
}

func TestAgainDeclined(t *testing.T) {
	hooks := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
	e.login()
	e.issue("cust_d", CardDeclined)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	before := len(hooks.received())

	r := e.again("cust_d", "order_1", 5000)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 0, r.code, "a decline is processed: code 0")
	p := as[iamport.Payment](t, r)
	assert.Equal(t, iamport.StatusFailed, p.Status)
	assert.Equal(t, FailReasonDeclined, p.FailReason)
	assert.NotZero(t, p.FailedAt)
	assert.Zero(t, p.PaidAt)
	assert.Empty(t, p.ApplyNum)
	assert.Empty(t, p.ReceiptURL)
	assert.Regexp(t, impUIDRe, p.ImpUID)
	assert.Equal(t, "국민KB카드", p.CardName)

	// A failed merchant_uid can be used again (and fails again with this card).
	r2 := e.again("cust_d", "order_1", 5000)
	require.Equal(t, 0, r2.code)
	p2 := as[iamport.Payment](t, r2)
	assert.NotEqual(t, p.ImpUID, p2.ImpUID)
	assert.Len(t, e.srv.PaymentsByMerchantUID("order_1"), 2)

	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Len(t, hooks.received(), before, "failed charges send no webhook")
}

func TestAgainDeclineAfterN(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	res := e.issue("cust_n", CardDeclineAfter+"02")
	require.Equal(t, true, res.Rsp["success"])
	var statuses []iamport.PaymentStatus
	for i := range 4 {
		r := e.again("cust_n", fmt.Sprintf("order_%d", i), 1000)
		require.Equal(t, 0, r.code)
		statuses = append(statuses, as[iamport.Payment](t, r).Status)
	}
	assert.Equal(t, []iamport.PaymentStatus{"paid", "paid", "failed", "failed"}, statuses)

	// A failed merchant_uid is reusable: with a new working key it pays.
	e.issue("cust_n", CardOK)
	r := e.again("cust_n", "order_2", 1000)
	require.Equal(t, 0, r.code)
	assert.Equal(t, iamport.StatusPaid, as[iamport.Payment](t, r).Status)
}

func TestAgainValidation(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("cust_1", CardOK)
	valid := func() map[string]any {
		return map[string]any{"customer_uid": "cust_1", "merchant_uid": "order_v", "amount": 1000, "name": "plan"}
	}
	cases := []struct {
		name   string
		change func(m map[string]any)
		want   string // part of the message
	}{
		{"customer_uid missing", func(m map[string]any) { delete(m, "customer_uid") }, "customer_uid"},
		{"customer_uid too long", func(m map[string]any) { m["customer_uid"] = strings.Repeat("c", 81) }, "customer_uid"},
		{"merchant_uid missing", func(m map[string]any) { delete(m, "merchant_uid") }, "merchant_uid"},
		{"merchant_uid too long", func(m map[string]any) { m["merchant_uid"] = strings.Repeat("m", 41) }, "merchant_uid"},
		{"amount missing", func(m map[string]any) { delete(m, "amount") }, "amount"},
		{"amount zero", func(m map[string]any) { m["amount"] = 0 }, "amount"},
		{"amount negative", func(m map[string]any) { m["amount"] = -5 }, "amount"},
		{"amount text", func(m map[string]any) { m["amount"] = "many" }, "amount"},
		{"amount fraction", func(m map[string]any) { m["amount"] = 10.5 }, "amount"},
		{"amount object", func(m map[string]any) { m["amount"] = map[string]any{"total": 1000} }, "amount"},
		{"name missing", func(m map[string]any) { delete(m, "name") }, "name"},
		{"name too long", func(m map[string]any) { m["name"] = strings.Repeat("가", 41) }, "name"},
		{"buyer_name too long", func(m map[string]any) { m["buyer_name"] = strings.Repeat("a", 17) }, "buyer_name"},
		{"buyer_email too long", func(m map[string]any) { m["buyer_email"] = strings.Repeat("a", 65) }, "buyer_email"},
		{"buyer_tel too long", func(m map[string]any) { m["buyer_tel"] = strings.Repeat("1", 17) }, "buyer_tel"},
		{"buyer_addr too long", func(m map[string]any) { m["buyer_addr"] = strings.Repeat("a", 129) }, "buyer_addr"},
		{"buyer_postcode too long", func(m map[string]any) { m["buyer_postcode"] = "123456789" }, "buyer_postcode"},
		{"card_quota one", func(m map[string]any) { m["card_quota"] = 1 }, "card_quota"},
		{"card_quota small amount", func(m map[string]any) { m["card_quota"] = 3 }, "50,000"},
		{"tax_free above amount", func(m map[string]any) { m["tax_free"] = 2000 }, "tax_free"},
		{"product_type", func(m map[string]any) { m["product_type"] = "other" }, "product_type"},
		{"channel_key too long", func(m map[string]any) { m["channel_key"] = strings.Repeat("k", 56) }, "channel_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := valid()
			c.change(m)
			r := e.call(http.MethodPost, "/subscribe/payments/again", m)
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.msg(), c.want)
			assert.Equal(t, "null", string(r.response))
		})
	}
	assert.Empty(t, e.srv.PaymentsByMerchantUID("order_v"), "no invalid request recorded anything")

	// Edge values that are valid.
	m := valid()
	m["customer_uid"] = "cust_1"
	m["merchant_uid"] = strings.Repeat("m", 40)
	m["name"] = strings.Repeat("가", 40)
	m["amount"] = 60000
	m["card_quota"] = 3
	r := e.call(http.MethodPost, "/subscribe/payments/again", m)
	require.Equal(t, 0, r.code, r.msg())
	assert.Equal(t, 3, as[iamport.Payment](t, r).CardQuota)
}

func TestAgainBadBodies(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	for _, c := range []struct {
		name, ctype, body string
		status            int
	}{
		{"broken json", "application/json", `{"customer_uid":`, http.StatusBadRequest},
		{"json array", "application/json", `[1,2]`, http.StatusBadRequest},
		{"json null", "application/json", `null`, http.StatusBadRequest},
		{"xml", "application/xml", `<a/>`, http.StatusBadRequest},
		{"bad form", "application/x-www-form-urlencoded", `a=%zz`, http.StatusBadRequest},
		{"multipart without boundary", "multipart/form-data", `x`, http.StatusBadRequest},
		{"empty", "application/json", ``, http.StatusOK}, // empty params: field errors
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(e.request(http.MethodPost, "/subscribe/payments/again", strings.NewReader(c.body), c.ctype))
			assert.Equal(t, c.status, r.status)
			assert.Equal(t, 1, r.code)
		})
	}
	big := `{"customer_uid":"` + strings.Repeat("x", maxAPIBody) + `"}`
	r := e.do(e.request(http.MethodPost, "/subscribe/payments/again", strings.NewReader(big), "application/json"))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	assert.Equal(t, 1, r.code)
}

func TestAgainNoticeURLWins(t *testing.T) {
	console := newHookReceiver(t)
	own := newHookReceiver(t)
	e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: console.srv.URL}))
	e.login()
	e.issue("cust_1", CardOK)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	r := e.call(http.MethodPost, "/subscribe/payments/again", map[string]any{
		"customer_uid": "cust_1", "merchant_uid": "order_1", "amount": 1000, "name": "plan",
		"notice_url": own.srv.URL,
	})
	require.Equal(t, 0, r.code)
	p := as[iamport.Payment](t, r)
	require.True(t, e.srv.WaitWebhooks(5*time.Second))
	assert.Equal(t, []string{p.ImpUID + ":paid"}, own.keys())
	assert.NotContains(t, console.keys(), p.ImpUID+":paid")
}

func TestAgainConcurrentSameMerchantUID(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("cust_1", CardOK)
	var wg sync.WaitGroup
	codes := make([]int, 32)
	for i := range codes {
		wg.Go(func() { codes[i] = e.again("cust_1", "order_race", 1000).code })
	}
	wg.Wait()
	paid := 0
	for _, c := range codes {
		if c == 0 {
			paid++
		} else {
			assert.Equal(t, -1, c)
		}
	}
	assert.Equal(t, 1, paid)
	assert.Len(t, e.srv.PaymentsByMerchantUID("order_race"), 1)
	assert.Equal(t, 32, e.srv.Count(EPAgain))
}

// The fake tells how many again requests for one merchant_uid overlapped.
func TestMaxConcurrentAgain(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	e.again("c1", "solo", 1000)
	e.again("c1", "solo", 1000) // refused as a duplicate, but after the first ended
	assert.Equal(t, map[string]int{"solo": 1}, e.srv.MaxConcurrentAgain())

	// Two at once: the first is held by a latency fault until the second has arrived.
	e.srv.Inject(EPAgain, Fault{Latency: 10 * time.Second})
	done := make(chan apiResp, 1)
	go func() { done <- e.again("c1", "pair", 1000) }()
	require.Eventually(t, func() bool { return e.srv.MaxConcurrentAgain()["pair"] == 1 }, 10*time.Second, time.Millisecond)
	e.again("c1", "pair", 1000)
	assert.Equal(t, 2, e.srv.MaxConcurrentAgain()["pair"])
	e.srv.Close() // releases the held request
	<-done
	assert.Equal(t, 1, e.srv.MaxConcurrentAgain()["solo"])
}
