package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

// points flattens the collected metrics into "name{k=v,...}" -> value (sums and gauges)
// or count (histograms).
func points(t *testing.T, reader *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]float64{}
	key := func(name string, set attribute.Set) string {
		var kv []string
		for _, a := range set.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.String())
		}
		return name + "{" + strings.Join(kv, ",") + "}"
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Count)
				}
			}
		}
	}
	return out
}

func TestMetricsAndTraces(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	h := newSH(t, shConfig(func(c *core.Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	}))
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	_, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	require.NoError(t, err)
	v, _ := h.unknownCharge("u1", "k2")
	_, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imp_000000000001", Status: "paid"}))

	got := points(t, reader)
	for name, want := range map[string]float64{
		"billkey.charges{result=paid}":                          1,
		"billkey.charges{result=unknown}":                       1,
		"billkey.iamport.calls{endpoint=again,outcome=ok}":      1,
		"billkey.iamport.calls{endpoint=again,outcome=unknown}": 1,
		"billkey.iamport.duration{endpoint=again}":              2,
		"billkey.charges.open{}":                                1,
		"billkey.reconciler.sweeps{}":                           1,
		"billkey.webhooks{result=ignored}":                      1,
		"billkey.iamport.token.refreshes{outcome=ok}":           1,
	} {
		assert.Equal(t, want, got[name], "%s in %v", name, got)
	}
	assert.Contains(t, got, "billkey.charges.open.oldest_age{}")

	names := map[string]int{}
	for _, s := range spans.Ended() {
		names[s.Name()]++
		for _, a := range s.Attributes() {
			assert.NotContains(t, a.Value.String(), h.customerUID("u1"), "no customer_uid on a span")
		}
	}
	assert.Equal(t, 2, names["billkey.charge"])
	assert.Equal(t, 1, names["billkey.reconcile"])
	assert.Equal(t, 1, names["billkey.webhook"])
	assert.GreaterOrEqual(t, names["iamport again"], 2)
	assert.NotEmpty(t, v.MerchantUID)
}

func TestHealth(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	got := h.svc.Health(ctx)
	assert.True(t, got.Ready)
	assert.Equal(t, "ok", got.Store)
	assert.False(t, got.TokenValid, "no token yet: not fetched by a health check")

	h.issueKey("u1", iamporttest.CardOK)
	h.unknownCharge("u1", "k1")
	h.clock.Advance(30 * time.Minute)
	got = h.svc.Health(ctx)
	assert.True(t, got.Ready)
	assert.True(t, got.TokenValid)
	assert.Equal(t, 1, got.OpenCharges)
	assert.Equal(t, 30*time.Minute, got.OldestOpen)
	assert.True(t, got.Stuck, "older than ten ReconcileAfter")

	failing := newSH(t, shConfig(func(c *core.Config) { c.Store = rtDownStore{Store: c.Store} }))
	got = failing.svc.Health(ctx)
	assert.False(t, got.Ready)
	assert.Contains(t, got.Store, "unreachable")
	assert.NotContains(t, got.Store, "secret-host")

	refused := newSH(t, shClient(func(c *iamport.Config) { c.Secret = "wrong" }))
	_, err := refused.client.Token(ctx)
	require.Error(t, err)
	assert.False(t, refused.svc.Health(ctx).Ready, "the last token request failed")
}

// rtDownStore is a store whose database is gone.
type rtDownStore struct{ store.Store }

func (rtDownStore) OpenCharges(context.Context) (int, time.Time, error) {
	return 0, time.Time{}, errors.New("dial tcp secret-host:5432: connection refused")
}
