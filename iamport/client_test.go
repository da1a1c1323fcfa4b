package iamport

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidatesConfig(t *testing.T) {
	ok := Config{Key: "k", Secret: "s"}
	c, err := New(ok)
	require.NoError(t, err)
	assert.Equal(t, DefaultBaseURL, c.base)
	assert.Equal(t, DefaultTimeout, c.timeout)
	assert.Equal(t, DefaultMaxRetries, c.maxRetries)
	assert.True(t, c.traced)
	tr, isTransport := c.hc.Transport.(*http.Transport)
	require.True(t, isTransport)
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 64)
	assert.False(t, tr.DisableKeepAlives)

	c, err = New(Config{Key: "k", Secret: "s", BaseURL: "http://127.0.0.1:8080/prefix/", MaxRetries: -1, Timeout: time.Second})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080/prefix", c.base)
	assert.Equal(t, 0, c.maxRetries)
	assert.Equal(t, time.Second, c.timeout)

	custom := &http.Client{}
	c, err = New(Config{Key: "k", Secret: "s", HTTPClient: custom})
	require.NoError(t, err)
	assert.Same(t, custom, c.hc)

	bad := map[string]Config{
		"no key":          {Secret: "s"},
		"no secret":       {Key: "k"},
		"spaced secret":   {Key: "k", Secret: " s3cr3t_value"},
		"control key":     {Key: "k\n", Secret: "s"},
		"relative base":   {Key: "k", Secret: "s", BaseURL: "/api"},
		"ftp base":        {Key: "k", Secret: "s", BaseURL: "ftp://api.iamport.kr"},
		"no host":         {Key: "k", Secret: "s", BaseURL: "https://"},
		"userinfo":        {Key: "k", Secret: "s", BaseURL: "https://u:p@api.iamport.kr"},
		"query":           {Key: "k", Secret: "s", BaseURL: "https://api.iamport.kr/?x=1"},
		"fragment":        {Key: "k", Secret: "s", BaseURL: "https://api.iamport.kr/#x"},
		"unparseable":     {Key: "k", Secret: "s", BaseURL: "http://[::1"},
		"negative time":   {Key: "k", Secret: "s", Timeout: -time.Second},
		"too many tries":  {Key: "k", Secret: "s", MaxRetries: 11},
		"bad tier header": {Key: "k", Secret: "s", Tier: "a b"},
	}
	for name, cfg := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			require.Error(t, err)
			if len(cfg.Secret) > 4 {
				assert.NotContains(t, err.Error(), cfg.Secret)
			}
		})
	}
}

func TestNilReceiverAndContext(t *testing.T) {
	var c *Client
	assert.NotPanics(t, func() {
		_, err := c.GetPayment(context.Background(), "imp_1", false)
		assert.Error(t, err)
		_, err = c.Token(context.Background())
		assert.Error(t, err)
		c.CloseIdleConnections()
	})
	s := newStub(t, nil)
	c = newStubClient(t, s)
	assert.NotPanics(t, func() {
		var nilCtx context.Context // a nil context on purpose: it must not panic
		_, err := c.Again(nilCtx, validAgain())
		assert.ErrorIs(t, err, ErrNotSent)
		_, err = c.Token(nilCtx)
		assert.Error(t, err)
	})
	assert.Zero(t, s.getTokens.Load()+s.requests.Load())
}

func TestRequestShape(t *testing.T) {
	type seen struct {
		method, path, rawQuery, auth, tier, contentType string
		body                                            map[string]any
	}
	var got seen
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		got = seen{method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery,
			auth: r.Header.Get("Authorization"), tier: r.Header.Get("Tier"), contentType: r.Header.Get("Content-Type")}
		got.body = nil
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			require.NoError(t, json.Unmarshal(b, &got.body))
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/subscribe/customers/"):
			writeEnv(w, 200, 0, "", map[string]any{"customer_uid": "고객 1", "pg_provider": "kcp_billing", "card_type": "1", "inserted": 1, "updated": 2})
		case r.URL.Path == "/payments/findAll/m_1" || r.URL.Path == "/payments/findAll/m_1/paid":
			writeEnv(w, 200, 0, "", map[string]any{"total": 3, "previous": 1, "next": 3, "list": []any{map[string]any{"imp_uid": "imp_a", "amount": 1}}})
		case strings.HasPrefix(r.URL.Path, "/subscribe/payments/schedule/"):
			writeEnv(w, 200, 0, "", map[string]any{"customer_uid": "c", "merchant_uid": "s_1", "schedule_status": "scheduled", "amount": 500, "schedule_at": 1700000000})
		case r.URL.Path == epSchedule || r.URL.Path == epUnschedule:
			writeEnv(w, 200, 0, "", []any{map[string]any{"customer_uid": "c", "merchant_uid": "s_1", "schedule_status": "revoked", "revoked_at": "1700000000"}})
		default:
			writeEnv(w, 200, 0, "", map[string]any{"imp_uid": "imp_1", "merchant_uid": "m_1", "amount": "1000", "status": "cancelled", "cancel_amount": 1000.0})
		}
	})
	c := newStubClient(t, s, func(cfg *Config) { cfg.Tier = "T001" })
	ctx := context.Background()

	cu, err := c.GetCustomer(ctx, "고객 1"[:len("고객")]+"1")
	require.NoError(t, err)
	assert.Equal(t, "GET", got.method)
	assert.Equal(t, "/subscribe/customers/%EA%B3%A0%EA%B0%9D1", got.path)
	assert.Equal(t, "Bearer tok_1_secret_value", got.auth)
	assert.Equal(t, "T001", got.tier)
	require.NotNil(t, cu.CardType)
	assert.Equal(t, 1, *cu.CardType)

	_, err = c.DeleteCustomer(ctx, "cu+1=2@x", "해지 요청 & 재발급")
	require.NoError(t, err)
	assert.Equal(t, "DELETE", got.method)
	assert.Equal(t, "/subscribe/customers/cu+1=2@x", got.path)
	assert.Equal(t, "reason=%ED%95%B4%EC%A7%80+%EC%9A%94%EC%B2%AD+%26+%EC%9E%AC%EB%B0%9C%EA%B8%89", got.rawQuery)
	_, err = c.DeleteCustomer(ctx, "cu_1", "")
	require.NoError(t, err)
	assert.Equal(t, "", got.rawQuery)

	p, err := c.GetPayment(ctx, "imp_1", true)
	require.NoError(t, err)
	assert.Equal(t, "/payments/imp_1", got.path)
	assert.Equal(t, "include_sandbox=true", got.rawQuery)
	assert.Equal(t, int64(1000), p.Amount)
	_, err = c.GetPayment(ctx, "imp_1", false)
	require.NoError(t, err)
	assert.Equal(t, "include_sandbox=false", got.rawQuery)

	_, err = c.FindPayment(ctx, "m_1", "")
	require.NoError(t, err)
	assert.Equal(t, "/payments/find/m_1", got.path)
	_, err = c.FindPayment(ctx, "m_1", StatusPaid)
	require.NoError(t, err)
	assert.Equal(t, "/payments/find/m_1/paid", got.path)

	page, err := c.FindAllPayments(ctx, FindAllRequest{MerchantUID: "m_1", Status: StatusPaid, Page: 2, Limit: 50, Sorting: "-paid"})
	require.NoError(t, err)
	assert.Equal(t, "/payments/findAll/m_1/paid", got.path)
	assert.Equal(t, "limit=50&page=2&sorting=-paid", got.rawQuery)
	assert.Equal(t, PaymentPage{Total: 3, Previous: 1, Next: 3, List: []Payment{{ImpUID: "imp_a", Amount: 1}}}, *page)
	_, err = c.FindAllPayments(ctx, FindAllRequest{MerchantUID: "m_1"})
	require.NoError(t, err)
	assert.Equal(t, "/payments/findAll/m_1", got.path)
	assert.Equal(t, "", got.rawQuery)

	p, err = c.CancelPayment(ctx, CancelRequest{ImpUID: "imp_1", Amount: 500, TaxFree: ptr64(0), Checksum: ptr64(1000), Reason: "환불", EnableWebhook: true})
	require.NoError(t, err)
	assert.Equal(t, "POST", got.method)
	assert.Equal(t, "/payments/cancel", got.path)
	assert.Equal(t, "application/json", got.contentType)
	assert.Equal(t, map[string]any{"imp_uid": "imp_1", "amount": 500.0, "tax_free": 0.0, "checksum": 1000.0, "reason": "환불", "enable_webhook": true}, got.body)
	assert.Equal(t, StatusCancelled, p.Status)
	_, err = c.CancelPayment(ctx, CancelRequest{MerchantUID: "m_1"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"merchant_uid": "m_1"}, got.body, "a full cancel sends no amount")

	res, err := c.Schedule(ctx, ScheduleRequest{CustomerUID: "c", Schedules: []ScheduleEntry{{MerchantUID: "s_1", ScheduleAt: 1700000000, Amount: 500, Name: "정기"}}})
	require.NoError(t, err)
	assert.Equal(t, epSchedule, got.path)
	assert.Equal(t, "c", got.body["customer_uid"])
	assert.Equal(t, []any{map[string]any{"merchant_uid": "s_1", "schedule_at": 1700000000.0, "amount": 500.0, "name": "정기"}}, got.body["schedules"])
	require.Len(t, res, 1)
	assert.Equal(t, Timestamp(1700000000), res[0].RevokedAt)

	_, err = c.Unschedule(ctx, UnscheduleRequest{CustomerUID: "c", MerchantUIDs: []string{"s_1"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"customer_uid": "c", "merchant_uid": []any{"s_1"}}, got.body)

	sr, err := c.GetSchedule(ctx, "s_1")
	require.NoError(t, err)
	assert.Equal(t, "/subscribe/payments/schedule/s_1", got.path)
	assert.Equal(t, ScheduleScheduled, sr.ScheduleStatus)

	assert.Equal(t, int64(1), s.getTokens.Load(), "one token for the whole sequence")
}

func TestBaseURLPrefix(t *testing.T) {
	var path string
	// Serve the stub under /mount by stripping it in front.
	s := newStubWith(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		writeEnv(w, 200, 0, "", map[string]any{"imp_uid": "imp_1"})
	}, func(srv *httptest.Server) {
		mux := http.NewServeMux()
		mux.Handle("/mount/", http.StripPrefix("/mount", srv.Config.Handler))
		srv.Config.Handler = mux
	})
	c := newStubClient(t, s, func(cfg *Config) { cfg.BaseURL = s.srv.URL + "/mount/" })
	_, err := c.GetPayment(context.Background(), "imp_1", false)
	require.NoError(t, err)
	assert.Equal(t, "/payments/imp_1", path)
}

func TestAgainOutcomes(t *testing.T) {
	req := validAgain()
	cases := []struct {
		name  string
		fn    func(AgainRequest) (int, int, string, any)
		check func(t *testing.T, p *Payment, err error)
	}{
		{"paid", func(r AgainRequest) (int, int, string, any) { return 200, 0, "", paidPayment(r) },
			func(t *testing.T, p *Payment, err error) {
				require.NoError(t, err)
				assert.Equal(t, StatusPaid, p.Status)
				assert.Equal(t, req.Amount, p.Amount)
				assert.Equal(t, UsagePayment, p.CustomerUIDUsage)
			}},
		{"declined", func(r AgainRequest) (int, int, string, any) {
			p := paidPayment(r)
			p["status"], p["fail_reason"], p["paid_at"], p["failed_at"] = "failed", "한도초과", 0, 1700000000
			return 200, 0, "", p
		}, func(t *testing.T, p *Payment, err error) {
			assert.Nil(t, p)
			var de *DeclinedError
			require.ErrorAs(t, err, &de)
			assert.ErrorIs(t, err, ErrDeclined)
			assert.NotErrorIs(t, err, ErrOutcomeUnknown)
			assert.Equal(t, "한도초과", de.FailReason)
			assert.Equal(t, "imp_100000000001", de.Payment.ImpUID)
		}},
		{"ready is not success", func(r AgainRequest) (int, int, string, any) {
			p := paidPayment(r)
			p["status"] = "ready"
			return 200, 0, "", p
		}, func(t *testing.T, p *Payment, err error) {
			assert.Nil(t, p)
			var me *MismatchError
			require.ErrorAs(t, err, &me)
			assert.ErrorIs(t, err, ErrOutcomeUnknown)
			assert.Equal(t, StatusReady, me.Payment.Status)
		}},
		{"cancelled is not success", func(r AgainRequest) (int, int, string, any) {
			p := paidPayment(r)
			p["status"] = "cancelled"
			return 200, 0, "", p
		}, func(t *testing.T, p *Payment, err error) {
			assert.Nil(t, p)
			assert.ErrorIs(t, err, ErrOutcomeUnknown)
		}},
		{"other amount", func(r AgainRequest) (int, int, string, any) {
			p := paidPayment(r)
			p["amount"] = r.Amount - 1
			return 200, 0, "", p
		}, func(t *testing.T, p *Payment, err error) {
			assert.Nil(t, p)
			var me *MismatchError
			require.ErrorAs(t, err, &me)
			assert.Contains(t, me.Reason, "amount")
		}},
		{"other merchant_uid", func(r AgainRequest) (int, int, string, any) {
			p := paidPayment(r)
			p["merchant_uid"] = "someone_else"
			return 200, 0, "", p
		}, func(t *testing.T, p *Payment, err error) {
			assert.Nil(t, p)
			var me *MismatchError
			require.ErrorAs(t, err, &me)
			assert.Contains(t, me.Reason, "merchant_uid")
		}},
		{"other customer_uid", func(r AgainRequest) (int, int, string, any) {
			p := paidPayment(r)
			p["customer_uid"] = "cu_other"
			return 200, 0, "", p
		}, func(t *testing.T, p *Payment, err error) {
			assert.Nil(t, p)
			assert.ErrorIs(t, err, ErrOutcomeUnknown)
		}},
		{"unknown customer (code 1)", func(AgainRequest) (int, int, string, any) {
			return 200, 1, "등록되지 않은 구매자입니다.", nil
		},
			func(t *testing.T, p *Payment, err error) {
				assert.Nil(t, p)
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, APIError{HTTPStatus: 200, Code: 1, Message: "등록되지 않은 구매자입니다.", Method: "POST", Endpoint: epAgain}, *ae)
				assert.NotErrorIs(t, err, ErrOutcomeUnknown)
				assert.NotErrorIs(t, err, ErrNotSent)
				assert.NotErrorIs(t, err, ErrDeclined)
			}},
		{"duplicate merchant_uid (code -1)", func(AgainRequest) (int, int, string, any) {
			return 200, -1, "이미 주문이 이루어진 건입니다. (동일한 merchant_uid로 결제 또는 취소된 기록이 있습니다)", nil
		}, func(t *testing.T, p *Payment, err error) {
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, -1, ae.Code)
		}},
		{"code 0 without payment", func(AgainRequest) (int, int, string, any) { return 200, 0, "", nil },
			func(t *testing.T, p *Payment, err error) {
				assert.Nil(t, p)
				assert.ErrorIs(t, err, ErrOutcomeUnknown)
			}},
		{"undecodable payment", func(AgainRequest) (int, int, string, any) { return 200, 0, "", map[string]any{"amount": 1000.5} },
			func(t *testing.T, p *Payment, err error) {
				assert.Nil(t, p)
				assert.ErrorIs(t, err, ErrOutcomeUnknown)
			}},
		{"502", func(AgainRequest) (int, int, string, any) { return 502, -1, "bad gateway", nil },
			func(t *testing.T, p *Payment, err error) {
				assert.Nil(t, p)
				assert.ErrorIs(t, err, ErrOutcomeUnknown)
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 502, ae.HTTPStatus)
			}},
		{"400", func(AgainRequest) (int, int, string, any) { return 400, -1, "bad", nil },
			func(t *testing.T, p *Payment, err error) {
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 400, ae.HTTPStatus)
				assert.NotErrorIs(t, err, ErrOutcomeUnknown)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, againHandler(t, tc.fn))
			c := newStubClient(t, s)
			p, err := c.Again(context.Background(), req)
			tc.check(t, p, err)
			assert.Equal(t, int64(1), s.requests.Load(), "again is sent exactly once")
		})
	}
}

func TestNotFoundBothForms(t *testing.T) {
	msg := "요청하신 customer_uid(cu_0123456789abcdef)로 등록된 정보를 찾을 수 없습니다."
	forms := map[string]func(w http.ResponseWriter){
		"HTTP 404":         func(w http.ResponseWriter) { writeEnv(w, 404, -1, msg, nil) },
		"HTTP 200 code 1":  func(w http.ResponseWriter) { writeEnv(w, 200, 1, msg, nil) },
		"HTTP 404 no body": func(w http.ResponseWriter) { w.WriteHeader(404) },
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			s := newStub(t, func(w http.ResponseWriter, r *http.Request) { form(w) })
			c := newStubClient(t, s)
			_, err := c.GetCustomer(context.Background(), "cu_0123456789abcdef")
			assert.ErrorIs(t, err, ErrNotFound)
			assert.NotContains(t, err.Error(), "cu_0123456789abcdef")
			_, err = c.DeleteCustomer(context.Background(), "cu_0123456789abcdef", "x")
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = c.GetPayment(context.Background(), "imp_1", false)
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = c.FindPayment(context.Background(), "m_1", StatusPaid)
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = c.GetSchedule(context.Background(), "m_1")
			assert.ErrorIs(t, err, ErrNotFound)
			assert.Equal(t, int64(5), s.requests.Load(), "a not-found answer is not retried")
		})
	}
}

func TestValidationSendsNothing(t *testing.T) {
	s := newStub(t, nil)
	c := newStubClient(t, s)
	ctx := context.Background()
	errs := []error{}
	add := func(_ any, err error) { errs = append(errs, err) }
	add(c.Again(ctx, AgainRequest{CustomerUID: "a/b", MerchantUID: "m", Amount: 1, Name: "n"}))
	add(c.GetCustomer(ctx, "../admin"))
	add(c.DeleteCustomer(ctx, "c", "bad\x00reason"))
	add(c.GetPayment(ctx, "imp?x=1", false))
	add(c.FindPayment(ctx, "m#1", ""))
	add(c.FindPayment(ctx, "m", "paid/../x"))
	add(c.FindAllPayments(ctx, FindAllRequest{MerchantUID: "m%2F"}))
	add(c.CancelPayment(ctx, CancelRequest{}))
	add(c.Schedule(ctx, ScheduleRequest{CustomerUID: "c"}))
	add(c.Unschedule(ctx, UnscheduleRequest{}))
	add(c.GetSchedule(ctx, "a b"))
	for i, err := range errs {
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, "case %d", i)
		assert.ErrorIs(t, err, ErrNotSent, "case %d", i)
	}
	assert.Zero(t, s.getTokens.Load()+s.requests.Load(), "nothing reaches the server")
}

func TestDefaultTimeoutApplies(t *testing.T) {
	release := make(chan struct{})
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	c := newStubClient(t, s, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond; cfg.MaxRetries = -1 })
	_, err := c.Again(context.Background(), validAgain())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrOutcomeUnknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(1), s.requests.Load())
}

func TestCallerDeadlineWins(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 200, 0, "", map[string]any{"imp_uid": "imp_1"})
	})
	c := newStubClient(t, s, func(cfg *Config) { cfg.Timeout = time.Nanosecond })
	// With a deadline of its own, the call ignores the (absurdly short) default.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.GetPayment(ctx, "imp_1", false)
	require.NoError(t, err)
	// Without one, the default applies.
	_, err = c.GetPayment(context.Background(), "imp_1", false)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
}
