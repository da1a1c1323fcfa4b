package core_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// What both harnesses (sh in service_test.go, rtHarness in port_test.go) share: the test
// doubles they wire into core.Config (a settable clock, an event recorder and a log sink)
// and the fake payment window.

// payInWindow plays fake's payment window for the issuance p describes, with card.
func payInWindow(t *testing.T, fake *iamporttest.Server, p core.RequestPayParams, card string, mobile bool) *iamporttest.IssueResult {
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

// testClock is a settable test clock, safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eventLog records events; it is a core.EventSink.
type eventLog struct {
	mu  sync.Mutex
	all []core.Event
}

func (l *eventLog) Handle(_ context.Context, e core.Event) {
	l.mu.Lock()
	l.all = append(l.all, e)
	l.mu.Unlock()
}

// Events returns a copy of what was recorded so far.
func (l *eventLog) Events() []core.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]core.Event(nil), l.all...)
}

// Count counts events of kind (for merchantUID, if not empty).
func (l *eventLog) Count(kind core.EventKind, merchantUID string) int {
	n := 0
	for _, e := range l.Events() {
		if e.Kind == kind && (merchantUID == "" || e.MerchantUID == merchantUID) {
			n++
		}
	}
	return n
}

// logSink is a goroutine-safe log sink.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logSink) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logSink) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
