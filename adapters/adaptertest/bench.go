package adaptertest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// BenchUser is the user NewBenchHarness gives a billing key. Benchmarks send it in
// UserHeader and read it back in their buyer hook.
const BenchUser = "bench-user"

// ChargeBody is the body of a benchmark's POST /charges.
const ChargeBody = `{"plan":"basic"}`

// BenchHarness is a Harness whose BenchUser already holds a billing key, for the
// per-adapter benchmarks of GET /billing-key/request and POST /charges.
type BenchHarness struct {
	*Harness
	keys atomic.Int64
}

// NewBenchHarness builds a Harness and issues a billing key for BenchUser through the Go
// API (PrepareIssuance, the fake window, CompleteIssuance).
func NewBenchHarness(tb testing.TB) *BenchHarness {
	tb.Helper()
	h := NewHarness(tb)
	ctx := context.Background()
	ir, err := h.Service.PrepareIssuance(ctx, core.Buyer{UserID: BenchUser}, "")
	require.NoError(tb, err)
	p := ir.Params
	res, err := h.Fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: p.PG, PayMethod: p.PayMethod, MerchantUID: p.MerchantUID, CustomerUID: p.CustomerUID,
		Name: p.Name, Amount: p.Amount, CardNumber: iamporttest.CardOK,
	})
	require.NoError(tb, err)
	impUID, _ := res.Rsp["imp_uid"].(string)
	out, err := h.Service.CompleteIssuance(ctx, BenchUser, core.CompleteInput{
		MerchantUID: p.MerchantUID, ImpUID: impUID, Source: core.SourceCallback,
	})
	require.NoError(tb, err)
	require.Equal(tb, "issued", out.Status)
	return &BenchHarness{Harness: h}
}

// NextKey returns a fresh Idempotency-Key, so that every benchmark charge is a new one.
func (b *BenchHarness) NextKey() string {
	return "bench-" + strconv.FormatInt(b.keys.Add(1), 10)
}

// BarePrefix is where a benchmark mounts its bare handlers: the same core calls as the
// adapter's routes under Prefix, written directly in the framework.
const BarePrefix = "/bare"

// BenchRoutes runs run as two sub-benchmarks of b: "adapter" on Prefix+route and "bare"
// on BarePrefix+route, so the adapter's cost shows as a ratio.
func BenchRoutes(b *testing.B, route string, run func(b *testing.B, path string)) {
	b.Run("adapter", func(b *testing.B) { run(b, Prefix+route) })
	b.Run("bare", func(b *testing.B) { run(b, BarePrefix+route) })
}

// BareRequest is the core side of a bare GET /billing-key/request handler: the issuance
// request for user as the JSON body to send with 200.
func (bh *BenchHarness) BareRequest(ctx context.Context, user string) ([]byte, error) {
	ir, err := bh.Service.PrepareIssuance(ctx, core.Buyer{UserID: user}, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(ir)
}

// BareCharge is the core side of a bare POST /charges handler, after it decoded the
// plan from the body: the charge's view as the JSON body to send with 201.
func (bh *BenchHarness) BareCharge(ctx context.Context, user, plan, idempotencyKey string) ([]byte, error) {
	cv, err := bh.Service.Charge(ctx, core.ChargeRequest{UserID: user, PlanID: plan, IdempotencyKey: idempotencyKey})
	if err != nil {
		return nil, err
	}
	return json.Marshal(cv)
}

// BenchRequests runs BenchRoutes for GET /billing-key/request on a handler that build
// makes (the adapter's routes under Prefix, the bare ones under BarePrefix): b.N requests
// as BenchUser, each answered 200.
func BenchRequests[H http.Handler](b *testing.B, build func(*testing.B) (H, *BenchHarness)) {
	benchHTTP(b, "/billing-key/request", build, func(path string, _ *BenchHarness) *http.Request {
		return httptest.NewRequest(http.MethodGet, path, nil)
	}, http.StatusOK)
}

// BenchCharges runs BenchRoutes for POST /charges on a handler that build makes: b.N
// posts of ChargeBody as BenchUser, each with a fresh Idempotency-Key, each answered 200
// or 201.
func BenchCharges[H http.Handler](b *testing.B, build func(*testing.B) (H, *BenchHarness)) {
	benchHTTP(b, "/charges", build, func(path string, bh *BenchHarness) *http.Request {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(ChargeBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", bh.NextKey())
		return req
	}, http.StatusOK, http.StatusCreated)
}

// benchHTTP runs BenchRoutes for route: each iteration serves a request from newReq, sent
// as BenchUser, through the handler build makes, and fails on a status outside ok.
func benchHTTP[H http.Handler](b *testing.B, route string, build func(*testing.B) (H, *BenchHarness),
	newReq func(path string, bh *BenchHarness) *http.Request, ok ...int) {
	BenchRoutes(b, route, func(b *testing.B, path string) {
		h, bh := build(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req := newReq(path, bh)
			req.Header.Set(UserHeader, BenchUser)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !slices.Contains(ok, rec.Code) {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
