package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// R24: every notification is kept with what applying it did, deduplicated, re-appliable,
// and purged after the retention.
func TestInbox(t *testing.T) {
	h := newSH(t, shConfig(func(c *core.Config) { c.InboxRetention = 24 * time.Hour }))
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	v, p := h.unknownCharge("u1", "k1")

	n := core.Notification{ImpUID: p.ImpUID, MerchantUID: v.MerchantUID, Status: "paid", From: "52.78.100.19:443", ContentType: "application/json"}
	for range 3 {
		require.NoError(t, h.svc.ApplyNotification(ctx, n))
	}
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imp_000000000404", Status: "paid"}))
	assert.Error(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "not an id"}), "malformed: not kept")

	list, next, err := h.svc.Notifications(ctx, "", "", 10)
	require.NoError(t, err)
	assert.Empty(t, next)
	require.Len(t, list, 2)
	byImp := map[string]core.NotificationView{}
	for _, e := range list {
		byImp[e.ImpUID] = e
	}
	ours := byImp[p.ImpUID]
	assert.Equal(t, 3, ours.Count, "copies are one entry")
	assert.Equal(t, "applied", ours.Result)
	assert.Equal(t, "52.78.100.19:443", ours.Source)
	assert.Equal(t, "ignored", byImp["imp_000000000404"].Result)
	assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))
	// The issuance's verification, our notification once (copies within a minute cost one
	// lookup), and the unknown imp_uid.
	assert.Equal(t, 3, h.fake.Count(iamporttest.EPGetPayment))

	// Paging, one entry at a time.
	first, next, err := h.svc.Notifications(ctx, "", "", 1)
	require.NoError(t, err)
	require.Len(t, first, 1)
	require.NotEmpty(t, next)
	second, next2, err := h.svc.Notifications(ctx, "", next, 1)
	require.NoError(t, err)
	require.Len(t, second, 1)
	assert.NotEqual(t, first[0].ID, second[0].ID)
	assert.Empty(t, next2)
	_, _, err = h.svc.Notifications(ctx, "", "garbage!", 1)
	assert.Equal(t, codes.InvalidRequest, errCode(t, err))

	// Re-applied by an operator: looked up again, whatever the memory of ids says.
	again, err := h.svc.ReapplyNotification(ctx, "ops", ours.ID)
	require.NoError(t, err)
	assert.Equal(t, "applied", again.Result)
	assert.Equal(t, 4, h.fake.Count(iamporttest.EPGetPayment))
	_, err = h.svc.ReapplyNotification(ctx, "ops", "bkw0nothing")
	assert.Equal(t, codes.NotFound, errCode(t, err))
	assert.Contains(t, h.logs.String(), `"operator":"ops"`)

	// The charge's record shows the notification and its history.
	rec, err := h.svc.ChargeRecord(ctx, v.MerchantUID)
	require.NoError(t, err)
	assert.Len(t, rec.Notifications, 1)
	assert.NotEmpty(t, rec.History)

	// Purged after the retention, by the reconciler.
	h.clock.Advance(25 * time.Hour)
	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.NotificationsPurged)
	list, _, err = h.svc.Notifications(ctx, "", "", 10)
	require.NoError(t, err)
	assert.Empty(t, list)
}

// The admin Go API: search across users, one charge's record, one charge looked up now.
func TestAdminSearch(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	for _, u := range []string{"a1", "a2"} {
		h.issueKey(u, iamporttest.CardOK)
		for _, k := range []string{"k1", "k2", "k3"} {
			h.clock.Advance(time.Second)
			_, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: u, PlanID: "basic", IdempotencyKey: k})
			require.NoError(t, err)
		}
	}
	all, next, err := h.svc.SearchCharges(ctx, core.ChargeFilter{Limit: 4})
	require.NoError(t, err)
	require.Len(t, all, 4)
	require.NotEmpty(t, next)
	rest, next, err := h.svc.SearchCharges(ctx, core.ChargeFilter{Limit: 4, Cursor: next})
	require.NoError(t, err)
	assert.Len(t, rest, 2)
	assert.Empty(t, next)
	assert.Equal(t, "a2", all[0].UserID, "newest first")

	mine, _, err := h.svc.SearchCharges(ctx, core.ChargeFilter{UserID: "a1", Status: core.ChargePaid})
	require.NoError(t, err)
	assert.Len(t, mine, 3)
	window, _, err := h.svc.SearchCharges(ctx, core.ChargeFilter{From: all[3].CreatedAt, To: all[0].CreatedAt})
	require.NoError(t, err)
	assert.Len(t, window, 3, "from inclusive, to exclusive")
	for _, f := range []core.ChargeFilter{{Status: "rich"}, {MerchantUID: "a b"}, {From: all[0].CreatedAt, To: all[3].CreatedAt}} {
		_, _, err := h.svc.SearchCharges(ctx, f)
		assert.Equal(t, codes.InvalidRequest, errCode(t, err))
	}

	// Customers page through their own charges the same way.
	page, cursor, err := h.svc.ListCharges(ctx, "a1", "", 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	page2, cursor, err := h.svc.ListCharges(ctx, "a1", cursor, 2)
	require.NoError(t, err)
	assert.Len(t, page2, 1)
	assert.Empty(t, cursor)

	got, err := h.svc.ReconcileCharge(ctx, "ops", all[0].MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, got.Status)
	_, err = h.svc.ReconcileCharge(ctx, "", all[0].MerchantUID)
	assert.Equal(t, codes.InvalidRequest, errCode(t, err))
}
