package iamporttest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

func TestCustomerGetDelete(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	e.login()
	e.issue("cust/1 한글", CardDeclined)

	r := e.call(http.MethodGet, "/subscribe/customers/cust%2F1%20%ED%95%9C%EA%B8%80", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 0, r.code)
	c := as[iamport.Customer](t, r)
	assert.Equal(t, "cust/1 한글", c.CustomerUID)
	assert.Equal(t, "kcp_billing", c.PGProvider)
	assert.Equal(t, LiveSiteCode, c.PGID)
	assert.Equal(t, "국민KB카드", c.CardName)
	assert.Equal(t, "400000******0069", c.CardNumber)
	require.NotNil(t, c.CardType)
	assert.Equal(t, 0, *c.CardType)
	assert.Equal(t, iamport.Timestamp(start.Unix()), c.Inserted)

	r = e.call(http.MethodDelete, "/subscribe/customers/cust%2F1%20%ED%95%9C%EA%B8%80?reason=%ED%95%B4%EC%A7%80", nil)
	require.Equal(t, 0, r.code)
	assert.Equal(t, c, as[iamport.Customer](t, r), "delete returns the deleted customer")
	_, ok := e.srv.Customer("cust/1 한글")
	assert.False(t, ok)

	r = e.call(http.MethodGet, "/subscribe/customers/cust%2F1%20%ED%95%9C%EA%B8%80", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "요청하신 customer_uid(cust/1 한글)로 등록된 정보를 찾을 수 없습니다.", r.msg())
	r = e.call(http.MethodDelete, "/subscribe/customers/nobody", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestCustomerLegacyNotFound(t *testing.T) {
	e := newAPIEnv(t, WithLegacyNotFound(true))
	e.login()
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		r := e.call(m, "/subscribe/customers/nobody", nil)
		assert.Equal(t, http.StatusOK, r.status, m)
		assert.Equal(t, 1, r.code)
		assert.Equal(t, "요청하신 customer_uid(nobody)로 등록된 정보를 찾을 수 없습니다.", r.msg())
		assert.Equal(t, "null", string(r.response))
	}
}

func TestDeleteCustomerKey(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	assert.True(t, e.srv.DeleteCustomerKey("c1"))
	assert.False(t, e.srv.DeleteCustomerKey("c1"))
	assert.Equal(t, 1, e.again("c1", "o1", 100).code)
}

func TestGetPayment(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	p := as[iamport.Payment](t, e.again("c1", "o1", 1000))

	r := e.call(http.MethodGet, "/payments/"+p.ImpUID, nil)
	require.Equal(t, 0, r.code)
	assert.Equal(t, p, as[iamport.Payment](t, r))

	r = e.call(http.MethodGet, "/payments/imps_999999999999", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, -1, r.code)
	assert.Equal(t, "존재하지 않는 결제정보입니다.", r.msg())

	r = e.call(http.MethodGet, "/payments/"+p.ImpUID+"?include_sandbox=maybe", nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
}

func TestGetPaymentSandbox(t *testing.T) {
	e := newAPIEnv(t, WithSandbox(true))
	e.login()
	res := e.issue("c1", CardOK)
	require.Equal(t, boolPtr(true), res.Payment.Sandbox)
	c, _ := e.srv.Customer("c1")
	assert.Equal(t, boolPtr(true), c.Sandbox)
	p := as[iamport.Payment](t, e.again("c1", "o1", 1000))
	assert.Equal(t, boolPtr(true), p.Sandbox)

	r := e.call(http.MethodGet, "/payments/"+p.ImpUID, nil)
	assert.Equal(t, http.StatusNotFound, r.status, "sandbox payments are hidden by default")
	r = e.call(http.MethodGet, "/payments/"+p.ImpUID+"?include_sandbox=false", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	r = e.call(http.MethodGet, "/payments/"+p.ImpUID+"?include_sandbox=true", nil)
	require.Equal(t, 0, r.code)
	assert.Equal(t, p.ImpUID, as[iamport.Payment](t, r).ImpUID)
}

// threePayments makes failed, failed, paid payments under one merchant_uid, a minute apart.
func threePayments(t *testing.T, e *apiEnv) []iamport.Payment {
	t.Helper()
	e.issue("c1", CardDeclineAfter+"00")
	var out []iamport.Payment
	for range 2 {
		r := e.again("c1", "o1", 1000)
		require.Equal(t, 0, r.code)
		out = append(out, as[iamport.Payment](t, r))
		e.srv.Advance(time.Minute)
	}
	e.issue("c1", CardOK)
	r := e.again("c1", "o1", 1000)
	require.Equal(t, 0, r.code)
	out = append(out, as[iamport.Payment](t, r))
	require.Equal(t, iamport.StatusFailed, out[0].Status)
	require.Equal(t, iamport.StatusPaid, out[2].Status)
	return out
}

func TestFindPayment(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	ps := threePayments(t, e)

	find := func(path string) apiResp { return e.call(http.MethodGet, path, nil) }
	r := find("/payments/find/o1")
	require.Equal(t, 0, r.code)
	assert.Equal(t, ps[2].ImpUID, as[iamport.Payment](t, r).ImpUID, "newest by default")

	r = find("/payments/find/o1/failed")
	require.Equal(t, 0, r.code)
	assert.Equal(t, ps[1].ImpUID, as[iamport.Payment](t, r).ImpUID, "newest failed")

	r = find("/payments/find/o1/failed?sorting=started")
	assert.Equal(t, ps[0].ImpUID, as[iamport.Payment](t, r).ImpUID, "oldest failed")

	r = find("/payments/find/o1/paid/")
	assert.Equal(t, ps[2].ImpUID, as[iamport.Payment](t, r).ImpUID, "trailing slash")

	r = find("/payments/find/o1/cancelled")
	assert.Equal(t, http.StatusNotFound, r.status)
	r = find("/payments/find/nothing")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, -1, r.code)
	r = find("/payments/find/o1/weird")
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = find("/payments/find/o1?sorting=amount")
	assert.Equal(t, http.StatusBadRequest, r.status)
}

func TestFindAll(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	ps := threePayments(t, e)
	get := func(path string) apiResp { return e.call(http.MethodGet, path, nil) }

	r := get("/payments/findAll/o1")
	require.Equal(t, 0, r.code)
	page := as[iamport.PaymentPage](t, r)
	assert.Equal(t, 3, page.Total)
	assert.Equal(t, 0, page.Previous)
	assert.Equal(t, 0, page.Next)
	require.Len(t, page.List, 3)
	assert.Equal(t, ps[2].ImpUID, page.List[0].ImpUID)
	assert.Equal(t, ps[0].ImpUID, page.List[2].ImpUID)

	var seen []string
	for n := 1; n != 0; {
		page = as[iamport.PaymentPage](t, get(fmt.Sprintf("/payments/findAll/o1?limit=2&page=%d&sorting=started", n)))
		assert.Equal(t, 3, page.Total)
		for _, p := range page.List {
			seen = append(seen, p.ImpUID)
		}
		if n == 2 {
			assert.Equal(t, 1, page.Previous)
		}
		n = page.Next
	}
	assert.Equal(t, []string{ps[0].ImpUID, ps[1].ImpUID, ps[2].ImpUID}, seen)

	page = as[iamport.PaymentPage](t, get("/payments/findAll/o1?limit=2&page=9"))
	assert.Empty(t, page.List)
	assert.NotNil(t, page.List)
	assert.Equal(t, 0, page.Next)
	page = as[iamport.PaymentPage](t, get("/payments/findAll/o1?page=2147483647&limit=1000"))
	assert.Empty(t, page.List, "absurd pages are empty, not a crash")
	assert.Equal(t, http.StatusBadRequest, get("/payments/findAll/o1?page=9223372036854775807").status)

	page = as[iamport.PaymentPage](t, get("/payments/findAll/o1/failed"))
	assert.Equal(t, 2, page.Total)

	for _, q := range []string{"?page=0", "?page=x", "?limit=0", "?limit=1001", "?limit=-1", "?sorting=x"} {
		r = get("/payments/findAll/o1" + q)
		assert.Equal(t, http.StatusBadRequest, r.status, q)
		assert.NotEqual(t, 0, r.code)
	}
	assert.Equal(t, http.StatusBadRequest, get("/payments/findAll/o1/nope").status)
	assert.Equal(t, http.StatusNotFound, get("/payments/findAll/none").status)
	assert.Equal(t, http.StatusNotFound, get("/payments/findAll/o1/cancelled").status)
}

func TestPutPayment(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	p := as[iamport.Payment](t, e.again("c1", "o1", 1000))
	p.Amount = 1 // make the fake answer a mismatch
	e.srv.PutPayment(p)
	got := as[iamport.Payment](t, e.call(http.MethodGet, "/payments/"+p.ImpUID, nil))
	assert.Equal(t, int64(1), got.Amount)

	e.srv.PutPayment(iamport.Payment{MerchantUID: "o_new", Status: iamport.StatusReady, Amount: 5})
	list := e.srv.PaymentsByMerchantUID("o_new")
	require.Len(t, list, 1)
	assert.Regexp(t, impUIDRe, list[0].ImpUID)
	r := e.call(http.MethodGet, "/payments/find/o_new/ready", nil)
	assert.Equal(t, 0, r.code)

	// Moving a payment to another merchant_uid moves it in every lookup.
	moved := list[0]
	moved.MerchantUID = "o_moved"
	e.srv.PutPayment(moved)
	assert.Empty(t, e.srv.PaymentsByMerchantUID("o_new"))
	assert.Equal(t, http.StatusNotFound, e.call(http.MethodGet, "/payments/find/o_new", nil).status)
	r = e.call(http.MethodGet, "/payments/find/o_moved", nil)
	require.Equal(t, 0, r.code)
	assert.Equal(t, moved.ImpUID, as[iamport.Payment](t, r).ImpUID)
}
