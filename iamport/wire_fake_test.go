package iamport_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// The fake writes its answers from its own types, keyed as the specification says; the
// client reads them through its own. Storing records with every field set and reading
// them back through every endpoint shows each field arrives: a wrong json name on either
// side leaves a field empty and fails here.

func ptrTo[T any](v T) *T { return &v }

// fullPayment has every field of iamport.Payment set (AmountNotWhole aside, which no whole
// amount sets).
func fullPayment() iamport.Payment {
	return iamport.Payment{
		ImpUID: "imp_100000000042", MerchantUID: "order_full", PayMethod: "card", Channel: "api",
		PGProvider: "kcp_billing", EmbPGProvider: "kakaopay", PGTID: "23111412345678", PGID: "A52CY",
		Sandbox: ptrTo(true), Escrow: true, ApplyNum: "30017834", BankCode: "004", BankName: "KB국민은행",
		CardCode: "361", CardName: "BC카드", CardIssuerCode: "361", CardIssuerName: "BC카드",
		CardPublisherCode: "361", CardPublisherName: "BC카드", CardQuota: 3, CardNumber: "411111******1111",
		CardType: ptrTo(1), Name: "베이직 (월간)", Amount: 59000, CancelAmount: 1000, Currency: "KRW",
		BuyerName: "홍길동", BuyerEmail: "hong@example.com", BuyerTel: "010-1234-5678",
		BuyerAddr: "서울특별시 중구", BuyerPostcode: "04524", CustomData: `{"plan":"basic"}`,
		UserAgent: "Mozilla/5.0", Status: iamport.StatusCancelled, StartedAt: 1700000001, PaidAt: 1700000002,
		FailedAt: 1700000003, CancelledAt: 1700000004, FailReason: "한도초과", CancelReason: "고객 요청",
		ReceiptURL: "https://receipt.example/1",
		CancelHistory: []iamport.Cancel{{
			PGTID: "23111412345679", Amount: 1000, CancelledAt: 1700000004, Reason: "고객 요청",
			CancellationID: "c7f1a2b3d4e5f6a7b8c9", ReceiptURL: "https://receipt.example/c1",
		}},
		CashReceiptIssued: true, CustomerUID: "cust_full", CustomerUIDUsage: iamport.UsagePayment,
	}
}

func fullCustomer() iamport.Customer {
	return iamport.Customer{
		CustomerUID: "cust_full", PGProvider: "kcp_billing", PGID: "A52CY", Sandbox: ptrTo(true),
		CustomerID: "member-7", CardName: "BC카드", CardCode: "361", CardIssuerCode: "361",
		CardIssuerName: "BC카드", CardPublisherCode: "361", CardPublisherName: "BC카드",
		CardNumber: "411111******1111", CardType: ptrTo(1), CustomerName: "홍길동",
		CustomerTel: "010-1234-5678", CustomerEmail: "hong@example.com", CustomerAddr: "서울특별시 중구",
		CustomerPostcode: "04524", Inserted: 1700000001, Updated: 1700000002,
	}
}

// requireAllSet fails when a field of v (a struct) is its zero value, except the named
// ones: a field nobody sets would let a wrong name through.
func requireAllSet(t *testing.T, v any, except ...string) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := 0; i < rv.NumField(); i++ {
		name := rv.Type().Field(i).Name
		if rv.Field(i).IsZero() && !contains(except, name) {
			t.Fatalf("%s.%s is not set: set every field so that each one is checked", rv.Type().Name(), name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestClientReadsEveryPaymentFieldTheFakeWrites(t *testing.T) {
	srv, c := newFake(t)
	ctx := context.Background()
	want := fullPayment()
	requireAllSet(t, want, "AmountNotWhole")
	requireAllSet(t, want.CancelHistory[0], "AmountNotWhole")
	srv.PutPayment(want)

	stored, ok := srv.Payment(want.ImpUID)
	require.True(t, ok)
	assert.Equal(t, want, stored, "the fake stores what it was given")

	got, err := c.GetPayment(ctx, want.ImpUID, true)
	require.NoError(t, err)
	assert.Equal(t, stored, *got, "GET /payments/{imp_uid}")

	got, err = c.FindPayment(ctx, want.MerchantUID, "")
	require.NoError(t, err)
	assert.Equal(t, stored, *got, "GET /payments/find/{merchant_uid}")

	page, err := c.FindAllPayments(ctx, iamport.FindAllRequest{MerchantUID: want.MerchantUID})
	require.NoError(t, err)
	require.Len(t, page.List, 1)
	assert.Equal(t, stored, page.List[0], "GET /payments/findAll/{merchant_uid}")
	assert.Equal(t, 1, page.Total)
}

func TestClientReadsEveryCustomerFieldTheFakeWrites(t *testing.T) {
	srv, c := newFake(t)
	want := fullCustomer()
	requireAllSet(t, want)
	require.NoError(t, srv.PutCustomer(want, iamporttest.CardOK))

	stored, ok := srv.Customer(want.CustomerUID)
	require.True(t, ok)
	assert.Equal(t, want, stored)

	got, err := c.GetCustomer(context.Background(), want.CustomerUID)
	require.NoError(t, err)
	assert.Equal(t, stored, *got, "GET /subscribe/customers/{customer_uid}")

	deleted, err := c.DeleteCustomer(context.Background(), want.CustomerUID, "")
	require.NoError(t, err)
	assert.Equal(t, stored, *deleted, "DELETE answers the deleted key")
}

// Every answer of a charge's life: again, the lookups, a cancellation.
func TestClientReadsTheFakesChargeAnswers(t *testing.T) {
	srv, c := newFake(t)
	ctx := context.Background()
	issueKey(t, srv, "cust_1", iamporttest.CardOK)
	req := charge("cust_1", "order_1", 59000)
	req.BuyerName, req.BuyerEmail, req.BuyerTel, req.BuyerAddr, req.BuyerPostcode = "홍길동", "hong@example.com", "010-1234-5678", "서울", "04524"
	req.CustomData, req.CardQuota = `{"a":1}`, 3
	p, err := c.Again(ctx, req)
	require.NoError(t, err)
	stored, _ := srv.Payment(p.ImpUID)
	assert.Equal(t, stored, *p, "again")
	assert.Equal(t, 3, p.CardQuota)
	assert.Equal(t, "홍길동", p.BuyerName)

	cancelled, err := c.CancelPayment(ctx, iamport.CancelRequest{ImpUID: p.ImpUID, Amount: 9000, Reason: "부분 취소"})
	require.NoError(t, err)
	stored, _ = srv.Payment(p.ImpUID)
	assert.Equal(t, stored, *cancelled, "cancel")
	require.Len(t, cancelled.CancelHistory, 1)
	requireAllSet(t, cancelled.CancelHistory[0], "AmountNotWhole")
}

func TestClientReadsTheFakesSchedules(t *testing.T) {
	start := time.Unix(1700000000, 0)
	srv, c := newFake(t, iamporttest.WithClock(start))
	ctx := context.Background()
	issueKey(t, srv, "cust_1", iamporttest.CardOK)
	entry := iamport.ScheduleEntry{
		MerchantUID: "sched_1", ScheduleAt: iamport.Timestamp(start.Add(time.Hour).Unix()), Amount: 9900, Name: "월 구독",
		BuyerName: "홍길동", BuyerEmail: "hong@example.com", BuyerTel: "010-1234-5678", BuyerAddr: "서울",
		BuyerPostcode: "04524", CustomData: `{"a":1}`,
	}
	out, err := c.Schedule(ctx, iamport.ScheduleRequest{CustomerUID: "cust_1", Schedules: []iamport.ScheduleEntry{entry}})
	require.NoError(t, err)
	stored, ok := srv.Schedule("sched_1")
	require.True(t, ok)
	require.Len(t, out, 1)
	assert.Equal(t, stored, out[0], "schedule")

	srv.Advance(2 * time.Hour)
	got, err := c.GetSchedule(ctx, "sched_1")
	require.NoError(t, err)
	stored, _ = srv.Schedule("sched_1")
	assert.Equal(t, stored, *got, "an executed schedule")
	// Set by the fake: everything but what only revoking, promotions and customer ids fill.
	requireAllSet(t, *got, "RevokedAt", "CustomerID", "PromotionID", "FailReason", "AmountNotWhole")
}
