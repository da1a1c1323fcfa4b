//go:build unix

package chaos

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

// member is one customer of the run: a plan and a test card.
type member struct {
	user, plan, card string
	declined         bool // every charge declines
	declineAfter     int  // > 0: the first declineAfter charges pay, then every one declines
}

// dunning is core's default retry schedule of a failed renewal, counted from when it
// was due (the first charge at 0), and grace how late a renewal may run and keep its
// period.
var (
	dunning = []time.Duration{0, 24 * time.Hour, 3 * 24 * time.Hour, 5 * 24 * time.Hour}
	grace   = 3 * 24 * time.Hour
)

// snapshot is what the store holds for the members: each one's subscription and
// charges.
type snapshot struct {
	subs    map[string]*store.Subscription
	charges map[string][]*store.Charge
}

func takeSnapshot(ctx context.Context, st store.Store, pop []member) (snapshot, error) {
	s := snapshot{subs: make(map[string]*store.Subscription), charges: make(map[string][]*store.Charge)}
	var mu sync.Mutex
	var firstErr error
	work := make(chan member)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for m := range work {
				subs, err := st.ListSubscriptions(ctx, m.user)
				var cs []*store.Charge
				if err == nil {
					cs, err = st.ListCharges(ctx, m.user, 1000)
				}
				mu.Lock()
				switch {
				case err != nil:
					firstErr = cmpErr(firstErr, err)
				case len(subs) == 1:
					s.subs[m.user] = subs[0]
				case len(subs) > 1:
					firstErr = cmpErr(firstErr, fmt.Errorf("%s has %d subscriptions", m.user, len(subs)))
				}
				s.charges[m.user] = cs
				mu.Unlock()
			}
		})
	}
	for _, m := range pop {
		work <- m
	}
	close(work)
	wg.Wait()
	return s, firstErr
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// unsettled says why the snapshot is not at rest at now ("" when it is): a charge
// without an outcome, a subscription with a charge in progress, due, past due or
// incomplete.
func (s snapshot) unsettled(now time.Time) string {
	for user, cs := range s.charges {
		for _, c := range cs {
			if c.Status == store.ChargePending || c.Status == store.ChargeCharging || c.Status == store.ChargeUnknown {
				return fmt.Sprintf("%s: charge %s is %s", user, c.MerchantUID, c.Status)
			}
		}
	}
	for user, sub := range s.subs {
		if why := restless(sub, now); why != "" {
			return user + ": " + why
		}
		if sub.Status == store.SubscriptionPastDue {
			return user + ": past_due"
		}
	}
	return ""
}

// restless says why sub is in a state it cannot stay in at now.
func restless(sub *store.Subscription, now time.Time) string {
	switch {
	case sub.ChargeMerchantUID != "":
		return "a charge in progress (" + sub.ChargeMerchantUID + ")"
	case sub.Status == store.SubscriptionIncomplete:
		return "incomplete"
	case sub.Status == store.SubscriptionEnded && !sub.NextActionAt.IsZero():
		return "ended with a next action"
	case sub.Status != store.SubscriptionEnded && sub.NextActionAt.IsZero():
		return string(sub.Status) + " with no next action"
	case sub.Status != store.SubscriptionEnded && !sub.NextActionAt.After(now):
		return fmt.Sprintf("%s with its next action %s in the past", sub.Status, sub.NextActionAt.Format(time.RFC3339))
	}
	return ""
}

// report is what the audit found.
type report struct {
	problems                             []string
	doubleCharges, missed, stuck, strays int
	paid, failed, dunningRetries         int
	recovered, resent, ended             int
	maxLag                               time.Duration
	maxConcurrentAgain                   int
}

func (r *report) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// audit checks the store against the fake and against what each member's plan and card
// call for. frozen is the fake's time when the instances were last seen at rest, final
// its time once they stopped: a renewal may have come due in between.
func audit(s snapshot, pop []member, fake *iamporttest.Fake, sent map[string]int, frozen, final time.Time) *report {
	r := &report{}
	known := make(map[string]bool)
	for _, m := range pop {
		sub := s.subs[m.user]
		if sub == nil {
			r.problem("%s: no subscription", m.user)
			continue
		}
		byPeriod := make(map[int][]*store.Charge)
		for _, c := range s.charges[m.user] {
			known[c.MerchantUID] = true
			if c.SubscriptionID == sub.ID {
				byPeriod[c.Period] = append(byPeriod[c.Period], c)
			}
		}
		for period, cs := range byPeriod {
			r.checkPeriod(m, period, cs, fake)
		}
		if why := restless(sub, frozen); why != "" {
			r.stuck++
			r.problem("%s: subscription %s", m.user, why)
		}
		if sub.Status == store.SubscriptionEnded {
			r.ended++
		}
		r.checkCourse(m, sub, byPeriod, frozen, final)
	}
	for mu := range sent {
		if !known[mu] {
			r.strays++
			r.problem("again was sent for %s, which no charge in the store has", mu)
		}
	}
	for mu, n := range fake.MaxConcurrentAgain() {
		r.maxConcurrentAgain = max(r.maxConcurrentAgain, n)
		if n > 1 {
			r.problem("%d again requests for %s were in flight at once", n, mu)
		}
	}
	return r
}

// checkPeriod checks the charges of one period against the fake: each settled as the
// fake says, and at most one paid, here and there.
func (r *report) checkPeriod(m member, period int, cs []*store.Charge, fake *iamporttest.Fake) {
	paidHere, paidThere := 0, 0
	for _, c := range cs {
		atFake := 0
		var p iamport.Payment
		for _, fp := range fake.PaymentsByMerchantUID(c.MerchantUID) {
			if fp.Status == iamport.StatusPaid {
				atFake++
				p = fp
			}
		}
		paidThere += atFake
		if c.Attempts > 1 {
			r.resent++
		}
		if retryOf(c) > 0 {
			r.dunningRetries++
		}
		switch c.Status {
		case store.ChargePaid:
			paidHere++
			r.paid++
			if retryOf(c) > 0 {
				r.recovered++
			}
			if atFake != 1 || p.ImpUID != c.ImpUID || p.Amount != c.Amount || c.Amount != planByID(c.PlanID).Amount {
				r.problem("%s period %d: charge %s paid %d here; %d paid payments at the fake (imp_uid %s there, %s here; amount %d there)",
					m.user, period, c.MerchantUID, c.Amount, atFake, p.ImpUID, c.ImpUID, p.Amount)
			}
		case store.ChargeFailed:
			r.failed++
			if atFake != 0 {
				r.problem("%s period %d: charge %s failed here but is paid at the fake", m.user, period, c.MerchantUID)
			}
		default:
			r.stuck++
			r.problem("%s period %d: charge %s left %s", m.user, period, c.MerchantUID, c.Status)
		}
	}
	if paidHere > 1 || paidThere > 1 {
		r.doubleCharges += max(paidHere, paidThere) - 1
		r.problem("%s period %d: paid %d times here, %d times at the fake", m.user, period, paidHere, paidThere)
	}
}

// checkCourse checks that the subscription went where its card takes it: an accepted
// card pays every period that came due, on time, from an anchor that never moved; a
// declined one ends it at the first charge (after the trial's dunning, with a trial); one
// that declines after n charges has paid n periods and ended after four failures of the
// next.
func (r *report) checkCourse(m member, sub *store.Subscription, byPeriod map[int][]*store.Charge, frozen, final time.Time) {
	plan := planByID(m.plan)
	paidPeriods := 0
	for _, cs := range byPeriod {
		if paidIn(cs) != nil {
			paidPeriods++
		}
	}
	switch {
	case m.declined:
		want := 1
		if !plan.Trial.IsZero() {
			want = len(dunning)
		}
		if sub.Status != store.SubscriptionEnded || paidPeriods != 0 || len(byPeriod[0]) != want {
			r.missed++
			r.problem("%s (declined, %s): %s with %d paid periods and %d charges of the first, want ended, 0, %d",
				m.user, m.plan, sub.Status, paidPeriods, len(byPeriod[0]), want)
		}
		return
	case m.declineAfter > 0:
		n := m.declineAfter
		if sub.Status != store.SubscriptionEnded || paidPeriods != n || sub.Period != n-1 || len(byPeriod[n]) != len(dunning) ||
			!strings.Contains(sub.EndReason, strconv.Itoa(len(dunning))+" times") {
			r.missed++
			r.problem("%s (declines after %d, %s): %s at period %d with %d paid periods and %d charges of period %d (%q)",
				m.user, n, m.plan, sub.Status, sub.Period, paidPeriods, len(byPeriod[n]), n, sub.EndReason)
		}
		return
	}
	r.checkPaidCourse(m, sub, byPeriod, plan, frozen, final)
}

// checkPaidCourse is checkCourse for an accepted card.
func (r *report) checkPaidCourse(m member, sub *store.Subscription, byPeriod map[int][]*store.Charge, plan core.Plan, frozen, final time.Time) {
	if sub.Status != store.SubscriptionActive {
		r.missed++
		r.problem("%s (%s): %s, want active", m.user, m.plan, sub.Status)
		return
	}
	first := paidIn(byPeriod[0])
	if first == nil {
		r.missed++
		r.problem("%s (%s): the first period was never paid", m.user, m.plan)
		return
	}
	origin := first.PaidAt
	if !plan.Trial.IsZero() {
		origin = sub.TrialEnd
	}
	if !near(sub.Anchor, origin) {
		r.missed++
		r.problem("%s (%s): anchored at %s, not %s: a renewal ran more than the grace late", m.user, m.plan,
			sub.Anchor.In(kst).Format(time.RFC3339), origin.In(kst).Format(time.RFC3339))
		return
	}
	// end(i) is when period i ends; period k is current when end(k-1) <= now < end(k).
	end := func(i int) time.Time {
		if i < 0 {
			return origin
		}
		return periodEndAfter(origin, plan.Every, i)
	}
	k := sub.Period
	if !end(k).After(frozen) || end(k-1).After(final) || !near(sub.PeriodEnd, end(k)) || !near(sub.PeriodStart, end(k-1)) {
		r.missed++
		r.problem("%s (%s): at period %d ending %s, which is not the current one (anchor %s)", m.user, m.plan, k,
			sub.PeriodEnd.In(kst).Format(time.RFC3339), origin.In(kst).Format(time.RFC3339))
	}
	for i := 0; i <= k; i++ {
		c := paidIn(byPeriod[i])
		if c == nil {
			r.missed++
			r.problem("%s (%s): period %d was never paid", m.user, m.plan, i)
			continue
		}
		if i == 0 && plan.Trial.IsZero() {
			continue // charged when it was subscribed
		}
		r.maxLag = max(r.maxLag, c.PaidAt.Sub(end(i-1))-dunning[retryOf(c)])
	}
}

// paidIn is the paid charge among cs, nil if none.
func paidIn(cs []*store.Charge) *store.Charge {
	for _, c := range cs {
		if c.Status == store.ChargePaid {
			return c
		}
	}
	return nil
}

// retryOf is the dunning retry a renewal charge is, read from its idempotency key
// billkey:sub:<id>:<period>:<retry>.
func retryOf(c *store.Charge) int {
	i := strings.LastIndexByte(c.IdempotencyKey, ':')
	n, err := strconv.Atoi(c.IdempotencyKey[i+1:])
	if err != nil || n < 0 || n >= len(dunning) {
		return 0
	}
	return n
}

// near reports whether two stored instants are the same (stores keep milliseconds).
func near(a, b time.Time) bool { return a.Sub(b).Abs() < time.Millisecond }

// periodEndAfter is when period n (0 = the first) of a subscription anchored at anchor
// ends, counted independently of core: n+1 periods after the anchor, months keeping the
// anchor's day and time of day in Seoul, clamped to the month's last day.
func periodEndAfter(anchor time.Time, every core.Period, n int) time.Time {
	a := anchor.In(kst)
	if every.Days > 0 {
		return a.AddDate(0, 0, every.Days*(n+1))
	}
	first := time.Date(a.Year(), a.Month()+time.Month(every.Months*(n+1)), 1, 0, 0, 0, 0, kst)
	lastDay := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, kst).Day()
	return time.Date(first.Year(), first.Month(), min(a.Day(), lastDay), a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), kst)
}
