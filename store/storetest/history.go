package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

// testChargeHistory covers what a charge remembers beyond its state: its notes (cut and
// bounded by store.AppendNote), the amount refunded and iamport's receipt.
func testChargeHistory(t *testing.T, open opener) {
	run(t, open, "NotesOnCreate", func(f *fixture) {
		kst := time.FixedZone("KST", 9*60*60)
		var notes []store.Note
		for i := range store.MaxNotes + 8 {
			notes = append(notes, store.Note{At: f.now.Add(time.Duration(i) * time.Millisecond).In(kst), Text: fmt.Sprintf("note %d", i)})
		}
		notes[10].At = time.Time{}                                           // a note without a time keeps none
		notes[len(notes)-1].Text = strings.Repeat("가", store.MaxNoteLen/3+5) // 3 bytes a rune: cut mid-rune
		c := f.charge(f.user())
		c.Notes = notes
		stored := f.createCharge(cloneCharge(c))

		got := f.getCharge(c.MerchantUID)
		require.Len(f.t, got.Notes, store.MaxNotes, "the newest MaxNotes are kept")
		require.Equal(f.t, "note 8", got.Notes[0].Text, "the oldest are dropped first")
		last := got.Notes[store.MaxNotes-1].Text
		require.LessOrEqual(f.t, len(last), store.MaxNoteLen)
		require.True(f.t, utf8.ValidString(last), "a note is cut on a rune boundary")
		require.Equal(f.t, strings.Repeat("가", store.MaxNoteLen/3), last)
		require.True(f.t, got.Notes[2].At.IsZero(), "the note without a time")

		want := cloneCharge(c)
		want.Notes = store.AppendNote(nil, notes...)
		requireCharge(f.t, want, stored)
		requireCharge(f.t, want, got)

		// Returned notes are copies.
		got.Notes[0].Text = "changed"
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// No notes are none.
		plain := f.createCharge(f.charge(f.user()))
		require.Empty(f.t, plain.Notes)
		require.Empty(f.t, f.getCharge(plain.MerchantUID).Notes)
	})

	run(t, open, "NotesOnUpdate", func(f *fixture) {
		c := f.charge(f.user())
		c.Notes = []store.Note{{At: f.now, Text: "created"}}
		want := cloneCharge(f.createCharge(c))
		mu := c.MerchantUID

		// A note is appended at the update's At, with the update's other changes.
		t1 := f.now.Add(time.Second)
		got, err := f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargePending},
			store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, At: t1, Note: "attempt 1: sent again"})
		require.NoError(f.t, err)
		want.Status, want.Attempts, want.UpdatedAt = store.ChargeCharging, 1, t1
		want.Notes = append(want.Notes, store.Note{At: t1, Text: "attempt 1: sent again"})
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(mu))

		// An update without a note keeps the notes; one without At notes no time.
		got, err = f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargeCharging}, store.ChargeUpdate{FailReason: "slow"})
		require.NoError(f.t, err)
		want.FailReason = "slow"
		requireCharge(f.t, want, got)
		got, err = f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargeCharging}, store.ChargeUpdate{Note: "looked up"})
		require.NoError(f.t, err)
		want.Notes = append(want.Notes, store.Note{Text: "looked up"})
		requireCharge(f.t, want, got)

		// A compare-and-set miss appends nothing.
		_, err = f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargePaid},
			store.ChargeUpdate{Status: store.ChargeCancelled, At: t1, Note: "never"})
		require.ErrorIs(f.t, err, store.ErrConflict)
		requireCharge(f.t, want, f.getCharge(mu))

		// Many updates: the history stays at MaxNotes, the oldest dropped first, each
		// note cut to MaxNoteLen on a rune boundary.
		for i := range store.MaxNotes + 5 {
			at := t1.Add(time.Duration(i+1) * time.Millisecond)
			text := fmt.Sprintf("webhook %d ", i) + strings.Repeat("é", store.MaxNoteLen) // 2 bytes a rune
			got, err = f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargeCharging}, store.ChargeUpdate{At: at, Note: text})
			require.NoError(f.t, err)
			want.UpdatedAt = at
			want.Notes = store.AppendNote(want.Notes, store.Note{At: at, Text: text})
			require.LessOrEqual(f.t, len(got.Notes), store.MaxNotes)
		}
		require.Len(f.t, want.Notes, store.MaxNotes)
		require.True(f.t, strings.HasPrefix(want.Notes[0].Text, "webhook 5 "), "the test's own arithmetic")
		requireCharge(f.t, want, got)
		stored := f.getCharge(mu)
		requireCharge(f.t, want, stored)
		for _, n := range stored.Notes {
			require.LessOrEqual(f.t, len(n.Text), store.MaxNoteLen)
			require.True(f.t, utf8.ValidString(n.Text))
		}
	})

	run(t, open, "RefundedAndReceipt", func(f *fixture) {
		c := f.charge(f.user())
		c.Status, c.ImpUID, c.PaidAt = store.ChargePaid, f.impUID(), f.now
		c.Refunded, c.ReceiptURL = 900, "https://iamport.example/receipt/1"
		want := cloneCharge(f.createCharge(c))
		requireCharge(f.t, c, want)
		mu := c.MerchantUID
		paid := []store.ChargeStatus{store.ChargePaid}

		amount := func(n int64) *int64 { return &n }
		for _, tc := range []struct {
			name string
			u    store.ChargeUpdate
			with func(*store.Charge)
		}{
			{"refunded set, receipt kept", store.ChargeUpdate{Refunded: amount(3000)}, func(c *store.Charge) { c.Refunded = 3000 }},
			{"receipt set, refunded kept", store.ChargeUpdate{ReceiptURL: "https://iamport.example/receipt/2"},
				func(c *store.Charge) { c.ReceiptURL = "https://iamport.example/receipt/2" }},
			{"nothing: both kept", store.ChargeUpdate{At: f.now.Add(time.Second)}, func(c *store.Charge) { c.UpdatedAt = f.now.Add(time.Second) }},
			{"refunded set to zero", store.ChargeUpdate{Refunded: amount(0)}, func(c *store.Charge) { c.Refunded = 0 }},
			{"refunded in full, with the cancellation", store.ChargeUpdate{Status: store.ChargeCancelled, Refunded: amount(c.Amount), Note: "cancelled in the console"},
				func(c *store.Charge) {
					c.Status, c.Refunded = store.ChargeCancelled, c.Amount
					c.Notes = append(c.Notes, store.Note{Text: "cancelled in the console"})
				}},
		} {
			got, err := f.s.UpdateCharge(f.ctx, mu, append(paid, store.ChargeCancelled), tc.u)
			require.NoError(f.t, err, tc.name)
			tc.with(want)
			requireCharge(f.t, want, got)
			requireCharge(f.t, want, f.getCharge(mu))
		}

		// A miss changes neither.
		_, err := f.s.UpdateCharge(f.ctx, mu, paid, store.ChargeUpdate{Refunded: amount(1), ReceiptURL: "https://x.example/"})
		require.ErrorIs(f.t, err, store.ErrConflict)
		requireCharge(f.t, want, f.getCharge(mu))
	})
}
