package httpapi_test

// A minimal net/http bridge for the route tests: core.Request over *http.Request, with the
// user taken from an X-Test-User header. Test-only; the real adapters live in adapters/.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/internal/httpapi"
	"github.com/billkey/billkey/store"

	"github.com/billkey/billkey/internal/testkit"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/memstore"
)

const (
	rtHost       = "shop.example.com"
	rtPublic     = "https://shop.example.com/billing"
	rtPrefix     = "/billing"
	rtCallbacks  = "/iamport"
	rtUserHeader = "X-Test-User"
)

// bridgeRequest implements httpapi.Request over *http.Request.
type bridgeRequest struct{ r *http.Request }

func (b bridgeRequest) Context() context.Context     { return b.r.Context() }
func (b bridgeRequest) Method() string               { return b.r.Method }
func (b bridgeRequest) PathValue(name string) string { return b.r.PathValue(name) }
func (b bridgeRequest) Query() url.Values            { return b.r.URL.Query() }
func (b bridgeRequest) Header() http.Header          { return b.r.Header }
func (b bridgeRequest) Body() io.Reader              { return b.r.Body }
func (b bridgeRequest) Host() string                 { return b.r.Host }
func (b bridgeRequest) RemoteAddr() string           { return b.r.RemoteAddr }
func (b bridgeRequest) TLS() bool                    { return b.r.TLS != nil }

func (b bridgeRequest) Buyer() (core.Buyer, error) {
	u := b.r.Header.Get(rtUserHeader)
	if u == "" {
		return core.Buyer{}, errors.New("no session")
	}
	return core.Buyer{UserID: u, Name: "홍길동", Email: u + "@example.com", Tel: "010-1234-5678"}, nil
}

// rtMount registers routes on mux under prefix (Go 1.22 patterns).
func rtMount(mux *http.ServeMux, prefix string, routes ...httpapi.Route) {
	for _, rt := range routes {
		h := rt.Handle
		mux.HandleFunc(rt.Method+" "+prefix+rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			h(w, bridgeRequest{r})
		})
	}
}

// ---------------------------------------------------------------------------------------
// The rtHarness: the real Service over the fake iamport and the memory store.

var rtBasicPlan = core.Plan{ID: "basic-monthly", Name: "Basic 월간", Amount: 9900}

type rtHarness struct {
	t      *testing.T
	fake   *iamporttest.Server
	store  store.Store
	svc    *core.Service
	mux    *http.ServeMux
	clock  *testkit.Clock
	events *testkit.Events
	logs   *testkit.LogSink
}

// newRTHarness builds a Service (opts may change the config) and mounts its routes under
// /billing and its callbacks under /iamport.
func newRTHarness(t *testing.T, opts ...func(*core.Config)) *rtHarness {
	t.Helper()
	fake := iamporttest.NewServer()
	t.Cleanup(fake.Close)
	h := &rtHarness{
		t:      t,
		fake:   fake,
		store:  memstore.New(),
		clock:  testkit.NewClock(time.Now().UTC().Truncate(time.Millisecond)),
		events: &testkit.Events{},
		logs:   &testkit.LogSink{},
	}
	cfg := core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       fake.Client(func(c *iamport.Config) { c.MaxRetries = -1 }),
		Store:        h.store,
		Company:      "테스트상점",
		Plans:        []core.Plan{rtBasicPlan, {ID: "pro-monthly", Name: "Pro 월간", Amount: 29000}},
		PublicURL:    rtPublic,
		CallbackURL:  "https://shop.example.com/iamport",
		SuccessURL:   "/account/billing?tab=card",
		FailureURL:   "https://shop.example.com/account/billing/failed",
		Logger:       slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          h.clock.Now,
		Events:       h.events,
		InstanceID:   "routes-test",
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Store != h.store {
		h.store = cfg.Store
	}
	svc, err := core.New(cfg)
	require.NoError(t, err)
	h.svc = svc
	h.mux = http.NewServeMux()
	rtMount(h.mux, rtPrefix, httpapi.Routes(svc)...)
	rtMount(h.mux, rtCallbacks, httpapi.CallbackRoutes(svc)...)
	return h
}

// rtOpt changes a test request.
type rtOpt func(*http.Request)

func rtUser(u string) rtOpt { return func(r *http.Request) { r.Header.Set(rtUserHeader, u) } }

func rtHeader(k, v string) rtOpt { return func(r *http.Request) { r.Header.Add(k, v) } }

func rtFrom(a string) rtOpt { return func(r *http.Request) { r.RemoteAddr = a } }

func rtJSON(v any) (string, rtOpt) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b), rtHeader("Content-Type", "application/json")
}

// do serves one request through the mux. path is relative to the host and includes the
// prefix; body may be "".
func (h *rtHarness) do(method, path, body string, opts ...rtOpt) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "https://"+rtHost+path, rd)
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.mux.ServeHTTP(w, r)
	return w
}

// postJSON posts v as JSON from the site itself.
func (h *rtHarness) postJSON(path string, v any, opts ...rtOpt) *httptest.ResponseRecorder {
	h.t.Helper()
	body, ct := rtJSON(v)
	return h.do(http.MethodPost, path, body, append([]rtOpt{ct, rtHeader("Sec-Fetch-Site", "same-origin")}, opts...)...)
}

// prepare asks GET /billing-key/request for user.
func (h *rtHarness) prepare(user, plan string) core.IssuanceRequest {
	h.t.Helper()
	path := rtPrefix + "/billing-key/request"
	if plan != "" {
		path += "?plan=" + url.QueryEscape(plan)
	}
	w := h.do(http.MethodGet, path, "", rtUser(user))
	require.Equal(h.t, http.StatusOK, w.Code, w.Body.String())
	var ir core.IssuanceRequest
	require.NoError(h.t, json.Unmarshal(w.Body.Bytes(), &ir))
	return ir
}

// window runs the fake payment window for a prepared issuance.
func (h *rtHarness) window(ir core.IssuanceRequest, card string, mobile bool) *iamporttest.IssueResult {
	h.t.Helper()
	return testkit.PayInWindow(h.t, h.fake, ir.Params, card, mobile)
}

// register gives user a billing key through the PC flow and returns the issuance.
func (h *rtHarness) register(user string) (core.IssuanceRequest, *iamporttest.IssueResult) {
	h.t.Helper()
	ir := h.prepare(user, "")
	res := h.window(ir, iamporttest.CardOK, false)
	w := h.postJSON(rtPrefix+"/billing-key/complete", res.Rsp, rtUser(user))
	require.Equal(h.t, http.StatusOK, w.Code, w.Body.String())
	return ir, res
}

// charge posts POST /charges for user.
func (h *rtHarness) charge(user, key string, body any, opts ...rtOpt) *httptest.ResponseRecorder {
	h.t.Helper()
	if key != "" {
		opts = append(opts, rtHeader("Idempotency-Key", key))
	}
	return h.postJSON(rtPrefix+"/charges", body, append([]rtOpt{rtUser(user)}, opts...)...)
}

// calls is how many API calls the fake served so far.
func (h *rtHarness) calls() int { return len(h.fake.Calls()) }

// problem decodes a problem body and checks the headers every problem carries.
func rtProblem(t *testing.T, w *httptest.ResponseRecorder, status int, code string) httpapi.Problem {
	t.Helper()
	require.Equal(t, codes.Status(code), status, "the code table's status for "+code)
	require.Equal(t, status, w.Code, w.Body.String())
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	rtRequireHeaders(t, w)
	var p httpapi.Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), w.Body.String())
	require.Equal(t, code, p.Code, w.Body.String())
	require.Equal(t, status, p.Status)
	require.Equal(t, httpapi.ProblemTypeBase+code, p.Type)
	require.NotEmpty(t, p.Title)
	return p
}

func rtRequireHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
}

// rtDecode checks a JSON success answer and decodes it.
func rtDecode[T any](t *testing.T, w *httptest.ResponseRecorder, status int) T {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	rtRequireHeaders(t, w)
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}
