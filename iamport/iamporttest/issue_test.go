package iamporttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

func baseIssue() IssueRequest {
	return IssueRequest{
		PG: "kcp_billing.A52CY", PayMethod: "card", MerchantUID: "reg_1", CustomerUID: "cust_1",
		Name: "정기결제 카드 등록", Amount: 0, BuyerName: "홍길동", BuyerEmail: "hong@example.com",
		BuyerTel: "010-0000-0000", CustomData: `{"user":7}`, CardNumber: CardOK,
	}
}

func TestIssueBillingKeyCards(t *testing.T) {
	cases := []struct {
		card     string
		issued   bool
		name     string
		masked   string
		charges  []iamport.PaymentStatus
		failWhat string
	}{
		{CardOK, true, "BC카드", "411111******1111", []iamport.PaymentStatus{"paid", "paid", "paid"}, ""},
		{"4111111111111111", true, "BC카드", "411111******1111", []iamport.PaymentStatus{"paid"}, ""},
		{"4111 1111 1111 1111", true, "BC카드", "411111******1111", []iamport.PaymentStatus{"paid"}, ""},
		{CardDeclined, true, "국민KB카드", "400000******0069", []iamport.PaymentStatus{"failed", "failed"}, ""},
		{CardDeclineAfter + "01", true, "신한카드", "400000******0301", []iamport.PaymentStatus{"paid", "failed"}, ""},
		{CardDeclineAfter + "00", true, "신한카드", "400000******0300", []iamport.PaymentStatus{"failed"}, ""},
		{CardRefused, false, "", "", nil, "refused"},
		{"4000-0000-0000-0001", false, "", "", nil, "unknown number"},
		{"4111-1111-1111", false, "", "", nil, "too short"},
		{"4111-1111-1111-11111", false, "", "", nil, "too long"},
		{"4111-1111-1111-111x", false, "", "", nil, "not digits"},
		{"", false, "", "", nil, "empty"},
	}
	for _, c := range cases {
		t.Run(c.card, func(t *testing.T) {
			start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			hooks := newHookReceiver(t)
			e := newAPIEnv(t, WithClock(start), WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
			req := baseIssue()
			req.CardNumber = c.card
			res, err := e.srv.IssueBillingKey(req)
			require.NoError(t, err)
			require.NotNil(t, res.Payment, "the card reached the PG: a payment is recorded")
			p := *res.Payment
			assert.Regexp(t, impUIDRe, p.ImpUID)
			assert.Equal(t, "reg_1", p.MerchantUID)
			assert.Equal(t, "cust_1", p.CustomerUID)
			assert.Equal(t, iamport.UsageIssue, p.CustomerUIDUsage)
			assert.Equal(t, "pc", p.Channel)
			assert.Equal(t, "kcp_billing", p.PGProvider)
			assert.Equal(t, "A52CY", p.PGID)
			assert.Equal(t, "card", p.PayMethod)
			stored, ok := e.srv.Payment(p.ImpUID)
			require.True(t, ok)
			assert.Equal(t, p, stored)
			assert.Empty(t, res.RedirectURL, "PC: no redirect")
			assert.Equal(t, p.ImpUID, res.Rsp["imp_uid"])
			assert.Equal(t, "kcp_billing", res.Rsp["pg_provider"])
			assert.NotContains(t, res.Rsp, "customer_uid")
			assert.Equal(t, json.RawMessage(`{"user":7}`), res.Rsp["custom_data"])

			cust, hasKey := e.srv.Customer("cust_1")
			if !c.issued {
				assert.False(t, hasKey, "no key stored")
				assert.Equal(t, iamport.StatusFailed, p.Status)
				assert.Equal(t, FailReasonRefused, p.FailReason)
				assert.NotZero(t, p.FailedAt)
				assert.Equal(t, false, res.Rsp["success"])
				assert.Equal(t, IssueErrRefused, res.Rsp["error_code"])
				assert.Equal(t, FailReasonRefused, res.Rsp["error_msg"])
				assert.Equal(t, "failed", res.Rsp["status"])
				require.True(t, e.srv.WaitWebhooks(5*time.Second))
				assert.Empty(t, hooks.received(), "a refused issuance sends no notification")
				e.login()
				assert.Equal(t, 1, e.again("cust_1", "o1", 1000).code, "no key to charge")
				// a failed issuance merchant_uid can be retried
				req.CardNumber = CardOK
				res2, err := e.srv.IssueBillingKey(req)
				require.NoError(t, err)
				assert.Equal(t, true, res2.Rsp["success"])
				return
			}
			require.True(t, hasKey)
			assert.Equal(t, iamport.StatusPaid, p.Status)
			assert.Equal(t, iamport.Timestamp(start.Unix()), p.PaidAt)
			assert.Equal(t, c.name, p.CardName)
			assert.Equal(t, c.masked, p.CardNumber)
			assert.Equal(t, e.srv.URL+"/receipts/"+p.ImpUID, p.ReceiptURL)

			assert.Equal(t, "cust_1", cust.CustomerUID)
			assert.Equal(t, "kcp_billing", cust.PGProvider)
			assert.Equal(t, "A52CY", cust.PGID)
			assert.Equal(t, c.name, cust.CardName)
			assert.Equal(t, c.masked, cust.CardNumber)
			require.NotNil(t, cust.CardType)
			assert.Equal(t, 0, *cust.CardType)
			assert.Equal(t, "홍길동", cust.CustomerName)
			assert.Equal(t, iamport.Timestamp(start.Unix()), cust.Inserted)
			assert.Equal(t, iamport.Timestamp(start.Unix()), cust.Updated)

			rsp := res.Rsp
			assert.Equal(t, true, rsp["success"])
			assert.Nil(t, rsp["error_code"])
			assert.Nil(t, rsp["error_msg"])
			assert.Equal(t, "reg_1", rsp["merchant_uid"])
			assert.Equal(t, "card", rsp["pay_method"])
			assert.Equal(t, int64(0), rsp["paid_amount"])
			assert.Equal(t, "paid", rsp["status"])
			assert.Equal(t, "정기결제 카드 등록", rsp["name"])
			assert.Equal(t, p.PGTID, rsp["pg_tid"])
			assert.Equal(t, "홍길동", rsp["buyer_name"])
			assert.Equal(t, "hong@example.com", rsp["buyer_email"])
			assert.Equal(t, "010-0000-0000", rsp["buyer_tel"])
			assert.Equal(t, start.Unix(), rsp["paid_at"])
			assert.Equal(t, p.ReceiptURL, rsp["receipt_url"])
			assert.Equal(t, p.ApplyNum, rsp["apply_num"])
			assert.Equal(t, c.name, rsp["card_name"])
			assert.Equal(t, c.masked, rsp["card_number"])
			assert.Equal(t, "KRW", rsp["currency"])
			_, err = json.Marshal(rsp)
			assert.NoError(t, err, "rsp is JSON for the window")

			require.True(t, e.srv.WaitWebhooks(5*time.Second))
			assert.Equal(t, []string{p.ImpUID + ":paid"}, hooks.keys(), "issuance notifies")

			e.login()
			var got []iamport.PaymentStatus
			for i := range c.charges {
				r := e.again("cust_1", "o_"+string(rune('a'+i)), 1000)
				require.Equal(t, 0, r.code)
				got = append(got, as[iamport.Payment](t, r).Status)
			}
			assert.Equal(t, c.charges, got)
		})
	}
}

func TestIssueBillingKeyRules(t *testing.T) {
	cases := []struct {
		name   string
		change func(r *IssueRequest)
	}{
		{"pg missing", func(r *IssueRequest) { r.PG = "" }},
		{"pg kcp", func(r *IssueRequest) { r.PG = "kcp" }},
		{"pg other", func(r *IssueRequest) { r.PG = "html5_inicis" }},
		{"pg empty site", func(r *IssueRequest) { r.PG = "kcp_billing." }},
		{"pg bad site", func(r *IssueRequest) { r.PG = "kcp_billing.a/b" }},
		{"pay_method trans", func(r *IssueRequest) { r.PayMethod = "trans" }},
		{"customer_uid missing", func(r *IssueRequest) { r.CustomerUID = "" }},
		{"customer_uid too long", func(r *IssueRequest) { r.CustomerUID = strings.Repeat("c", 81) }},
		{"merchant_uid missing", func(r *IssueRequest) { r.MerchantUID = "" }},
		{"merchant_uid too long", func(r *IssueRequest) { r.MerchantUID = strings.Repeat("m", 41) }},
		{"amount negative", func(r *IssueRequest) { r.Amount = -1 }},
		{"mobile without m_redirect_url", func(r *IssueRequest) { r.Mobile = true }},
		{"mobile relative m_redirect_url", func(r *IssueRequest) { r.Mobile = true; r.MRedirectURL = "/done" }},
		{"mobile javascript m_redirect_url", func(r *IssueRequest) { r.Mobile = true; r.MRedirectURL = "javascript:alert(1)" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hooks := newHookReceiver(t)
			e := newAPIEnv(t, WithWebhook(WebhookConfig{URL: hooks.srv.URL}))
			req := baseIssue()
			c.change(&req)
			res, err := e.srv.IssueBillingKey(req)
			require.NoError(t, err)
			assert.Nil(t, res.Payment)
			assert.Equal(t, false, res.Rsp["success"])
			assert.Equal(t, IssueErrInvalid, res.Rsp["error_code"])
			assert.NotEmpty(t, res.Rsp["error_msg"])
			assert.Nil(t, res.Rsp["imp_uid"])
			assert.Empty(t, res.RedirectURL)
			_, hasKey := e.srv.Customer(req.CustomerUID)
			assert.False(t, hasKey)
			assert.Empty(t, e.srv.PaymentsByMerchantUID(req.MerchantUID))
			require.True(t, e.srv.WaitWebhooks(5*time.Second))
			assert.Empty(t, hooks.received())
		})
	}

	t.Run("defaults", func(t *testing.T) {
		e := newAPIEnv(t)
		req := baseIssue()
		req.PG, req.PayMethod, req.Amount = "kcp_billing", "", 1000
		res, err := e.srv.IssueBillingKey(req)
		require.NoError(t, err)
		require.NotNil(t, res.Payment)
		assert.Equal(t, "card", res.Payment.PayMethod)
		assert.Equal(t, LiveSiteCode, res.Payment.PGID)
		assert.Equal(t, int64(1000), res.Payment.Amount, "the displayed amount")
		assert.Equal(t, int64(1000), res.Rsp["paid_amount"])
	})

	t.Run("merchant_uid already paid", func(t *testing.T) {
		e := newAPIEnv(t)
		_, err := e.srv.IssueBillingKey(baseIssue())
		require.NoError(t, err)
		req := baseIssue()
		req.CustomerUID = "cust_2"
		res, err := e.srv.IssueBillingKey(req)
		require.NoError(t, err)
		assert.Equal(t, IssueErrInvalid, res.Rsp["error_code"])
		assert.Equal(t, msgDuplicateOrder, res.Rsp["error_msg"])
		_, hasKey := e.srv.Customer("cust_2")
		assert.False(t, hasKey)
	})

	t.Run("nil fake", func(t *testing.T) {
		var f *Fake
		res, err := f.IssueBillingKey(baseIssue())
		assert.Error(t, err)
		assert.Nil(t, res)
	})
}

func TestIssueBillingKeyReplaces(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	_, err := e.srv.IssueBillingKey(baseIssue())
	require.NoError(t, err)
	e.srv.Advance(time.Hour)
	req := baseIssue()
	req.MerchantUID, req.CardNumber = "reg_2", CardDeclined
	res, err := e.srv.IssueBillingKey(req)
	require.NoError(t, err)
	require.Equal(t, true, res.Rsp["success"])
	c, _ := e.srv.Customer("cust_1")
	assert.Equal(t, "국민KB카드", c.CardName, "the newest card replaces the old key")
	assert.Equal(t, iamport.Timestamp(start.Unix()), c.Inserted)
	assert.Equal(t, iamport.Timestamp(start.Add(time.Hour).Unix()), c.Updated)
	e.login()
	r := e.again("cust_1", "o1", 1000)
	assert.Equal(t, iamport.StatusFailed, as[iamport.Payment](t, r).Status)
}

func TestIssueBillingKeyMobile(t *testing.T) {
	e := newAPIEnv(t)

	req := baseIssue()
	req.Mobile = true
	req.MRedirectURL = "https://shop.example/billing/return?plan=basic&x=a%20b#top"
	res, err := e.srv.IssueBillingKey(req)
	require.NoError(t, err)
	require.NotNil(t, res.Payment)
	assert.Equal(t, "mobile", res.Payment.Channel)
	u, err := url.Parse(res.RedirectURL)
	require.NoError(t, err)
	assert.Equal(t, "shop.example", u.Host)
	assert.Equal(t, "/billing/return", u.Path)
	assert.Equal(t, "top", u.Fragment)
	assert.True(t, strings.HasPrefix(u.RawQuery, "plan=basic&x=a%20b&"), "the merchant's query is kept as is: %s", u.RawQuery)
	q := u.Query()
	assert.Equal(t, res.Payment.ImpUID, q.Get("imp_uid"))
	assert.Equal(t, "reg_1", q.Get("merchant_uid"))
	assert.Equal(t, "true", q.Get("imp_success"))
	assert.False(t, q.Has("error_code"))
	assert.False(t, q.Has("error_msg"))
	assert.Equal(t, "basic", q.Get("plan"))

	req = baseIssue()
	req.Mobile, req.MRedirectURL, req.MerchantUID, req.CardNumber = true, "http://m.shop.example/r", "reg_2", CardRefused
	res, err = e.srv.IssueBillingKey(req)
	require.NoError(t, err)
	u, err = url.Parse(res.RedirectURL)
	require.NoError(t, err)
	q = u.Query()
	assert.Equal(t, res.Payment.ImpUID, q.Get("imp_uid"))
	assert.Equal(t, "false", q.Get("imp_success"))
	assert.Equal(t, IssueErrRefused, q.Get("error_code"))
	assert.Equal(t, FailReasonRefused, q.Get("error_msg"))

	// Broken rule on mobile: redirected with the error and without imp_uid.
	req = baseIssue()
	req.Mobile, req.MRedirectURL, req.PayMethod = true, "http://m.shop.example/r?a=1", "vbank"
	res, err = e.srv.IssueBillingKey(req)
	require.NoError(t, err)
	u, err = url.Parse(res.RedirectURL)
	require.NoError(t, err)
	q = u.Query()
	assert.False(t, q.Has("imp_uid"))
	assert.Equal(t, "reg_1", q.Get("merchant_uid"))
	assert.Equal(t, "1", q.Get("a"))
	assert.Equal(t, "false", q.Get("imp_success"))
	assert.Equal(t, IssueErrInvalid, q.Get("error_code"))
	assert.NotEmpty(t, q.Get("error_msg"))
}

func TestIssueReceiptPage(t *testing.T) {
	e := newAPIEnv(t)
	req := baseIssue()
	req.Name = "<script>x</script>"
	res, err := e.srv.IssueBillingKey(req)
	require.NoError(t, err)
	resp, err := e.hc.Get(res.Payment.ReceiptURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	buf := new(strings.Builder)
	_, _ = io.Copy(buf, resp.Body)
	assert.Contains(t, buf.String(), res.Payment.ImpUID)
	assert.NotContains(t, buf.String(), "<script>")

	resp2, err := e.hc.Get(e.srv.URL + "/receipts/imps_000000000000")
	require.NoError(t, err)
	resp2.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp2.StatusCode)
}
