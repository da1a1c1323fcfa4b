// Package testkit holds the test doubles billkey's own tests share: a settable clock, an
// event recorder, a log sink and the fake payment window played for an issuance. It is
// imported by tests only.
package testkit

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// PayInWindow plays fake's payment window for the issuance p describes, with card.
func PayInWindow(t testing.TB, fake *iamporttest.Server, p core.RequestPayParams, card string, mobile bool) *iamporttest.IssueResult {
	t.Helper()
	res, err := fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: p.PG, PayMethod: p.PayMethod, MerchantUID: p.MerchantUID, CustomerUID: p.CustomerUID,
		Name: p.Name, Amount: p.Amount, BuyerName: p.BuyerName, BuyerEmail: p.BuyerEmail,
		BuyerTel: p.BuyerTel, NoticeURL: p.NoticeURL, MRedirectURL: p.MRedirectURL,
		CardNumber: card, Mobile: mobile,
	})
	require.NoError(t, err)
	return res
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Events records events; it is a event.Sink.
type Events struct {
	mu  sync.Mutex
	all []event.Event
}

// Handle records e.
func (l *Events) Handle(_ context.Context, e event.Event) {
	l.mu.Lock()
	l.all = append(l.all, e)
	l.mu.Unlock()
}

// All returns a copy of what was recorded so far.
func (l *Events) All() []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event.Event(nil), l.all...)
}

// Count counts events of kind (for merchantUID, if not empty).
func (l *Events) Count(kind event.Kind, merchantUID string) int {
	n := 0
	for _, e := range l.All() {
		if e.Kind == kind && (merchantUID == "" || e.MerchantUID == merchantUID) {
			n++
		}
	}
	return n
}

// LogSink is a goroutine-safe log sink.
type LogSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *LogSink) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *LogSink) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
