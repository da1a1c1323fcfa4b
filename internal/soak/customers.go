package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// tally counts events by name.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func newTally() *tally { return &tally{n: make(map[string]int)} }

func (t *tally) inc(name string) { t.addN(name, 1) }

func (t *tally) addN(name string, d int) {
	t.mu.Lock()
	t.n[name] += d
	t.mu.Unlock()
}

func (t *tally) copy() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.n))
	for k, v := range t.n {
		out[k] = v
	}
	return out
}

// retriesPerCharge bounds how often a customer repeats one charge request (same key).
const retriesPerCharge = 8

// customer is one demo user, driving every instance.
type customer struct {
	user   string
	mobile bool   // registers its first card by the mobile redirect path
	card   string // the card number typed in the window
	r      *run
	rng    *rand.Rand
	mu     sync.Mutex // guards rng
	logins *logins
}

// sessionOn returns the customer's session on instance i.
func (c *customer) sessionOn(ctx context.Context, i int) (session, error) {
	return c.logins.on(ctx, i)
}

// anySession picks a live instance at random and signs in there.
func (c *customer) anySession(ctx context.Context) (session, int, error) {
	var last error
	for range 2 * len(c.r.fleet) {
		c.mu.Lock()
		i := c.rng.IntN(len(c.r.fleet))
		c.mu.Unlock()
		s, err := c.sessionOn(ctx, i)
		if err == nil {
			return s, i, nil
		}
		last = err
	}
	return session{}, 0, last
}

// registerCard asks for an issuance, does the fake window's work and completes it by
// the PC callback or the mobile return (which has no session).
func (c *customer) registerCard(ctx context.Context, mobile bool) error {
	for attempt := range retriesPerCharge {
		if err := c.tryRegister(ctx, mobile); err == nil || ctx.Err() != nil {
			return err
		} else if attempt == retriesPerCharge-1 {
			return err
		}
		c.r.pause(ctx, 200*time.Millisecond)
	}
	return nil
}

func (c *customer) tryRegister(ctx context.Context, mobile bool) error {
	s, _, err := c.anySession(ctx)
	if err != nil {
		return err
	}
	a, err := c.r.cl.do(ctx, "GET /billing-key/request", http.MethodGet, s.billing("/billing-key/request"), nil, s.header())
	if err != nil || a.Status != http.StatusOK {
		return fmt.Errorf("issuance request: %v HTTP %d", err, a.Status)
	}
	var ir core.IssuanceRequest
	if err := a.json(&ir); err != nil {
		return err
	}
	p := ir.Params
	c.r.noteIssued(p.CustomerUID, c.user)
	res, err := c.r.up.fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: p.PG, MerchantUID: p.MerchantUID, CustomerUID: p.CustomerUID, Name: p.Name, Amount: p.Amount,
		BuyerName: p.BuyerName, BuyerEmail: p.BuyerEmail, BuyerTel: p.BuyerTel,
		NoticeURL: p.NoticeURL, MRedirectURL: p.MRedirectURL, CardNumber: c.card, Mobile: mobile,
	})
	if err != nil {
		return fmt.Errorf("the fake's window: %w", err)
	}
	if mobile {
		if res.RedirectURL == "" {
			return fmt.Errorf("the window gave no redirect")
		}
		a, err = c.r.cl.do(ctx, "GET /iamport/return", http.MethodGet, res.RedirectURL, nil, nil)
		c.r.counts.inc("card registered (mobile return)")
	} else {
		if res.Payment == nil {
			return fmt.Errorf("the window gave no payment")
		}
		body, _ := json.Marshal(map[string]any{"imp_uid": res.Payment.ImpUID, "merchant_uid": p.MerchantUID, "imp_success": true})
		a, err = c.r.cl.do(ctx, "POST /billing-key/complete", http.MethodPost, s.billing("/billing-key/complete"), body, s.header("Content-Type", "application/json"))
		c.r.counts.inc("card registered (PC callback)")
	}
	if err != nil {
		return err
	}
	// Whatever the completion answered, the webhook settles the issuance too.
	return c.waitKey(ctx)
}

// waitKey polls until the customer's key is on file (bounded).
func (c *customer) waitKey(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		s, _, err := c.anySession(ctx)
		if err == nil {
			a, err := c.r.cl.do(ctx, "GET /billing-key", http.MethodGet, s.billing("/billing-key"), nil, s.header())
			if err == nil && a.Status == http.StatusOK {
				return nil
			}
		}
		c.r.pause(ctx, 100*time.Millisecond)
	}
	return fmt.Errorf("%s's key never appeared", c.user)
}

// charge makes one charge with a fresh key, double-submitted to two instances at once
// for a share of them, and repeats the key until the answer is final (bounded).
func (c *customer) charge(ctx context.Context, n int) {
	key := fmt.Sprintf("c-%s-%d-%d", c.user, c.r.cfg.Seed, n)
	plan := "basic"
	if n%5 == 0 {
		plan = "pro"
	}
	body := []byte(`{"plan":"` + plan + `"}`)
	c.mu.Lock()
	double := c.rng.Float64() < 0.2 && len(c.r.fleet) > 1
	c.mu.Unlock()
	if double {
		c.r.counts.inc("charges double-submitted")
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { c.chargeOnce(ctx, key, body) })
		}
		wg.Wait()
	}
	for range retriesPerCharge {
		a, err := c.chargeOnce(ctx, key, body)
		if ctx.Err() != nil {
			return
		}
		if !isTransient(a, err) {
			switch {
			case a.Status == http.StatusCreated:
				c.r.counts.inc("charges answered paid")
				c.r.notePaid(c.user, a)
			case a.Status == http.StatusPaymentRequired || problemCode(a) == "card_declined" || problemCode(a) == "charge_refused":
				c.r.counts.inc("charges answered declined")
			default:
				c.r.counts.inc("charges answered " + problemCodeOr(a))
			}
			return
		}
		c.r.pause(ctx, 300*time.Millisecond)
	}
	c.r.counts.inc("charges left to reconciliation")
}

func problemCodeOr(a answer) string {
	if code := problemCode(a); code != "" {
		return code
	}
	return fmt.Sprintf("HTTP %d", a.Status)
}

func (c *customer) chargeOnce(ctx context.Context, key string, body []byte) (answer, error) {
	s, _, err := c.anySession(ctx)
	if err != nil {
		return answer{}, err
	}
	return c.r.cl.do(ctx, "POST /charges", http.MethodPost, s.billing("/charges"), body,
		s.header("Content-Type", "application/json", "Idempotency-Key", key))
}

// subscribe starts the customer's subscription to basic (repeating its key when needed).
func (c *customer) subscribe(ctx context.Context) {
	key := fmt.Sprintf("c-%s-sub-%d", c.user, c.r.cfg.Seed)
	for range retriesPerCharge {
		s, _, err := c.anySession(ctx)
		if err != nil {
			c.r.pause(ctx, 300*time.Millisecond)
			continue
		}
		a, err := c.r.cl.do(ctx, "POST /subscriptions", http.MethodPost, s.billing("/subscriptions"), []byte(`{"plan":"basic"}`),
			s.header("Content-Type", "application/json", "Idempotency-Key", key))
		if err == nil && (a.Status == http.StatusCreated || a.Status == http.StatusOK) {
			c.r.counts.inc("subscriptions started")
			return
		}
		if err == nil && a.Status >= 400 && a.Status < 500 && a.Status != http.StatusConflict && a.Status != http.StatusUnauthorized {
			c.r.counts.inc("subscriptions refused " + problemCodeOr(a))
			return
		}
		c.r.pause(ctx, 300*time.Millisecond)
	}
}

// subscriptionAction cancels (at period end) or resumes the customer's subscription.
func (c *customer) subscriptionAction(ctx context.Context, action string) {
	s, _, err := c.anySession(ctx)
	if err != nil {
		return
	}
	a, err := c.r.cl.do(ctx, "GET /subscriptions", http.MethodGet, s.billing("/subscriptions"), nil, s.header())
	if err != nil || a.Status != http.StatusOK {
		return
	}
	var list struct {
		Subscriptions []core.SubscriptionView `json:"subscriptions"`
	}
	if a.json(&list) != nil {
		return
	}
	for _, sub := range list.Subscriptions {
		if sub.Status == core.SubscriptionEnded {
			continue
		}
		a, err := c.r.cl.do(ctx, "POST /subscriptions/{id}/"+action, http.MethodPost, s.billing("/subscriptions/"+url.PathEscape(sub.ID)+"/"+action), []byte(`{}`),
			s.header("Content-Type", "application/json"))
		if err == nil && a.Status < 300 {
			c.r.counts.inc("subscriptions " + map[string]string{"cancel": "cancelled", "resume": "resumed"}[action])
		}
	}
}

// deleteCard removes the customer's key; charges are refused until a new one is on file.
func (c *customer) deleteCard(ctx context.Context) {
	s, _, err := c.anySession(ctx)
	if err != nil {
		return
	}
	a, err := c.r.cl.do(ctx, "DELETE /billing-key", http.MethodDelete, s.billing("/billing-key"), nil, s.header())
	if err == nil && a.Status < 300 {
		c.r.counts.inc("cards deleted")
	}
}

// live runs the customer until stop closes or its charge budget is spent: a card, a
// subscription, then charges with now and then a card replaced or deleted and
// re-registered and the subscription cancelled and resumed.
func (c *customer) live(ctx context.Context, budget *chargeBudget, workers int) {
	if err := c.registerCard(ctx, c.mobile); err != nil {
		c.r.harnessError(fmt.Sprintf("%s could not register a card: %v", c.user, err))
		return
	}
	c.subscribe(ctx)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				n, ok := budget.take(ctx)
				if !ok {
					return
				}
				c.charge(ctx, n)
				if w == 0 && n%97 == 0 {
					c.lifecycleStep(ctx, n)
				}
			}
		})
	}
	wg.Wait()
	// Whatever happened last, leave a card on file so renewals can pay (all but the
	// declining card's, whose renewals are to go through dunning).
	if ctx.Err() == nil && c.card == iamporttest.CardOK {
		_ = c.registerCard(ctx, false)
	}
}

func (c *customer) lifecycleStep(ctx context.Context, n int) {
	switch (n / 97) % 4 {
	case 0:
		_ = c.registerCard(ctx, true) // replace the card
		c.r.counts.inc("cards replaced")
	case 1:
		if c.card != iamporttest.CardOK {
			return // keeps its subscription, so that its renewals go through dunning
		}
		c.subscriptionAction(ctx, "cancel")
	case 2:
		c.subscriptionAction(ctx, "resume")
	case 3:
		c.deleteCard(ctx)
		_ = c.registerCard(ctx, false)
	}
}

// chargeBudget hands out charge numbers up to a bound, shared by all customers.
type chargeBudget struct {
	mu    sync.Mutex
	next  int
	max   int
	stop  bool
	start time.Time
	every time.Duration // pace: charge n starts no sooner than start + n*every
}

func (b *chargeBudget) take(ctx context.Context) (int, bool) {
	b.mu.Lock()
	if b.stop || b.next >= b.max {
		b.mu.Unlock()
		return 0, false
	}
	b.next++
	n := b.next
	at := b.start.Add(time.Duration(n) * b.every)
	b.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return 0, false
		case <-t.C:
		}
	}
	return n, true
}
