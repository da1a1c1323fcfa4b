package adaptertest

import (
	"context"
	"strconv"
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
	require.Equal(tb, core.IssuanceIssued, out.Status)
	return &BenchHarness{Harness: h}
}

// NextKey returns a fresh Idempotency-Key, so that every benchmark charge is a new one.
func (b *BenchHarness) NextKey() string {
	return "bench-" + strconv.FormatInt(b.keys.Add(1), 10)
}
