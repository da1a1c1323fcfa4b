package iamporttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

// apiEnv is a fake on loopback driven over raw HTTP.
type apiEnv struct {
	t     *testing.T
	srv   *Server
	hc    *http.Client
	token string
}

func newAPIEnv(t *testing.T, opts ...Option) *apiEnv {
	t.Helper()
	srv := NewServer(opts...)
	tr := &http.Transport{}
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return &apiEnv{t: t, srv: srv, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// apiResp is a decoded answer.
type apiResp struct {
	status   int
	code     int
	message  *string
	response json.RawMessage
	header   http.Header
}

func (r apiResp) msg() string {
	if r.message == nil {
		return ""
	}
	return *r.message
}

// decodeResp decodes the envelope of an answer body.
func decodeResp(t *testing.T, status int, h http.Header, body []byte) apiResp {
	t.Helper()
	var env struct {
		Code     int             `json:"code"`
		Message  *string         `json:"message"`
		Response json.RawMessage `json:"response"`
	}
	require.NoError(t, json.Unmarshal(body, &env), "body: %s", body)
	return apiResp{status: status, code: env.Code, message: env.Message, response: env.Response, header: h}
}

func (e *apiEnv) do(req *http.Request) apiResp {
	e.t.Helper()
	resp, err := e.hc.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	return decodeResp(e.t, resp.StatusCode, resp.Header, body)
}

// request builds a request to the fake with the current token.
func (e *apiEnv) request(method, path string, body io.Reader, ctype string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	require.NoError(e.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	return req
}

// call sends body as JSON (nil: no body).
func (e *apiEnv) call(method, path string, body any) apiResp {
	e.t.Helper()
	if body == nil {
		return e.do(e.request(method, path, nil, ""))
	}
	b, err := json.Marshal(body)
	require.NoError(e.t, err)
	return e.do(e.request(method, path, bytes.NewReader(b), "application/json"))
}

// form sends an urlencoded body.
func (e *apiEnv) form(method, path string, v url.Values) apiResp {
	e.t.Helper()
	return e.do(e.request(method, path, strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"))
}

// login fetches a token and keeps it for later calls.
func (e *apiEnv) login() iamport.Token {
	e.t.Helper()
	r := e.call(http.MethodPost, "/users/getToken", map[string]string{"imp_key": Key, "imp_secret": Secret})
	require.Equal(e.t, http.StatusOK, r.status)
	require.Equal(e.t, 0, r.code)
	tok := as[iamport.Token](e.t, r)
	e.token = tok.AccessToken
	return tok
}

// issue registers a key for customerUID with card (PC, fresh merchant_uid).
func (e *apiEnv) issue(customerUID, card string) *IssueResult {
	e.t.Helper()
	res, err := e.srv.IssueBillingKey(IssueRequest{
		PG: "kcp_billing", MerchantUID: "issue_" + customerUID + "_" + randomAlnum(6),
		CustomerUID: customerUID, Name: "정기결제 등록", CardNumber: card,
	})
	require.NoError(e.t, err)
	return res
}

func (e *apiEnv) again(customerUID, merchantUID string, amount int64) apiResp {
	e.t.Helper()
	return e.call(http.MethodPost, "/subscribe/payments/again", map[string]any{
		"customer_uid": customerUID, "merchant_uid": merchantUID, "amount": amount, "name": "월 구독",
	})
}

// as decodes the response of an answer.
func as[T any](t *testing.T, r apiResp) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.response, &v), "response: %s", r.response)
	return v
}

// hookReceiver records the notifications it gets.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []receivedHook
	status int // answer status, 200 when 0
	block  chan struct{}
}

type receivedHook struct {
	contentType string
	fields      map[string]string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.block != nil {
			select {
			case <-h.block:
			case <-r.Context().Done():
			}
		}
		body, _ := io.ReadAll(r.Body)
		rec := receivedHook{contentType: r.Header.Get("Content-Type"), fields: map[string]string{}}
		if strings.HasPrefix(rec.contentType, "application/json") {
			_ = json.Unmarshal(body, &rec.fields)
		} else {
			v, _ := url.ParseQuery(string(body))
			for k := range v {
				rec.fields[k] = v.Get(k)
			}
		}
		h.mu.Lock()
		h.got = append(h.got, rec)
		st := h.status
		h.mu.Unlock()
		if st == 0 {
			st = http.StatusOK
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) received() []receivedHook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]receivedHook(nil), h.got...)
}

// statusesOf lists the imp_uid/status pairs of received notifications.
func (h *hookReceiver) keys() []string {
	var out []string
	for _, r := range h.received() {
		out = append(out, r.fields["imp_uid"]+":"+r.fields["status"])
	}
	return out
}

// ctxTimeout is a context for one call.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
