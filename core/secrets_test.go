package core_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// R13: a full run, with failures whose iamport messages quote a customer_uid, logs
// (at debug level), raises events and returns errors and views that never hold the
// secret, the access token or a full customer_uid. Two runs:
//   - the client logs into the capture too, and iamport quotes the customer_uid it was
//     asked about (what iamport does; the client masks it);
//   - only core logs into the capture, and iamport quotes other customer_uids: core's
//     own output masks every customer_uid, whatever the client let through.
func TestNoSecretsLeak(t *testing.T) {
	t.Run("core and client, realistic messages", func(t *testing.T) { testNoSecretsLeak(t, false) })
	t.Run("core only, foreign ids in messages", func(t *testing.T) { testNoSecretsLeak(t, true) })
}

func testNoSecretsLeak(t *testing.T, foreign bool) {
	// The fake delivers every notification to notice_url: a loopback receiver, so no
	// delivery leaves the machine (a name it must resolve held WaitWebhooks past its bound).
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(receiver.Close)
	opts := []func(*shOpts){shConfig(func(c *core.Config) { c.NoticeURL = receiver.URL + "/billing/webhook" })}
	if foreign {
		opts = append(opts, shClient(func(c *iamport.Config) { c.Logger = nil }))
	}
	h := newSH(t, opts...)
	ctx := context.Background()
	var customerUIDs []string
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	// Keys through the PC callback, the mobile redirect and the webhook, one with a plan.
	for i, mode := range []string{"pc", "mobile", "webhook", "plan"} {
		user := fmt.Sprint("user", i)
		plan := ""
		if mode == "plan" {
			plan = "pro"
		}
		req := h.prepare(user, plan)
		customerUIDs = append(customerUIDs, req.Params.CustomerUID)
		res := h.window(req, iamporttest.CardOK, mode == "mobile")
		switch mode {
		case "webhook":
			keep(h.svc.ApplyNotification(ctx, core.Notification{ImpUID: windowImpUID(res), MerchantUID: req.Params.MerchantUID, Status: "paid"}))
		case "mobile":
			_, err := h.svc.CompleteIssuance(ctx, user, core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceRedirect})
			keep(err)
		default:
			_, err := h.svc.CompleteIssuance(ctx, user, core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
			keep(err)
		}
	}
	// A refused card and a mismatched issuance.
	req := h.prepare("user9", "")
	customerUIDs = append(customerUIDs, req.Params.CustomerUID)
	res := h.window(req, iamporttest.CardRefused, false)
	_, err := h.svc.CompleteIssuance(ctx, "user9", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	keep(err)
	req = h.prepare("user9", "")
	customerUIDs = append(customerUIDs, req.Params.CustomerUID)
	res = h.window(req, iamporttest.CardOK, false)
	p := *res.Payment
	p.CustomerUID = customerUIDs[0]
	h.fake.PutPayment(p)
	_, err = h.svc.CompleteIssuance(ctx, "user9", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: p.ImpUID, Source: core.SourceCallback})
	keep(err)

	// Charges: paid, refused by iamport with a message quoting the key, lost answers.
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "user0", PlanID: "basic", IdempotencyKey: "a"})
	keep(err)
	quoted := func(asked, other int) string {
		if foreign {
			return customerUIDs[other]
		}
		return customerUIDs[asked]
	}
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: 1, Message: "customer_uid(" + quoted(1, 2) + ")의 카드가 거절되었습니다."})
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "user1", PlanID: "basic", IdempotencyKey: "b"})
	keep(err)
	require.NotNil(t, v)
	assert.Equal(t, core.ChargeFailed, v.Status)
	assert.Contains(t, v.FailReason, "거절", "the reason stays readable")
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true}, iamporttest.Fault{Status: 502})
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "user2", PlanID: "basic", IdempotencyKey: "c"})
	keep(err)
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "user2", PlanID: "basic", IdempotencyKey: "d"})
	keep(err)
	h.clock.Advance(3 * time.Minute)
	_, err = h.svc.Reconcile(ctx)
	keep(err)

	// Deleting: iamport refuses once with a message quoting the key, then succeeds; a
	// replaced key whose deletion fails.
	h.fake.Inject(iamporttest.EPDeleteCustomer, iamporttest.Fault{Code: 1, Message: "customer_uid(" + quoted(0, 3) + ") 삭제 실패"})
	keep(h.svc.DeleteBillingKey(ctx, "user0"))
	keep(h.svc.DeleteBillingKey(ctx, "user0"))
	h.fake.Inject(iamporttest.EPDeleteCustomer, iamporttest.Fault{Status: 500, Message: "customer_uid(" + quoted(1, 2) + ")"})
	req = h.prepare("user1", "")
	customerUIDs = append(customerUIDs, req.Params.CustomerUID)
	res = h.window(req, iamporttest.CardOK, false)
	_, err = h.svc.CompleteIssuance(ctx, "user1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	keep(err)
	require.True(t, h.fake.WaitWebhooks(5*time.Second))

	token, err := h.client.Token(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, token)

	logs := h.logs.String()
	require.Contains(t, logs, "billkey: billing key issued", "the capture holds the run")
	require.Contains(t, logs, "bkcu", "masked customer_uids are there to correlate")
	var texts []string
	texts = append(texts, logs)
	for _, e := range errs {
		texts = append(texts, e.Error())
	}
	for _, e := range h.events.All() {
		texts = append(texts, fmt.Sprintf("%+v", e))
	}
	for _, user := range []string{"user0", "user1", "user2", "user9"} {
		cs, _, err := h.svc.ListCharges(ctx, user, "", 100)
		require.NoError(t, err)
		texts = append(texts, fmt.Sprintf("%+v", cs))
	}
	all := strings.Join(texts, "\n")
	assert.NotContains(t, all, iamporttest.Secret)
	assert.NotContains(t, all, token)
	for _, cu := range customerUIDs {
		assert.NotContains(t, all, cu)
	}
}
