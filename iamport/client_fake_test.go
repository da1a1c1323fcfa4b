package iamport_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// These tests run the client against the in-process fake of iamport: every endpoint, every
// error class, and every fault the fake can inject.

func newFake(t *testing.T, opts ...iamporttest.Option) (*iamporttest.Server, *iamport.Client) {
	t.Helper()
	srv := iamporttest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

var issueSeq atomic.Int64

// issueKey stores a billing key for customerUID at the fake with the given test card.
func issueKey(t *testing.T, srv *iamporttest.Server, customerUID, card string) *iamport.Payment {
	t.Helper()
	res, err := srv.IssueBillingKey(iamporttest.IssueRequest{
		PG: "kcp_billing", MerchantUID: "issue_" + strconv.FormatInt(issueSeq.Add(1), 10),
		CustomerUID: customerUID, Name: "정기결제 등록", CardNumber: card,
	})
	require.NoError(t, err)
	require.NotNil(t, res.Payment)
	return res.Payment
}

func charge(customerUID, merchantUID string, amount int64) iamport.AgainRequest {
	return iamport.AgainRequest{CustomerUID: customerUID, MerchantUID: merchantUID, Amount: amount, Name: "월 구독"}
}

func TestFakeEveryEndpoint(t *testing.T) {
	srv, c := newFake(t)
	ctx := context.Background()

	issued := issueKey(t, srv, "cust_1", iamporttest.CardOK)
	assert.Equal(t, iamport.UsageIssue, issued.CustomerUIDUsage)

	tok, err := c.Token(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, tok)

	cu, err := c.GetCustomer(ctx, "cust_1")
	require.NoError(t, err)
	assert.Equal(t, "cust_1", cu.CustomerUID)
	assert.Equal(t, "kcp_billing", cu.PGProvider)
	assert.NotEmpty(t, cu.CardNumber)

	p, err := c.Again(ctx, charge("cust_1", "order_1", 9900))
	require.NoError(t, err)
	assert.Equal(t, iamport.StatusPaid, p.Status)
	assert.Equal(t, int64(9900), p.Amount)
	assert.Equal(t, iamport.UsagePayment, p.CustomerUIDUsage)

	got, err := c.GetPayment(ctx, p.ImpUID, false)
	require.NoError(t, err)
	assert.Equal(t, p.ImpUID, got.ImpUID)
	assert.Equal(t, iamport.StatusPaid, got.Status)

	found, err := c.FindPayment(ctx, "order_1", "")
	require.NoError(t, err)
	assert.Equal(t, p.ImpUID, found.ImpUID)
	found, err = c.FindPayment(ctx, "order_1", iamport.StatusPaid)
	require.NoError(t, err)
	assert.Equal(t, p.ImpUID, found.ImpUID)
	_, err = c.FindPayment(ctx, "order_1", iamport.StatusFailed)
	assert.ErrorIs(t, err, iamport.ErrNotFound)

	// Partial then full cancellation, with the balance checksum.
	cancelled, err := c.CancelPayment(ctx, iamport.CancelRequest{ImpUID: p.ImpUID, Amount: 900, Checksum: ptr(9900), Reason: "부분 환불"})
	require.NoError(t, err)
	assert.Equal(t, int64(900), cancelled.CancelAmount)
	require.Len(t, cancelled.CancelHistory, 1)
	assert.Equal(t, int64(900), cancelled.CancelHistory[0].Amount)
	_, err = c.CancelPayment(ctx, iamport.CancelRequest{ImpUID: p.ImpUID, Amount: 100, Checksum: ptr(9900)})
	var ae *iamport.APIError
	require.ErrorAs(t, err, &ae, "a stale checksum is refused")
	cancelled, err = c.CancelPayment(ctx, iamport.CancelRequest{MerchantUID: "order_1", Checksum: ptr(9000), Reason: "해지", EnableWebhook: true})
	require.NoError(t, err)
	assert.Equal(t, iamport.StatusCancelled, cancelled.Status)
	assert.Equal(t, int64(9900), cancelled.CancelAmount)

	// A second failed-free charge, then paging through findAll.
	for i := range 3 {
		_, err := c.Again(ctx, charge("cust_1", "order_p"+strconv.Itoa(i), 1000))
		require.NoError(t, err)
	}
	page, err := c.FindAllPayments(ctx, iamport.FindAllRequest{MerchantUID: "order_p1"})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Total)
	require.Len(t, page.List, 1)
	assert.Equal(t, "order_p1", page.List[0].MerchantUID)

	// Schedules: register, read, run by advancing the fake clock, revoke.
	at := srv.Now().Add(time.Hour)
	res, err := c.Schedule(ctx, iamport.ScheduleRequest{CustomerUID: "cust_1", Schedules: []iamport.ScheduleEntry{
		{MerchantUID: "sched_1", ScheduleAt: iamport.Timestamp(at.Unix()), Amount: 4900, Name: "정기"},
		{MerchantUID: "sched_2", ScheduleAt: iamport.Timestamp(at.Add(24 * time.Hour).Unix()), Amount: 4900, Name: "정기"},
	}})
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, iamport.ScheduleScheduled, res[0].ScheduleStatus)
	sr, err := c.GetSchedule(ctx, "sched_1")
	require.NoError(t, err)
	assert.Equal(t, iamport.Timestamp(at.Unix()), sr.ScheduleAt)

	srv.Advance(2 * time.Hour)
	sr, err = c.GetSchedule(ctx, "sched_1")
	require.NoError(t, err)
	assert.Equal(t, iamport.ScheduleExecuted, sr.ScheduleStatus)
	assert.Equal(t, iamport.StatusPaid, sr.PaymentStatus)
	require.NotEmpty(t, sr.ImpUID)
	run, err := c.GetPayment(ctx, sr.ImpUID, false)
	require.NoError(t, err)
	assert.Equal(t, iamport.UsagePaymentScheduled, run.CustomerUIDUsage)

	revoked, err := c.Unschedule(ctx, iamport.UnscheduleRequest{CustomerUID: "cust_1", MerchantUIDs: []string{"sched_2"}})
	require.NoError(t, err)
	require.Len(t, revoked, 1)
	assert.Equal(t, iamport.ScheduleRevoked, revoked[0].ScheduleStatus)
	_, err = c.Unschedule(ctx, iamport.UnscheduleRequest{CustomerUID: "cust_1", MerchantUIDs: []string{"sched_2"}})
	require.ErrorAs(t, err, &ae, "nothing left to revoke")
	_, err = c.GetSchedule(ctx, "sched_nope")
	assert.ErrorIs(t, err, iamport.ErrNotFound)

	// Deleting the key; afterwards it is not found.
	deleted, err := c.DeleteCustomer(ctx, "cust_1", "회원 탈퇴")
	require.NoError(t, err)
	assert.Equal(t, "cust_1", deleted.CustomerUID)
	_, err = c.GetCustomer(ctx, "cust_1")
	assert.ErrorIs(t, err, iamport.ErrNotFound)
	_, err = c.DeleteCustomer(ctx, "cust_1", "")
	assert.ErrorIs(t, err, iamport.ErrNotFound)

	// One token for the whole run, plus one refresh: moving the fake's clock two hours
	// expired the first token there, and the next call met a 401.
	assert.Equal(t, 2, srv.Count(iamporttest.EPGetToken))
}

func ptr(v int64) *int64 { return &v }

func TestFakeNotFoundBothForms(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run("legacy="+strconv.FormatBool(legacy), func(t *testing.T) {
			_, c := newFake(t, iamporttest.WithLegacyNotFound(legacy))
			_, err := c.GetCustomer(context.Background(), "cust_missing_0123456789")
			assert.ErrorIs(t, err, iamport.ErrNotFound)
			assert.ErrorIs(t, err, iamport.ErrCustomerNotFound)
			assert.NotContains(t, err.Error(), "cust_missing_0123456789")
			_, err = c.DeleteCustomer(context.Background(), "cust_missing_0123456789", "")
			assert.ErrorIs(t, err, iamport.ErrNotFound)
			assert.ErrorIs(t, err, iamport.ErrCustomerNotFound)
			_, err = c.GetPayment(context.Background(), "imps_000000000000", true)
			assert.ErrorIs(t, err, iamport.ErrNotFound)
		})
	}
}

func TestFakeSandboxLookup(t *testing.T) {
	srv, c := newFake(t, iamporttest.WithSandbox(true))
	issueKey(t, srv, "cust_s", iamporttest.CardOK)
	p, err := c.Again(context.Background(), charge("cust_s", "order_s", 1000))
	require.NoError(t, err)
	require.NotNil(t, p.Sandbox)
	assert.True(t, *p.Sandbox)
	got, err := c.GetPayment(context.Background(), p.ImpUID, true)
	require.NoError(t, err)
	require.NotNil(t, got.Sandbox)
	assert.True(t, *got.Sandbox)
	_, err = c.GetPayment(context.Background(), p.ImpUID, false)
	assert.ErrorIs(t, err, iamport.ErrNotFound, "test-channel payments are hidden without include_sandbox")
}

func TestFakeAgainErrorClasses(t *testing.T) {
	srv, c := newFake(t)
	ctx := context.Background()
	issueKey(t, srv, "cust_ok", iamporttest.CardOK)
	issueKey(t, srv, "cust_declined", iamporttest.CardDeclined)
	issueKey(t, srv, "cust_two", iamporttest.CardDeclineAfter+"02")

	// Declined: code 0, status failed.
	_, err := c.Again(ctx, charge("cust_declined", "order_d1", 5000))
	var de *iamport.DeclinedError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, iamport.ErrDeclined)
	assert.Equal(t, iamporttest.FailReasonDeclined, de.FailReason)
	assert.Equal(t, iamport.StatusFailed, de.Payment.Status)
	assert.NotEmpty(t, de.Payment.ImpUID)

	// Declined after two paid charges.
	for i := range 2 {
		_, err := c.Again(ctx, charge("cust_two", "order_two_"+strconv.Itoa(i), 1000))
		require.NoError(t, err)
	}
	_, err = c.Again(ctx, charge("cust_two", "order_two_2", 1000))
	assert.ErrorIs(t, err, iamport.ErrDeclined)

	// Unknown customer: a request-level failure, no payment, the key is gone.
	_, err = c.Again(ctx, charge("cust_unknown", "order_u", 1000))
	var ae *iamport.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 200, ae.HTTPStatus)
	assert.NotZero(t, ae.Code)
	assert.ErrorIs(t, err, iamport.ErrCustomerNotFound)
	assert.NotErrorIs(t, err, iamport.ErrNotFound, "again is not a lookup")
	assert.NotErrorIs(t, err, iamport.ErrOutcomeUnknown)
	assert.NotErrorIs(t, err, iamport.ErrDeclined)
	assert.Empty(t, srv.PaymentsByMerchantUID("order_u"))

	// A key deleted from the console is as gone.
	issueKey(t, srv, "cust_deleted", iamporttest.CardOK)
	require.True(t, srv.DeleteCustomerKey("cust_deleted"))
	_, err = c.Again(ctx, charge("cust_deleted", "order_del", 1000))
	assert.ErrorIs(t, err, iamport.ErrCustomerNotFound)

	// Any other refusal (code -1: nothing charged, try later) is a plain APIError.
	srv.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: -1, Message: "카드사 통신에 일시적인 장애가 있습니다. 잠시 후 다시 시도해주세요."})
	_, err = c.Again(ctx, charge("cust_ok", "order_later", 1000))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, -1, ae.Code)
	assert.Contains(t, ae.Message, "잠시 후")
	assert.NotErrorIs(t, err, iamport.ErrCustomerNotFound)
	assert.NotErrorIs(t, err, iamport.ErrDeclined)
	assert.NotErrorIs(t, err, iamport.ErrOutcomeUnknown)
	assert.Empty(t, srv.PaymentsByMerchantUID("order_later"), "the fault acts for nothing")

	// Duplicate merchant_uid of a paid payment.
	_, err = c.Again(ctx, charge("cust_ok", "order_dup", 1000))
	require.NoError(t, err)
	_, err = c.Again(ctx, charge("cust_ok", "order_dup", 1000))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, -1, ae.Code)
	assert.Len(t, srv.PaymentsByMerchantUID("order_dup"), 1)

	// A declined merchant_uid may be charged again (with another key here).
	_, err = c.Again(ctx, charge("cust_ok", "order_d1", 5000))
	require.NoError(t, err)
}

// TestFakeFaults maps every fault the fake can inject on again to the client's error
// class, and checks what the fake recorded and that again was called exactly once.
func TestFakeFaults(t *testing.T) {
	cases := []struct {
		name     string
		fault    iamporttest.Fault
		timeout  time.Duration
		want     error // nil = success
		recorded bool  // a paid payment exists at the fake afterwards
	}{
		{"latency within budget", iamporttest.Fault{Latency: 20 * time.Millisecond}, 0, nil, true},
		{"5xx", iamporttest.Fault{Status: 502}, 0, iamport.ErrOutcomeUnknown, false},
		{"non-zero code", iamporttest.Fault{Code: -1, Message: "PG사 통신 실패"}, 0, nil, false},
		{"drop before recording", iamporttest.Fault{DropBefore: true}, 0, iamport.ErrOutcomeUnknown, false},
		{"record then drop", iamporttest.Fault{DropAfter: true}, 0, iamport.ErrOutcomeUnknown, true},
		{"truncate", iamporttest.Fault{Truncate: true}, 0, iamport.ErrOutcomeUnknown, true},
		{"stall past the deadline", iamporttest.Fault{Stall: time.Minute}, 200 * time.Millisecond, iamport.ErrOutcomeUnknown, true},
		{"latency past the deadline", iamporttest.Fault{Latency: time.Minute}, 200 * time.Millisecond, iamport.ErrOutcomeUnknown, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := newFake(t)
			issueKey(t, srv, "cust_f", iamporttest.CardOK)
			_, err := c.Token(context.Background())
			require.NoError(t, err)
			srv.Inject(iamporttest.EPAgain, tc.fault)

			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			p, err := c.Again(ctx, charge("cust_f", "order_f", 7000))
			switch {
			case tc.fault.Code != 0:
				var ae *iamport.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tc.fault.Code, ae.Code)
				assert.Equal(t, "PG사 통신 실패", ae.Message)
				assert.NotErrorIs(t, err, iamport.ErrOutcomeUnknown)
			case tc.want == nil:
				require.NoError(t, err)
				assert.Equal(t, iamport.StatusPaid, p.Status)
			default:
				require.ErrorIs(t, err, tc.want)
				assert.NotErrorIs(t, err, iamport.ErrNotSent)
			}
			assert.Equal(t, 1, srv.Count(iamporttest.EPAgain), "again reached the fake exactly once")

			// Reconcile with a lookup: it tells the truth about what happened.
			found, lookErr := c.FindPayment(context.Background(), "order_f", iamport.StatusPaid)
			if tc.recorded {
				require.NoError(t, lookErr)
				assert.Equal(t, int64(7000), found.Amount)
			} else {
				assert.ErrorIs(t, lookErr, iamport.ErrNotFound)
			}
		})
	}
}

// TestFakeLookupFaultsAreRetried: lookups survive the same faults by retrying.
func TestFakeLookupFaultsAreRetried(t *testing.T) {
	srv, c := newFake(t)
	issueKey(t, srv, "cust_l", iamporttest.CardOK)
	p, err := c.Again(context.Background(), charge("cust_l", "order_l", 1000))
	require.NoError(t, err)
	srv.Inject(iamporttest.EPGetPayment,
		iamporttest.Fault{Status: 503}, iamporttest.Fault{DropBefore: true}, iamporttest.Fault{Truncate: true})
	got, err := c.GetPayment(context.Background(), p.ImpUID, false)
	require.NoError(t, err)
	assert.Equal(t, p.ImpUID, got.ImpUID)
	assert.Equal(t, 4, srv.Count(iamporttest.EPGetPayment))

	srv.Inject(iamporttest.EPFindPayment, iamporttest.Fault{Status: 500}, iamporttest.Fault{Status: 500},
		iamporttest.Fault{Status: 500}, iamporttest.Fault{Status: 500})
	_, err = c.FindPayment(context.Background(), "order_l", "")
	var ae *iamport.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 500, ae.HTTPStatus)
	assert.Equal(t, 1+iamport.DefaultMaxRetries, srv.Count(iamporttest.EPFindPayment), "retries are bounded")
}

// TestFakeNoSecondAgainWithoutLookup (R6): a caller that follows the client's error
// classes, against a fake failing at every point, never sends a second again for a
// merchant_uid without a lookup in between, and ends with exactly one payment.
func TestFakeNoSecondAgainWithoutLookup(t *testing.T) {
	faults := []iamporttest.Fault{
		{Status: 502}, {DropBefore: true}, {DropAfter: true}, {Truncate: true}, {Stall: time.Minute},
	}
	for _, f := range faults {
		srv, c := newFake(t)
		issueKey(t, srv, "cust_r", iamporttest.CardOK)
		srv.Inject(iamporttest.EPAgain, f)
		req := charge("cust_r", "order_r", 3000)
		for attempt := 0; attempt < 3; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			_, err := c.Again(ctx, req)
			cancel()
			if err == nil {
				break
			}
			if errors.Is(err, iamport.ErrOutcomeUnknown) {
				if _, lerr := c.FindPayment(context.Background(), req.MerchantUID, iamport.StatusPaid); lerr == nil {
					break // it did happen
				} else {
					require.ErrorIs(t, lerr, iamport.ErrNotFound)
				}
				continue // provably did not happen: the same merchant_uid may go again
			}
			require.ErrorIs(t, err, iamport.ErrNotSent)
		}
		paid := 0
		for _, p := range srv.PaymentsByMerchantUID("order_r") {
			if p.Status == iamport.StatusPaid {
				paid++
			}
		}
		assert.Equal(t, 1, paid, "fault %+v: exactly one payment", f)
		pending := false
		for _, call := range srv.Calls() {
			switch call.Endpoint {
			case iamporttest.EPAgain:
				require.False(t, pending, "fault %+v: second again without a lookup: %v", f, srv.Calls())
				pending = true
			case iamporttest.EPFindPayment, iamporttest.EPGetPayment, iamporttest.EPFindAll:
				pending = false
			}
		}
	}
}

func TestFakeThousandConcurrentCallsOneToken(t *testing.T) {
	srv, c := newFake(t)
	issueKey(t, srv, "cust_c", iamporttest.CardOK)
	p, err := srv.IssueBillingKey(iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "issue_c2", CustomerUID: "cust_c2", CardNumber: iamporttest.CardOK})
	require.NoError(t, err)
	impUID := p.Payment.ImpUID

	const callers = 1000
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := make(chan struct{})
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := c.GetPayment(context.Background(), impUID, false); err != nil {
				failed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Equal(t, 1, srv.Count(iamporttest.EPGetToken), "exactly one getToken for %d concurrent calls", callers)
	assert.Equal(t, callers, srv.Count(iamporttest.EPGetPayment))
}

func TestFakeSkewedServerClock(t *testing.T) {
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			srv, c := newFake(t, iamporttest.WithClock(time.Now().Add(skew)))
			issueKey(t, srv, "cust_k", iamporttest.CardOK)
			for i := range 5 {
				_, err := c.Again(context.Background(), charge("cust_k", "order_k"+strconv.Itoa(i), 1000))
				require.NoError(t, err)
			}
			assert.Equal(t, 1, srv.Count(iamporttest.EPGetToken))
		})
	}
}

func TestFakeExpiredTokenMidFlight(t *testing.T) {
	srv, c := newFake(t)
	issueKey(t, srv, "cust_e", iamporttest.CardOK)
	_, err := c.Again(context.Background(), charge("cust_e", "order_e1", 1000))
	require.NoError(t, err)
	// The fake's clock jumps past the token's expiry while the client's cache still
	// holds it (this machine's clock did not move): the next call meets a 401, refreshes
	// once and retries once.
	srv.Advance(31 * time.Minute)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Again(context.Background(), charge("cust_e", "order_e_"+strconv.Itoa(i), 1000))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 2, srv.Count(iamporttest.EPGetToken), "one refresh for every 401")
	for i := range 20 {
		ps := srv.PaymentsByMerchantUID("order_e_" + strconv.Itoa(i))
		require.Len(t, ps, 1, "each charge paid once")
		assert.Equal(t, iamport.StatusPaid, ps[0].Status)
	}
}

func TestFakeBadCredentials(t *testing.T) {
	srv, _ := newFake(t)
	c := srv.Client(func(cfg *iamport.Config) { cfg.Secret = "not_the_secret_value" })
	_, err := c.Again(context.Background(), charge("cust_x", "order_x", 1000))
	assert.ErrorIs(t, err, iamport.ErrUnauthorized)
	assert.ErrorIs(t, err, iamport.ErrNotSent)
	assert.NotContains(t, err.Error(), "not_the_secret_value")
	assert.Zero(t, srv.Count(iamporttest.EPAgain))
}

func TestFakeConnectionsReused(t *testing.T) {
	srv, c := newFake(t)
	issueKey(t, srv, "cust_r", iamporttest.CardOK)
	for i := range 30 {
		_, err := c.Again(context.Background(), charge("cust_r", "order_"+strconv.Itoa(i), 1000))
		require.NoError(t, err)
	}
	assert.Equal(t, 1, srv.Connections(), "serial calls share one keep-alive connection")
}

func TestFakeDefaultClientAgainstFake(t *testing.T) {
	// The client's own default HTTP client (not the fake's) works against the fake too.
	srv, _ := newFake(t)
	c, err := iamport.New(iamport.Config{Key: iamporttest.Key, Secret: iamporttest.Secret, BaseURL: srv.URL})
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	issueKey(t, srv, "cust_d", iamporttest.CardOK)
	p, err := c.Again(context.Background(), charge("cust_d", "order_d", 1000))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(p.ImpUID, "imps_"))
}

// A paid charge answered with an amount that is not a whole number of won: the client
// decodes it and reports a mismatch carrying the payment; lookups decode it too. It is
// never a decoding failure.
func TestFakeFractionalAmount(t *testing.T) {
	srv, c := newFake(t)
	ctx := context.Background()
	issueKey(t, srv, "cust_f", iamporttest.CardOK)
	srv.Inject(iamporttest.EPAgain, iamporttest.Fault{AmountJSON: "9900.5"})
	_, err := c.Again(ctx, charge("cust_f", "order_f", 9900))
	var me *iamport.MismatchError
	require.ErrorAs(t, err, &me)
	var te *iamport.TransportError
	assert.False(t, errors.As(err, &te), "decoded, not a transport failure: %v", err)
	require.NotNil(t, me.Payment)
	assert.True(t, me.Payment.AmountNotWhole)
	assert.Equal(t, iamport.NotWholeAmount, me.Payment.Amount)
	assert.Equal(t, iamport.StatusPaid, me.Payment.Status)

	found, err := c.FindPayment(ctx, "order_f", "")
	require.NoError(t, err)
	assert.True(t, found.AmountNotWhole)
	got, err := c.GetPayment(ctx, found.ImpUID, false)
	require.NoError(t, err)
	assert.True(t, got.AmountNotWhole)
	page, err := c.FindAllPayments(ctx, iamport.FindAllRequest{MerchantUID: "order_f"})
	require.NoError(t, err)
	require.Len(t, page.List, 1)
	assert.True(t, page.List[0].AmountNotWhole)

	// A zero fraction is whole.
	srv.Inject(iamporttest.EPAgain, iamporttest.Fault{AmountJSON: "9900.0"})
	p, err := c.Again(ctx, charge("cust_f", "order_g", 9900))
	require.NoError(t, err)
	assert.False(t, p.AmountNotWhole)
}
