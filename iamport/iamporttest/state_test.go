package iamporttest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

// A fake restarted on its state file goes on as before: the keys, their cards and charge
// counts, payments, schedules, counters and the clock.
func TestStateFileRestartAndCharge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fake.json")
	start := time.Unix(1700000000, 0)
	ctx := context.Background()

	srv := NewServer(WithStateFile(path), WithClock(start))
	c := srv.Client()
	_, err := srv.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "i1", CustomerUID: "c_ok", CardNumber: CardOK})
	require.NoError(t, err)
	_, err = srv.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "i2", CustomerUID: "c_two", CardNumber: CardDeclineAfter + "02"})
	require.NoError(t, err)
	paid, err := c.Again(ctx, iamport.AgainRequest{CustomerUID: "c_two", MerchantUID: "o1", Amount: 9900, Name: "월 구독"})
	require.NoError(t, err)
	_, err = c.CancelPayment(ctx, iamport.CancelRequest{ImpUID: paid.ImpUID, Amount: 900, Reason: "부분 취소"})
	require.NoError(t, err)
	_, err = c.Schedule(ctx, iamport.ScheduleRequest{CustomerUID: "c_ok", Schedules: []iamport.ScheduleEntry{
		{MerchantUID: "s1", ScheduleAt: iamport.Timestamp(start.Add(2 * time.Hour).Unix()), Amount: 1000, Name: "예약"},
	}})
	require.NoError(t, err)
	require.NoError(t, srv.SetAmountJSON(paid.ImpUID, "9900.5"))
	srv.Advance(time.Hour)
	before, _ := srv.Payment(paid.ImpUID)
	keyBefore, _ := srv.Customer("c_two")
	require.NoError(t, srv.StateError())
	srv.Close()

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	srv = NewServer(WithStateFile(path), WithClock(start)) // the saved clock wins over WithClock
	defer srv.Close()
	c = srv.Client()
	assert.WithinDuration(t, start.Add(time.Hour), srv.Now(), 0)

	after, ok := srv.Payment(paid.ImpUID)
	require.True(t, ok)
	assert.Equal(t, before, after)
	keyAfter, ok := srv.Customer("c_two")
	require.True(t, ok)
	assert.Equal(t, keyBefore, keyAfter)
	got, err := c.FindPayment(ctx, "o1", "")
	require.NoError(t, err)
	assert.True(t, got.AmountNotWhole, "the written amount survives")

	// The key charges on, counting from where it was: one more pays, then it declines.
	p, err := c.Again(ctx, iamport.AgainRequest{CustomerUID: "c_two", MerchantUID: "o2", Amount: 9900, Name: "월 구독"})
	require.NoError(t, err)
	assert.NotEqual(t, paid.ImpUID, p.ImpUID)
	_, err = c.Again(ctx, iamport.AgainRequest{CustomerUID: "c_two", MerchantUID: "o3", Amount: 9900, Name: "월 구독"})
	assert.ErrorIs(t, err, iamport.ErrDeclined)
	// The used merchant_uid stays used; the partial cancel left 9,000 to cancel.
	_, err = c.Again(ctx, iamport.AgainRequest{CustomerUID: "c_ok", MerchantUID: "o1", Amount: 9900, Name: "월 구독"})
	var ae *iamport.APIError
	require.ErrorAs(t, err, &ae)
	_, err = c.CancelPayment(ctx, iamport.CancelRequest{ImpUID: paid.ImpUID, Checksum: ptr64(9000)})
	require.NoError(t, err)

	// The schedule runs when its time comes.
	srv.Advance(time.Hour)
	s, ok := srv.Schedule("s1")
	require.True(t, ok)
	assert.Equal(t, iamport.ScheduleExecuted, s.ScheduleStatus)
	assert.Equal(t, iamport.StatusPaid, s.PaymentStatus)

	// And a third life sees all of it.
	srv.Close()
	third, err := NewWithState(WithStateFile(path))
	require.NoError(t, err)
	defer third.Close()
	assert.Len(t, third.PaymentsByMerchantUID("o3"), 1)
	s, _ = third.Schedule("s1")
	assert.Equal(t, iamport.ScheduleExecuted, s.ScheduleStatus)
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "new.json")
	f, err := NewWithState(WithStateFile(missing))
	require.NoError(t, err, "a missing file is a fresh start")
	_, statErr := os.Stat(missing)
	assert.ErrorIs(t, statErr, os.ErrNotExist, "nothing written before the first change")
	require.NoError(t, f.PutCustomer(iamport.Customer{CustomerUID: "c1"}, CardOK))
	_, statErr = os.Stat(missing)
	assert.NoError(t, statErr)
	f.Close()

	garbage := filepath.Join(dir, "garbage.json")
	require.NoError(t, os.WriteFile(garbage, []byte("{not json"), 0o600))
	_, err = NewWithState(WithStateFile(garbage))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a saved fake state")
	assert.Panics(t, func() { New(WithStateFile(garbage)) })

	future := filepath.Join(dir, "future.json")
	require.NoError(t, os.WriteFile(future, []byte(`{"version": 99}`), 0o600))
	_, err = NewWithState(WithStateFile(future))
	require.ErrorContains(t, err, "version 99")

	unreadable := filepath.Join(dir, "a-directory")
	require.NoError(t, os.Mkdir(unreadable, 0o700))
	_, err = NewWithState(WithStateFile(unreadable))
	require.ErrorContains(t, err, "reading the state file")

	// A write that fails is reported, and the fake keeps answering.
	gone := filepath.Join(dir, "gone", "state.json")
	f, err = NewWithState(WithStateFile(gone))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.PutCustomer(iamport.Customer{CustomerUID: "c1"}, CardOK))
	require.Error(t, f.StateError())
	assert.True(t, strings.HasPrefix(f.StateError().Error(), "iamporttest: writing the state file"))
	_, ok := f.Customer("c1")
	assert.True(t, ok)
	require.NoError(t, os.Mkdir(filepath.Dir(gone), 0o700))
	assert.True(t, f.DeleteCustomerKey("c1"))
	assert.NoError(t, f.StateError(), "the next change writes it")
}

// A real clock saved and loaded keeps its offset.
func TestStateFileRealClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fake.json")
	f, err := NewWithState(WithStateFile(path), WithRealClock())
	require.NoError(t, err)
	f.Advance(48 * time.Hour)
	f.Close()
	f, err = NewWithState(WithStateFile(path), WithRealClock())
	require.NoError(t, err)
	defer f.Close()
	assert.WithinDuration(t, time.Now().Add(48*time.Hour), f.Now(), time.Minute)
}

func ptr64(v int64) *int64 { return &v }
