package soak

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

// cleanSnapshot is a settled run: one paid charge, one active subscription paid for
// its first period, alice's key issued for alice.
func cleanSnapshot(t *testing.T) Snapshot {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	log := filepath.Join(t.TempDir(), "shop1.log")
	if err := os.WriteFile(log, []byte("level=INFO msg=charged customer_uid=cu_alice_1 card=411111******1111\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Snapshot{
		Now: now,
		Charges: []*store.Charge{
			{MerchantUID: "m1", UserID: "alice", IdempotencyKey: "c-1", CustomerUID: "cu_alice_1", Amount: 9900, Status: store.ChargePaid, ImpUID: "imp_1"},
			{MerchantUID: "m2", UserID: "alice", CustomerUID: "cu_alice_1", Amount: 9900, Status: store.ChargePaid, ImpUID: "imp_2", SubscriptionID: "s1", Period: 0},
		},
		Subscriptions: []*store.Subscription{{ID: "s1", UserID: "alice", Status: store.SubscriptionActive, Period: 0, NextActionAt: now.Add(24 * time.Hour)}},
		Keys:          map[string]*store.BillingKey{"alice": {UserID: "alice", CustomerUID: "cu_alice_1"}},
		Issued:        map[string]string{"cu_alice_1": "alice", "cu_bob_1": "bob"},
		FakePayments: map[string][]iamport.Payment{
			"m1": {{ImpUID: "imp_1", MerchantUID: "m1", Amount: 9900, Status: iamport.StatusPaid}},
			"m2": {{ImpUID: "imp_2", MerchantUID: "m2", Amount: 9900, Status: iamport.StatusPaid}},
		},
		AgainMerchantUIDs: []string{"m1", "m2"},
		AttackKeyPrefix:   AttackKeyPrefix,
		LogFiles:          []string{log},
		Secrets:           []string{"fake-secret-value", "4111111111111111"},
		Resources:         []ResourceSample{{Instance: "shop1", FDStart: 20, FDEnd: 30, GoroutineStart: 15, GoroutineEnd: 40}},
		FDSlack:           64,
		GoroutineSlack:    32,
	}
}

func kindsOf(vs []Violation) map[string]int {
	m := map[string]int{}
	for _, v := range vs {
		m[v.Kind]++
	}
	return m
}

func TestAuditCleanSnapshot(t *testing.T) {
	if vs := Audit(cleanSnapshot(t)); len(vs) != 0 {
		t.Fatalf("a clean snapshot reports %v", vs)
	}
}

// Each damage must be reported under its own kind.
func TestAuditReportsEachDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, s *Snapshot)
		want   string
	}{
		{"double payment", func(_ *testing.T, s *Snapshot) {
			s.FakePayments["m1"] = append(s.FakePayments["m1"], iamport.Payment{ImpUID: "imp_9", MerchantUID: "m1", Amount: 9900, Status: iamport.StatusPaid})
		}, VDoublePayment},
		{"payment unknown to the store", func(_ *testing.T, s *Snapshot) {
			s.FakePayments["m7"] = []iamport.Payment{{ImpUID: "imp_7", MerchantUID: "m7", Amount: 9900, Status: iamport.StatusPaid}}
		}, VLostPayment},
		{"paid at the fake, failed in the store", func(_ *testing.T, s *Snapshot) { s.Charges[0].Status = store.ChargeFailed }, VStateMismatch},
		{"half refunded", func(_ *testing.T, s *Snapshot) { s.FakePayments["m1"][0].CancelAmount = 3300 }, VStateMismatch},
		{"stuck row", func(_ *testing.T, s *Snapshot) {
			s.Charges = append(s.Charges, &store.Charge{MerchantUID: "m3", UserID: "bob", Status: store.ChargeUnknown})
		}, VStuck},
		{"key on the wrong user", func(_ *testing.T, s *Snapshot) { s.Keys["alice"].CustomerUID = "cu_bob_1" }, VWrongUserKey},
		{"missed renewal", func(_ *testing.T, s *Snapshot) { s.Subscriptions[0].Period = 1 }, VMissedRenewal},
		{"renewal charged twice", func(_ *testing.T, s *Snapshot) {
			s.Charges = append(s.Charges, &store.Charge{MerchantUID: "m4", UserID: "alice", CustomerUID: "cu_alice_1", Amount: 9900, Status: store.ChargePaid, SubscriptionID: "s1"})
			s.FakePayments["m4"] = []iamport.Payment{{ImpUID: "imp_4", MerchantUID: "m4", Amount: 9900, Status: iamport.StatusPaid}}
		}, VRenewalTwice},
		{"attacker key charged", func(_ *testing.T, s *Snapshot) { s.Charges[0].IdempotencyKey = AttackKeyPrefix + "1" }, VAttackEffect},
		{"again unknown to the store", func(_ *testing.T, s *Snapshot) { s.AgainMerchantUIDs = append(s.AgainMerchantUIDs, "m_forged") }, VAttackEffect},
		{"secret in log", func(t *testing.T, s *Snapshot) {
			if err := os.WriteFile(s.LogFiles[0], []byte("card 4111111111111111 token fake-secret-value\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, VSecretInLog},
		{"descriptor growth", func(_ *testing.T, s *Snapshot) { s.Resources[0].FDEnd = 500 }, VResourceGrowth},
		{"refund left unknown", func(_ *testing.T, s *Snapshot) {
			s.Refunds = append(s.Refunds, &store.Refund{ID: "rf1", MerchantUID: "m1", Status: store.RefundUnknown})
		}, VStuck},
		{"goroutine growth", func(_ *testing.T, s *Snapshot) { s.Resources[0].GoroutineEnd = 15 + 2*10 + 33 }, VResourceGrowth},
		{"goroutines not counted", func(_ *testing.T, s *Snapshot) { s.Resources[0].GoroutineEnd = -1 }, VHarness},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := cleanSnapshot(t)
			tc.damage(t, &s)
			got := kindsOf(Audit(s))
			if got[tc.want] == 0 {
				t.Fatalf("damage %q: want a %s violation, got %v", tc.name, tc.want, got)
			}
		})
	}
}
