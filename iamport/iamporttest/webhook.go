package iamporttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// WebhookFormat is the body type of notifications.
type WebhookFormat int

// Webhook formats.
const (
	WebhookJSON WebhookFormat = iota // application/json
	WebhookForm                      // application/x-www-form-urlencoded
)

// WebhookConfig controls notifications. URL is used when a payment has no notice_url.
type WebhookConfig struct {
	URL        string
	Format     WebhookFormat
	Duplicates int           // extra copies of each notification
	Delay      time.Duration // wait before sending
	Reorder    bool          // deliver pending notifications in shuffled order
	// Retries resends a notification whose delivery met a network error or a 5xx answer,
	// up to this many times, RetryEvery apart: iamport's delivery retries, which a
	// merchant asks its support to turn on (five, a minute apart). 0 is iamport's
	// default, one delivery.
	Retries    int
	RetryEvery time.Duration // 0 = a minute
}

// defaultRetryEvery is iamport's interval between delivery retries.
const defaultRetryEvery = time.Minute

// Webhook is one notification the fake sent (or tried to).
type Webhook struct {
	URL            string
	ImpUID         string
	MerchantUID    string
	Status         string
	CancellationID string // set on "cancelled" notifications
	Err            error  // delivery error, nil if answered
	HTTPStatus     int
}

// webhookTimeout bounds one delivery.
const webhookTimeout = 5 * time.Second

// reorderHold is how long, at least, notifications are held to be shuffled when Reorder is
// on: the batch is sent once no new notification arrived for max(Delay, reorderHold).
const reorderHold = 30 * time.Millisecond

// errFakeClosed is the delivery error of notifications dropped by Close.
var errFakeClosed = errors.New("iamporttest: fake closed before delivery")

// hookNote is what a payment event sends; url "" means the configured URL.
type hookNote struct {
	url            string
	impUID         string
	merchantUID    string
	status         string
	cancellationID string
}

type pendingHook struct {
	n       hookNote
	format  WebhookFormat
	due     time.Time
	retries int           // resends left
	every   time.Duration // between resends
	resend  bool          // a retry: due holds it back under Reorder too
}

// retry is p sent again after its interval, or false when it has no resend left or the
// answer was not one iamport resends after.
func (p pendingHook) retry(rec Webhook, now time.Time) (pendingHook, bool) {
	if p.retries <= 0 || (rec.Err == nil && rec.HTTPStatus < 500) {
		return p, false
	}
	p.retries--
	p.due, p.resend = now.Add(p.every), true
	return p, true
}

// webhooks queues and delivers notifications from one background worker, in order unless
// Reorder is on.
type webhooks struct {
	mu          sync.Mutex
	cfg         WebhookConfig
	pending     []pendingHook
	log         []Webhook
	outstanding int           // pending + in flight
	idle        chan struct{} // closed while outstanding == 0
	running     bool
	lastEnqueue time.Time
	closed      bool
	wake        chan struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	client      *http.Client
	shuffle     func(n int, swap func(i, j int)) // rand.Shuffle; tests may fix the order
}

func newWebhooks(cfg WebhookConfig) *webhooks {
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &webhooks{
		cfg:     cfg,
		idle:    idle,
		wake:    make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		shuffle: rand.Shuffle,
		client: &http.Client{
			Timeout: webhookTimeout,
			// No keep-alive: nothing of the transport outlives a delivery.
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// SetWebhook replaces the notification configuration. Notifications already queued keep
// their URL, format and delay; a change of Reorder or Delay applies to the batch being held
// for reordering.
func (f *Fake) SetWebhook(cfg WebhookConfig) {
	f.hooks.mu.Lock()
	f.hooks.cfg = cfg
	f.hooks.mu.Unlock()
	f.hooks.poke()
}

// Webhooks lists the notifications delivered or failed so far, in delivery order, one
// entry per attempt (a resend is an entry of its own).
func (f *Fake) Webhooks() []Webhook {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	out := make([]Webhook, len(f.hooks.log))
	copy(out, f.hooks.log)
	return out
}

// WaitWebhooks blocks until every queued notification has been delivered (or failed, with
// no resend left) or the timeout passes, and reports whether the queue is empty.
func (f *Fake) WaitWebhooks(timeout time.Duration) bool {
	h := f.hooks
	h.mu.Lock()
	ch := h.idle
	h.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// notify queues notifications (and their duplicates) for delivery; it never blocks on the
// network.
func (f *Fake) notify(notes []hookNote) {
	h := f.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	added := 0
	for _, n := range notes {
		if n.url == "" {
			n.url = h.cfg.URL
		}
		if n.url == "" || n.impUID == "" {
			continue
		}
		copies := 1 + max(h.cfg.Duplicates, 0)
		for range copies {
			if h.closed {
				h.log = append(h.log, n.record(errFakeClosed, 0))
				continue
			}
			every := h.cfg.RetryEvery
			if every <= 0 {
				every = defaultRetryEvery
			}
			h.pending = append(h.pending, pendingHook{n: n, format: h.cfg.Format, due: now.Add(h.cfg.Delay),
				retries: max(h.cfg.Retries, 0), every: every})
			added++
		}
	}
	if added == 0 {
		return
	}
	if h.outstanding == 0 {
		h.idle = make(chan struct{})
	}
	h.outstanding += added
	h.lastEnqueue = now
	if !h.running {
		h.running = true
		h.wg.Add(1)
		go h.run()
	} else {
		h.poke()
	}
}

func (h *webhooks) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// doneLocked accounts for n finished deliveries.
func (h *webhooks) doneLocked(n int) {
	h.outstanding -= n
	if h.outstanding <= 0 {
		h.outstanding = 0
		close(h.idle)
	}
}

// run is the delivery worker; it exits when the queue is empty or the fake is closed.
func (h *webhooks) run() {
	defer h.wg.Done()
	for {
		h.mu.Lock()
		if h.closed {
			for _, p := range h.pending {
				h.log = append(h.log, p.n.record(errFakeClosed, 0))
			}
			if n := len(h.pending); n > 0 {
				h.pending = nil
				h.doneLocked(n)
			}
			h.running = false
			h.mu.Unlock()
			return
		}
		if len(h.pending) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		now := time.Now()
		var wait time.Duration
		var batch []pendingHook
		if h.cfg.Reorder {
			hold := max(h.cfg.Delay, reorderHold)
			if d := h.lastEnqueue.Add(hold).Sub(now); d > 0 {
				wait = d
			} else if batch, wait = h.takeDueLocked(now); len(batch) > 0 {
				h.shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			}
		} else {
			// The earliest due first: a resend waiting for its interval holds nothing up.
			first := 0
			for i, p := range h.pending {
				if p.due.Before(h.pending[first].due) {
					first = i
				}
			}
			if d := h.pending[first].due.Sub(now); d > 0 {
				wait = d
			} else {
				batch = []pendingHook{h.pending[first]}
				h.pending = append(h.pending[:first:first], h.pending[first+1:]...)
			}
		}
		h.mu.Unlock()

		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-h.wake:
			case <-h.ctx.Done():
			}
			t.Stop()
			continue
		}
		for _, p := range batch {
			rec := h.deliver(p)
			h.mu.Lock()
			h.log = append(h.log, rec)
			if again, ok := p.retry(rec, time.Now()); ok && !h.closed {
				h.pending = append(h.pending, again) // still outstanding
			} else {
				h.doneLocked(1)
			}
			h.mu.Unlock()
		}
	}
}

// takeDueLocked removes and returns the pending notifications that are due under Reorder
// (all but resends whose interval is not over), or, when none is, how long until the
// first will be.
func (h *webhooks) takeDueLocked(now time.Time) (due []pendingHook, wait time.Duration) {
	rest := h.pending[:0:0]
	for _, p := range h.pending {
		switch d := p.due.Sub(now); {
		case !p.resend || d <= 0:
			due = append(due, p)
		case wait == 0 || d < wait:
			wait = d
			rest = append(rest, p)
		default:
			rest = append(rest, p)
		}
	}
	h.pending = rest
	if len(due) > 0 {
		wait = 0
	}
	return due, wait
}

// deliver POSTs one notification and reports the outcome.
func (h *webhooks) deliver(p pendingHook) Webhook {
	fields := map[string]string{
		"imp_uid":      p.n.impUID,
		"merchant_uid": p.n.merchantUID,
		"status":       p.n.status,
	}
	if p.n.cancellationID != "" {
		fields["cancellation_id"] = p.n.cancellationID
	}
	var body []byte
	var ctype string
	if p.format == WebhookForm {
		v := url.Values{}
		for k, s := range fields {
			v.Set(k, s)
		}
		body, ctype = []byte(v.Encode()), "application/x-www-form-urlencoded"
	} else {
		body, _ = json.Marshal(fields)
		ctype = "application/json"
	}
	ctx, cancel := context.WithTimeout(h.ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.n.url, bytes.NewReader(body))
	if err != nil {
		return p.n.record(err, 0)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "iamporttest-webhook")
	resp, err := h.client.Do(req)
	if err != nil {
		return p.n.record(err, 0)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return p.n.record(nil, resp.StatusCode)
}

func (n hookNote) record(err error, status int) Webhook {
	return Webhook{
		URL:            n.url,
		ImpUID:         n.impUID,
		MerchantUID:    n.merchantUID,
		Status:         n.status,
		CancellationID: n.cancellationID,
		Err:            err,
		HTTPStatus:     status,
	}
}

// close stops the worker, fails what is still queued and waits for the worker to exit.
func (h *webhooks) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.poke()
	h.wg.Wait()
	h.client.CloseIdleConnections()
}
