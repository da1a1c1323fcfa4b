package soak

import (
	"fmt"
	"strings"
	"time"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

// Figures is what a run measured.
type Figures struct {
	Config         Config
	Requests       int
	Paid, Declined int // charges in the store at the end
	Reconciled     int // paid or failed charges that needed more than one attempt or a lookup
	Renewals       int // paid charges of a subscription period after the first
	RenewalsFailed int // declined payments at iamport for a subscription period after the first (dunning)
	PastDue, Ended int // subscriptions in these states at the end
	Refunds        int
	Crashes        int
	Counts         map[string]int
	Faults         map[string]int
	Attacks        map[string]int
	DoublePayments int
	LostPayments   int
	StuckRows      int
	Violations     []Violation
	LoadTime       time.Duration
	SettleTime     time.Duration
	Routes         []RouteLatency
	Resources      []ResourceSample
}

func (r *run) figures(s Snapshot, vs []Violation, load, settle time.Duration) *Figures {
	routes, total := r.lat.summary()
	f := &Figures{Config: r.cfg, Requests: total, Counts: r.counts.copy(), Faults: r.faults.copy(), Attacks: r.attacks.copy(),
		Violations: vs, LoadTime: load, SettleTime: settle, Routes: routes, Resources: s.Resources}
	f.Refunds = f.Counts["refunds"]
	f.Crashes = f.Counts["crashes (SIGKILL)"]
	for _, c := range s.Charges {
		switch c.Status {
		case store.ChargePaid, store.ChargeCancelled:
			f.Paid++
			if c.SubscriptionID != "" && c.Period > 0 {
				f.Renewals++
			}
		case store.ChargeFailed:
			f.Declined++
		}
		if c.SubscriptionID != "" && c.Period > 0 {
			for _, p := range s.FakePayments[c.MerchantUID] {
				if p.Status == iamport.StatusFailed {
					f.RenewalsFailed++
				}
			}
		}
		if c.Attempts > 1 || notesMention(c, "lookup") {
			f.Reconciled++
		}
	}
	for _, sub := range s.Subscriptions {
		switch sub.Status {
		case store.SubscriptionPastDue:
			f.PastDue++
		case store.SubscriptionEnded:
			f.Ended++
		}
	}
	for _, v := range vs {
		switch v.Kind {
		case VDoublePayment, VRenewalTwice:
			f.DoublePayments++
		case VLostPayment:
			f.LostPayments++
		case VStuck:
			f.StuckRows++
		}
	}
	return f
}

func notesMention(c *store.Charge, word string) bool {
	for _, n := range c.Notes {
		if strings.Contains(strings.ToLower(n.Text), word) {
			return true
		}
	}
	return false
}

// Markdown renders the figures as a table (and the violations under it).
func (f *Figures) Markdown() string {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	storage := storageName(f.Config)
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	setup := fmt.Sprintf("%d instance(s) of examples/nethttp on %s, fake iamport, seed %d", f.Config.Instances, storage, f.Config.Seed)
	if f.Config.ClockSkew != 0 && f.Config.Instances > 1 {
		var skews []string
		for i := range f.Config.Instances {
			skews = append(skews, fmt.Sprintf("%+v", f.Config.skewOf(i)))
		}
		setup += "; billing clocks skewed " + strings.Join(skews, ", ")
	}
	row("setup", setup)
	row("load phase / time to settle", fmt.Sprintf("%s / %s", f.LoadTime.Round(time.Second), f.SettleTime.Round(time.Second)))
	row("requests (customers)", f.Requests)
	row("charges paid / declined", fmt.Sprintf("%d / %d", f.Paid, f.Declined))
	row("charges settled by reconciliation (retry or lookup)", f.Reconciled)
	row("renewals paid / declined (dunning)", fmt.Sprintf("%d / %d", f.Renewals, f.RenewalsFailed))
	row("subscriptions past due / ended at the end", fmt.Sprintf("%d / %d", f.PastDue, f.Ended))
	row("refunds (console, partial and full)", f.Refunds)
	for _, k := range sortedKeys(f.Counts) {
		if k != "refunds" && k != "crashes (SIGKILL)" {
			row(k, f.Counts[k])
		}
	}
	row("faults injected", kinds(f.Faults))
	row("attacks", kinds(f.Attacks))
	row("crashes (SIGKILL + restart)", f.Crashes)
	row("double charges", f.DoublePayments)
	row("lost payments", f.LostPayments)
	row("stuck rows", f.StuckRows)
	if len(f.Resources) > 0 {
		var parts []string
		for _, r := range f.Resources {
			parts = append(parts, fmt.Sprintf("%s %d→%d / %d→%d", r.Instance, r.GoroutineStart, r.GoroutineEnd, r.FDStart, r.FDEnd))
		}
		row("goroutines / open files, latest start → end", strings.Join(parts, "; "))
	}
	row("**invariant violations**", fmt.Sprintf("**%d**", len(f.Violations)))
	for _, rt := range f.Routes {
		row("p50 / p99 "+rt.Route, fmt.Sprintf("%s / %s (n=%d)", rt.P50.Round(time.Millisecond), rt.P99.Round(time.Millisecond), rt.N))
	}
	if len(f.Violations) > 0 {
		b.WriteString("\nViolations:\n\n")
		for i, v := range f.Violations {
			if i == 50 {
				fmt.Fprintf(&b, "- ... and %d more\n", len(f.Violations)-50)
				break
			}
			fmt.Fprintf(&b, "- %s\n", v)
		}
	}
	return b.String()
}

func kinds(m map[string]int) string {
	var parts []string
	total := 0
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		total += m[k]
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}
