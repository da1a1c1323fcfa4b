package soak

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

// Kinds of violation the audit reports.
const (
	VDoublePayment  = "double_payment"  // two paid payments for one charge, key or period
	VLostPayment    = "lost_payment"    // a payment the fake holds that the store does not know
	VStateMismatch  = "state_mismatch"  // store and fake disagree on status, amount or refund
	VStuck          = "stuck"           // a row left charging, unknown, pending or restless
	VMissedRenewal  = "missed_renewal"  // a period of a live subscription without a paid charge
	VWrongUserKey   = "wrong_user_key"  // a key or charge on a card issued for someone else
	VAttackEffect   = "attack_effect"   // an attacker's request changed something
	VSecretInLog    = "secret_in_log"   // a secret, token or card number in a captured log
	VResourceGrowth = "resource_growth" // descriptors or goroutines of a surviving instance grew
	VHarness        = "harness_failure" // the run itself could not do what it had to
	VRenewalTwice   = "renewal_charged_twice"
)

// Violation is one broken invariant.
type Violation struct {
	Kind   string
	Detail string
}

func (v Violation) String() string { return v.Kind + ": " + v.Detail }

// ResourceSample is an instance's open file descriptors and goroutines just after its
// latest start and after the run settled (-1 where a count could not be read).
type ResourceSample struct {
	Instance                     string
	FDStart, FDEnd               int
	GoroutineStart, GoroutineEnd int
}

// Snapshot is everything the audit compares, taken after the instances settled. It is
// plain data, so a test can damage it and see each violation reported.
type Snapshot struct {
	Now           time.Time
	Charges       []*store.Charge
	Subscriptions []*store.Subscription
	Refunds       []*store.Refund              // of the charges the operator refunded through the admin API
	Keys          map[string]*store.BillingKey // user -> key on file
	// Issued maps each customer_uid the customers registered to the user it was for.
	Issued map[string]string
	// FakePayments are the fake's payments by merchant_uid, for every merchant_uid an
	// `again` call named (AgainMerchantUIDs).
	FakePayments      map[string][]iamport.Payment
	AgainMerchantUIDs []string
	// AttackKeyPrefix starts every Idempotency-Key the attacker sends.
	AttackKeyPrefix string
	// AttackAccepted lists attacker requests answered as if they had worked.
	AttackAccepted []string
	LogFiles       []string
	Secrets        []string // strings no log may hold
	Resources      []ResourceSample
	// FDSlack is how many more descriptors an instance may hold at the end (pooled
	// connections come and go).
	FDSlack int
	// GoroutineSlack is how many more goroutines an instance may run at the end beyond
	// two for each descriptor it gained (an idle keep-alive connection holds a read and
	// a write loop).
	GoroutineSlack int
	// HarnessErrors are failures of the run itself (an instance that never came back).
	HarnessErrors []string
}

// Audit checks every invariant of the run on s.
func Audit(s Snapshot) []Violation {
	var vs []Violation
	add := func(kind, format string, args ...any) {
		vs = append(vs, Violation{Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	for _, e := range s.HarnessErrors {
		add(VHarness, "%s", e)
	}
	byMU := make(map[string]*store.Charge, len(s.Charges))
	for _, c := range s.Charges {
		byMU[c.MerchantUID] = c
	}
	auditPayments(s, byMU, add)
	auditCharges(s, add)
	for _, rf := range s.Refunds {
		if unsettledRefund(rf) {
			add(VStuck, "refund %s of %s left %s", rf.ID, rf.MerchantUID, rf.Status)
		}
	}
	auditSubscriptions(s, add)
	auditKeys(s, add)
	auditAttacks(s, byMU, add)
	auditLogs(s, add)
	auditResources(s, add)
	return vs
}

// auditResources checks that no instance holds more descriptors and goroutines at the
// end than just after its latest start, beyond what pooled connections explain.
func auditResources(s Snapshot, add addFunc) {
	for _, r := range s.Resources {
		fdGrowth := 0
		if r.FDStart > 0 && r.FDEnd > 0 {
			fdGrowth = max(0, r.FDEnd-r.FDStart)
			if fdGrowth > s.FDSlack {
				add(VResourceGrowth, "%s: %d open files at start, %d at the end", r.Instance, r.FDStart, r.FDEnd)
			}
		}
		if r.GoroutineStart <= 0 || r.GoroutineEnd <= 0 {
			add(VHarness, "%s: its goroutines could not be counted (%d at start, %d at the end)", r.Instance, r.GoroutineStart, r.GoroutineEnd)
			continue
		}
		if r.GoroutineEnd > r.GoroutineStart+2*fdGrowth+s.GoroutineSlack {
			add(VResourceGrowth, "%s: %d goroutines at start, %d at the end (%d descriptors more)", r.Instance, r.GoroutineStart, r.GoroutineEnd, fdGrowth)
		}
	}
}

type addFunc func(kind, format string, args ...any)

// auditPayments compares each payment the fake holds with the store's charge.
func auditPayments(s Snapshot, byMU map[string]*store.Charge, add addFunc) {
	for _, mu := range sortedKeys(s.FakePayments) {
		pays := s.FakePayments[mu]
		var paid []iamport.Payment
		for _, p := range pays {
			if p.Status == iamport.StatusPaid || p.Status == iamport.StatusCancelled {
				paid = append(paid, p)
			}
		}
		if len(paid) > 1 {
			add(VDoublePayment, "merchant_uid %s has %d paid payments at the fake", mu, len(paid))
		}
		c := byMU[mu]
		if c == nil {
			if len(paid) > 0 {
				add(VLostPayment, "the fake holds paid payment %s (merchant_uid %s) the store does not know", paid[0].ImpUID, mu)
			}
			continue
		}
		if len(paid) == 0 {
			if c.Status == store.ChargePaid || c.Status == store.ChargeCancelled {
				add(VStateMismatch, "charge %s is %s in the store, the fake holds no paid payment", mu, c.Status)
			}
			continue
		}
		p := paid[0]
		// iamport marks a payment cancelled on any refund; billkey's charge is cancelled
		// only once refunded in full (R23).
		want := store.ChargePaid
		if p.Status == iamport.StatusCancelled && p.CancelAmount >= p.Amount {
			want = store.ChargeCancelled
		}
		switch {
		case c.Status != want:
			add(VStateMismatch, "charge %s is %s in the store, %s at the fake (%s)", mu, c.Status, p.Status, p.ImpUID)
		case c.Amount != p.Amount:
			add(VStateMismatch, "charge %s: amount %d in the store, %d at the fake", mu, c.Amount, p.Amount)
		case c.Refunded != p.CancelAmount:
			add(VStateMismatch, "charge %s half-refunded: %d refunded in the store, %d at the fake", mu, c.Refunded, p.CancelAmount)
		case c.ImpUID != "" && c.ImpUID != p.ImpUID:
			add(VStateMismatch, "charge %s names payment %s, the fake paid %s", mu, c.ImpUID, p.ImpUID)
		}
	}
	for _, c := range s.Charges {
		if (c.Status == store.ChargePaid || c.Status == store.ChargeCancelled) && len(s.FakePayments[c.MerchantUID]) == 0 {
			add(VStateMismatch, "charge %s is %s in the store but the fake has no payment for it", c.MerchantUID, c.Status)
		}
	}
}

// unsettledRefund says whether a refund has no outcome yet.
func unsettledRefund(rf *store.Refund) bool {
	return rf.Status == store.RefundSending || rf.Status == store.RefundUnknown
}

// auditCharges checks that no charge is left without an outcome and that an
// idempotency key names one charge.
func auditCharges(s Snapshot, add addFunc) {
	keys := make(map[string]int)
	for _, c := range s.Charges {
		switch c.Status {
		case store.ChargePending, store.ChargeCharging, store.ChargeUnknown:
			add(VStuck, "charge %s of %s left %s", c.MerchantUID, c.UserID, c.Status)
		}
		if c.Status == store.ChargeCancelled && c.Refunded != c.Amount {
			add(VStuck, "charge %s cancelled with %d of %d refunded", c.MerchantUID, c.Refunded, c.Amount)
		}
		if c.IdempotencyKey != "" && c.Status != store.ChargeFailed {
			keys[c.UserID+"\x00"+c.IdempotencyKey]++
		}
	}
	for k, n := range keys {
		if n > 1 {
			user, key, _ := strings.Cut(k, "\x00")
			add(VDoublePayment, "%s's idempotency key %s names %d charges", user, key, n)
		}
	}
}

// auditSubscriptions checks each period: at most one paid charge, and none missed.
func auditSubscriptions(s Snapshot, add addFunc) {
	paid := make(map[string]int)
	for _, c := range s.Charges {
		if c.SubscriptionID != "" && (c.Status == store.ChargePaid || c.Status == store.ChargeCancelled) {
			paid[fmt.Sprintf("%s/%d", c.SubscriptionID, c.Period)]++
		}
	}
	for k, n := range paid {
		if n > 1 {
			add(VRenewalTwice, "subscription period %s paid %d times", k, n)
		}
	}
	for _, sub := range s.Subscriptions {
		if why := restless(sub, s.Now); why != "" {
			add(VStuck, "subscription %s of %s: %s", sub.ID, sub.UserID, why)
		}
		if sub.Status != store.SubscriptionActive {
			continue
		}
		for p := 0; p <= sub.Period; p++ {
			if p == 0 && !sub.TrialEnd.IsZero() {
				continue
			}
			if paid[fmt.Sprintf("%s/%d", sub.ID, p)] == 0 {
				add(VMissedRenewal, "active subscription %s of %s has no paid charge for period %d", sub.ID, sub.UserID, p)
			}
		}
	}
}

// restless says why sub is in a state it cannot stay in at now ("" when it can).
func restless(sub *store.Subscription, now time.Time) string {
	switch {
	case sub.ChargeMerchantUID != "":
		return "a charge in progress (" + sub.ChargeMerchantUID + ")"
	case sub.Status == store.SubscriptionIncomplete:
		return "incomplete"
	case sub.Status != store.SubscriptionEnded && !sub.NextActionAt.IsZero() && !sub.NextActionAt.After(now):
		return fmt.Sprintf("%s with its next action %s in the past", sub.Status, sub.NextActionAt.Format(time.RFC3339))
	}
	return ""
}

// auditKeys checks that every key and every charge uses a card issued for its own user.
func auditKeys(s Snapshot, add addFunc) {
	for _, user := range sortedKeys(s.Keys) {
		k := s.Keys[user]
		if k.UserID != user {
			add(VWrongUserKey, "the key listed for %s belongs to %s", user, k.UserID)
		}
		if owner, ok := s.Issued[k.CustomerUID]; !ok || owner != user {
			add(VWrongUserKey, "%s's key %s was issued for %q", user, k.CustomerUID, owner)
		}
	}
	for _, c := range s.Charges {
		if owner, ok := s.Issued[c.CustomerUID]; ok && owner != c.UserID {
			add(VWrongUserKey, "charge %s of %s used %s's card %s", c.MerchantUID, c.UserID, owner, c.CustomerUID)
		}
	}
}

// auditAttacks checks that nothing the attacker sent was taken: no charge under its
// keys, no `again` the store cannot explain, no request answered as accepted.
func auditAttacks(s Snapshot, byMU map[string]*store.Charge, add addFunc) {
	for _, a := range s.AttackAccepted {
		add(VAttackEffect, "accepted: %s", a)
	}
	if s.AttackKeyPrefix != "" {
		for _, c := range s.Charges {
			if strings.HasPrefix(c.IdempotencyKey, s.AttackKeyPrefix) {
				add(VAttackEffect, "charge %s made under the attacker's key %s", c.MerchantUID, c.IdempotencyKey)
			}
		}
	}
	for _, mu := range s.AgainMerchantUIDs {
		if byMU[mu] == nil {
			add(VAttackEffect, "`again` for merchant_uid %s, which the store does not know", mu)
		}
	}
}

// auditLogs scans every captured log for the secrets.
func auditLogs(s Snapshot, add addFunc) {
	var secrets []string
	for _, x := range s.Secrets {
		if len(x) >= 8 {
			secrets = append(secrets, x)
		}
	}
	for _, path := range s.LogFiles {
		f, err := os.Open(path)
		if err != nil {
			add(VHarness, "read log %s: %v", path, err)
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		line := 0
		inBanner := false
		for sc.Scan() {
			line++
			text := sc.Text()
			// The sandbox banner lists the fake's public test cards by design.
			switch {
			case strings.HasPrefix(text, "====="):
				inBanner = true
			case strings.HasPrefix(text, listeningPrefix):
				inBanner = false
			}
			if inBanner {
				continue
			}
			for _, x := range secrets {
				if strings.Contains(text, x) {
					add(VSecretInLog, "%s line %d holds a secret (%s...)", path, line, x[:4])
				}
			}
		}
		if err := sc.Err(); err != nil {
			add(VHarness, "read log %s: %v", path, err)
		}
		_ = f.Close()
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
