package demo

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Paths of the operations endpoints, outside every login.
const (
	// MetricsPath serves billkey's metrics (core records them through the OpenTelemetry
	// API; the example provides the SDK) and the Go runtime's and the process's, in
	// Prometheus' text format.
	MetricsPath = "/metrics"
	// ReadyPath answers 200 while core.Service.Health says ready, 503 otherwise.
	ReadyPath = "/readyz"
)

// telemetry is the example's OpenTelemetry SDK: a MeterProvider whose only reader is a
// Prometheus exporter on a registry of its own, which also holds the standard Go and
// process collectors (go_goroutines, process_open_fds, ...) that a soak run reads.
type telemetry struct {
	provider *sdkmetric.MeterProvider
	handler  http.Handler
}

func newTelemetry() (*telemetry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	return &telemetry{
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		handler:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

func (t *telemetry) close() {
	_ = t.provider.Shutdown(context.Background())
}

// GET /metrics.
func (a *App) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	a.tel.handler.ServeHTTP(w, r)
}

// readyReport is the body of GET /readyz: the reason is one of a few fixed words, never
// an error's text (which may name hosts or credentials).
type readyReport struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

// GET /readyz: whether a load balancer should send traffic here, from core's own check
// (the store answers, the last token request did not fail).
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	h := a.svc.Health(r.Context())
	rep := readyReport{Ready: h.Ready}
	status := http.StatusOK
	if !h.Ready {
		status = http.StatusServiceUnavailable
		rep.Reason = "iamport_token_failing"
		if h.Store != "ok" {
			rep.Reason = "store_unreachable"
		}
	}
	body, _ := json.Marshal(rep) // a bool and a string: cannot fail
	body = append(body, '\n')
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
