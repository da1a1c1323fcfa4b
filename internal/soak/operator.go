package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/billkey/billkey/iamport"
)

// operator is the member of staff who refunds through billkey's admin routes, which the
// example mounts under adminAPIPrefix behind its staff login. Refunds made this way are
// sent with a checksum and an idempotency key; one whose outcome is unknown is settled by
// billkey's lookup of the cancel history, never by sending again.
type operator struct {
	r      *run
	logins *logins
}

// session is the operator's session on some instance that is up, trying them from
// instance try on.
func (o *operator) session(ctx context.Context, try int) (session, error) {
	var last error
	for k := range len(o.r.fleet) {
		s, err := o.logins.on(ctx, (try+k)%len(o.r.fleet))
		if err == nil {
			return s, nil
		}
		last = err
	}
	return session{}, last
}

// adminRefunds has the operator refund some paid charges through the admin API: half of
// what is left, or all of it.
func (r *run) adminRefunds(ctx context.Context) {
	o := &operator{r: r, logins: newLogins(r, adminPath+"/login", staffUser)}
	t := time.NewTicker(max(r.cfg.Duration/16, time.Second))
	defer t.Stop()
	for n := 0; n < 30; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Another customer than the console refunds of this tick pick.
		mu := r.merchantUIDOf(demoUsers[(n+1)%len(demoUsers)])
		for _, p := range r.up.fake.PaymentsByMerchantUID(mu) {
			left := p.Amount - p.CancelAmount
			if p.Status != iamport.StatusPaid || left <= 0 {
				continue
			}
			amount := left / 2
			if n%3 == 0 {
				amount = 0 // all that is left
			}
			o.refund(ctx, n, mu, amount)
			break
		}
	}
}

// refund asks for one refund, repeating the request with the same key while the answer
// is transient (bounded).
func (o *operator) refund(ctx context.Context, n int, mu string, amount int64) {
	r := o.r
	body, _ := json.Marshal(map[string]any{"amount": amount, "reason": "soak: operator refund"})
	key := fmt.Sprintf("soak-refund-%d", n)
	r.noteAdminRefund(mu)
	unknown := false
	for try := 0; try < retriesPerCharge && ctx.Err() == nil; try++ {
		s, err := o.session(ctx, n+try)
		if err != nil {
			r.pause(ctx, time.Second)
			continue
		}
		a, err := r.cl.do(ctx, "POST admin refunds", http.MethodPost, s.base+adminAPIPrefix+"/charges/"+mu+"/refunds", body,
			s.header("Content-Type", "application/json", "Idempotency-Key", key))
		switch {
		case err == nil && a.Status == http.StatusCreated:
			r.counts.inc("refunds (admin API)")
			return
		case err == nil && a.Status == http.StatusAccepted:
			if !unknown {
				unknown = true
				r.counts.inc("admin refunds answered unknown at first")
			}
		case err == nil && a.Status == http.StatusUnauthorized:
			o.logins.forget(s)
			continue
		case err == nil && a.Status < 500 && problemCode(a) != "refund_in_progress":
			// Refused before anything was sent (the charge changed meanwhile) or declined
			// by iamport (a fault): nothing was refunded, and the audit checks that.
			r.counts.inc("admin refunds refused or declined")
			return
		case err == nil && a.Status == http.StatusBadGateway && problemCode(a) == "refund_failed":
			r.counts.inc("admin refunds refused or declined")
			return
		}
		r.pause(ctx, 500*time.Millisecond)
	}
	// Still unknown or unanswered: billkey settles it; the audit waits for that.
	r.counts.inc("admin refunds left to billkey to settle")
}

func (r *run) noteAdminRefund(mu string) {
	r.mu.Lock()
	r.adminRefunded = append(r.adminRefunded, mu)
	r.mu.Unlock()
}
