package core

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/billkey/billkey/iamport"
)

// Metrics and traces go through OpenTelemetry's API only (Config.MeterProvider and
// Config.TracerProvider); the merchant plugs in the SDK and exporter of its choice.
// Without them nothing is recorded. Instruments (all prefixed billkey.):
//
//	charges                 counter   {result: paid|failed|unknown|cancelled|refunded}
//	iamport.calls           counter   {endpoint, outcome: ok|refused|declined|not_found|unknown|not_sent|unauthorized|invalid}
//	iamport.duration        histogram seconds {endpoint}
//	charges.open            gauge     charges not settled yet (pending, charging, unknown)
//	charges.open.oldest_age gauge     seconds since the oldest of them was created
//	reconciler.sweeps       counter
//	reconciler.settled      counter   {outcome: paid|failed|cancelled|retried|still_unknown|confirmed}
//	renewals                counter   {result: claimed|charged|renewed|failed|ended|waiting}
//	webhooks                counter   {result: applied|ignored|failed|duplicate|invalid}
//	refunds                 counter   {result: succeeded|failed|unknown}
//	iamport.token.refreshes gauge     getToken requests {outcome: ok|failed} since start

// instrumentation is the scope name of billkey's meter and tracer.
const instrumentation = "github.com/billkey/billkey/core"

type telemetry struct {
	tracer     trace.Tracer
	charges    metric.Int64Counter
	calls      metric.Int64Counter
	duration   metric.Float64Histogram
	sweeps     metric.Int64Counter
	settled    metric.Int64Counter
	renewals   metric.Int64Counter
	webhooks   metric.Int64Counter
	refunds    metric.Int64Counter
	registered metric.Registration
}

// newTelemetry makes the instruments; an instrument the provider refuses is replaced by
// a no-op one (metrics must never stop a charge).
func newTelemetry(s *Service, mp metric.MeterProvider, tp trace.TracerProvider) *telemetry {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	m := mp.Meter(instrumentation)
	noop := metricnoop.Meter{}
	counter := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter("billkey."+name, metric.WithDescription(desc))
		if err != nil {
			c, _ = noop.Int64Counter(name)
		}
		return c
	}
	t := &telemetry{
		tracer:   tp.Tracer(instrumentation),
		charges:  counter("charges", "Charges by the state they reached."),
		calls:    counter("iamport.calls", "Calls to iamport by endpoint and outcome."),
		sweeps:   counter("reconciler.sweeps", "Reconciler sweeps run."),
		settled:  counter("reconciler.settled", "What reconciler sweeps did with the charges they claimed."),
		renewals: counter("renewals", "What renewal sweeps did with the subscriptions they claimed."),
		webhooks: counter("webhooks", "Notifications received, by what applying them did."),
		refunds:  counter("refunds", "Refunds by the state they reached."),
	}
	var err error
	if t.duration, err = m.Float64Histogram("billkey.iamport.duration", metric.WithUnit("s"),
		metric.WithDescription("Latency of calls to iamport by endpoint."),
		metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
		t.duration, _ = noop.Float64Histogram("billkey.iamport.duration")
	}
	open, err1 := m.Int64ObservableGauge("billkey.charges.open", metric.WithDescription("Charges not settled yet."))
	age, err2 := m.Float64ObservableGauge("billkey.charges.open.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest charge not settled yet."))
	tokens, err3 := m.Int64ObservableGauge("billkey.iamport.token.refreshes",
		metric.WithDescription("getToken requests since start, by outcome."))
	if err1 == nil && err2 == nil && err3 == nil {
		t.registered, _ = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
			if n, oldest, err := s.store.OpenCharges(ctx); err == nil {
				o.ObserveInt64(open, int64(n))
				if !oldest.IsZero() {
					o.ObserveFloat64(age, s.now().Sub(oldest).Seconds())
				} else {
					o.ObserveFloat64(age, 0)
				}
			}
			st := s.client.TokenState()
			o.ObserveInt64(tokens, int64(st.Refreshes), metric.WithAttributes(attribute.String("outcome", "ok")))
			o.ObserveInt64(tokens, int64(st.Failures), metric.WithAttributes(attribute.String("outcome", "failed")))
			return nil
		}, open, age, tokens)
	}
	return t
}

func (t *telemetry) count(ctx context.Context, c metric.Int64Counter, key, value string, n int) {
	if n > 0 {
		c.Add(ctx, int64(n), metric.WithAttributes(attribute.String(key, value)))
	}
}

// span starts a span named billkey.<name>; end it with endSpan.
func (t *telemetry) span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "billkey."+name, trace.WithAttributes(attrs...))
}

// endSpan ends span, marking it failed when err is not nil. Only the error's code goes
// on the span: a cause's text may name what traces must not hold.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(otelcodes.Error, ErrorCode(err))
	}
	span.End()
}

// callOutcome names what a call to iamport came to, for the calls counter.
func callOutcome(err error) string {
	var declined *iamport.DeclinedError
	var apiErr *iamport.APIError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &declined):
		return "declined"
	case errors.Is(err, iamport.ErrNotFound):
		return "not_found"
	case errors.Is(err, iamport.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, iamport.ErrOutcomeUnknown):
		return "unknown"
	case errors.Is(err, iamport.ErrNotSent):
		return "not_sent"
	case errors.Is(err, iamport.ErrInvalidInput):
		return "invalid"
	case errors.As(err, &apiErr):
		return "refused"
	}
	return "unknown"
}

// upstream is the iamport client as core calls it: every call is counted, timed and
// traced.
type upstream struct {
	c *iamport.Client
	t *telemetry
}

func (u upstream) observe(ctx context.Context, endpoint string, began time.Time, span trace.Span, err error) {
	outcome := callOutcome(err)
	u.t.calls.Add(ctx, 1, metric.WithAttributes(attribute.String("endpoint", endpoint), attribute.String("outcome", outcome)))
	u.t.duration.Record(ctx, time.Since(began).Seconds(), metric.WithAttributes(attribute.String("endpoint", endpoint)))
	span.SetAttributes(attribute.String("iamport.outcome", outcome))
	if err != nil && outcome != "not_found" {
		span.SetStatus(otelcodes.Error, outcome)
	}
	span.End()
}

func (u upstream) start(ctx context.Context, endpoint string) (context.Context, trace.Span, time.Time) {
	ctx, span := u.t.tracer.Start(ctx, "iamport "+endpoint, trace.WithSpanKind(trace.SpanKindClient))
	return ctx, span, time.Now()
}

func (u upstream) Timeout() time.Duration         { return u.c.Timeout() }
func (u upstream) TokenState() iamport.TokenState { return u.c.TokenState() }

func (u upstream) Again(ctx context.Context, req iamport.AgainRequest) (*iamport.Payment, error) {
	ctx, span, began := u.start(ctx, "again")
	p, err := u.c.Again(ctx, req)
	u.observe(ctx, "again", began, span, err)
	return p, err
}

func (u upstream) GetPayment(ctx context.Context, impUID string, includeSandbox bool) (*iamport.Payment, error) {
	ctx, span, began := u.start(ctx, "get_payment")
	p, err := u.c.GetPayment(ctx, impUID, includeSandbox)
	u.observe(ctx, "get_payment", began, span, err)
	return p, err
}

func (u upstream) FindPayment(ctx context.Context, merchantUID string, status iamport.PaymentStatus) (*iamport.Payment, error) {
	ctx, span, began := u.start(ctx, "find_payment")
	p, err := u.c.FindPayment(ctx, merchantUID, status)
	u.observe(ctx, "find_payment", began, span, err)
	return p, err
}

func (u upstream) GetCustomer(ctx context.Context, customerUID string) (*iamport.Customer, error) {
	ctx, span, began := u.start(ctx, "get_customer")
	c, err := u.c.GetCustomer(ctx, customerUID)
	u.observe(ctx, "get_customer", began, span, err)
	return c, err
}

func (u upstream) DeleteCustomer(ctx context.Context, customerUID, reason string) (*iamport.Customer, error) {
	ctx, span, began := u.start(ctx, "delete_customer")
	c, err := u.c.DeleteCustomer(ctx, customerUID, reason)
	u.observe(ctx, "delete_customer", began, span, err)
	return c, err
}

func (u upstream) CancelPayment(ctx context.Context, req iamport.CancelRequest) (*iamport.Payment, error) {
	ctx, span, began := u.start(ctx, "cancel")
	p, err := u.c.CancelPayment(ctx, req)
	u.observe(ctx, "cancel", began, span, err)
	return p, err
}
