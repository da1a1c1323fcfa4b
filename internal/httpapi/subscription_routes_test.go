package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

var rtSubPlans = []core.Plan{
	rtBasicPlan,
	{ID: "monthly", Name: "월간 구독", Amount: 9900, Every: core.Period{Months: 1}, Group: "main"},
	{ID: "monthly-pro", Name: "프로 월간 구독", Amount: 29000, Every: core.Period{Months: 1}, Group: "main"},
	{ID: "trial", Name: "체험 후 월간", Amount: 12000, Every: core.Period{Months: 1}, Trial: core.Period{Days: 7}, Group: "trial"},
}

func newSubRTHarness(t *testing.T) *rtHarness {
	return newRTHarness(t, func(c *core.Config) { c.Plans = rtSubPlans })
}

// subscribe posts POST /subscriptions for user.
func (h *rtHarness) subscribe(user, key string, body any, opts ...rtOpt) *httptest.ResponseRecorder {
	h.t.Helper()
	if key != "" {
		opts = append(opts, rtHeader("Idempotency-Key", key))
	}
	return h.postJSON(rtPathSubs, body, append([]rtOpt{rtUser(user)}, opts...)...)
}

func TestSubscriptionRoutes(t *testing.T) {
	h := newSubRTHarness(t)
	rtProblem(t, h.subscribe("u1", "k1", map[string]string{"plan": "monthly"}), http.StatusNotFound, codes.BillingKeyMissing)
	h.register("u1")

	rtProblem(t, h.subscribe("u1", "", map[string]string{"plan": "monthly"}), http.StatusBadRequest, codes.IdempotencyKeyRequired)
	rtProblem(t, h.subscribe("u1", "k1", map[string]string{"plan": "basic-monthly"}), http.StatusUnprocessableEntity, codes.PlanUnknown)
	rtProblem(t, h.subscribe("u1", "k1", map[string]any{"plan": 7}), http.StatusBadRequest, codes.InvalidRequest)

	w := h.subscribe("u1", "k1", map[string]any{"plan": "monthly", "amount": 1})
	v := rtDecode[core.SubscriptionView](t, w, http.StatusCreated)
	assert.Equal(t, "subscriptions/"+v.ID, w.Header().Get("Location"))
	assert.Equal(t, core.SubscriptionActive, v.Status)
	require.Len(t, v.Charges, 1)
	assert.EqualValues(t, 9900, v.Charges[0].Amount, "the plan's price, whatever the body says")

	again := rtDecode[core.SubscriptionView](t, h.subscribe("u1", "k1", map[string]string{"plan": "monthly"}), http.StatusCreated)
	assert.Equal(t, v.ID, again.ID, "the same Idempotency-Key, the same subscription")
	rtProblem(t, h.subscribe("u1", "k2", map[string]string{"plan": "monthly-pro"}), http.StatusConflict, codes.SubscriptionExists)

	list := rtDecode[struct {
		Subscriptions []core.SubscriptionView `json:"subscriptions"`
	}](t, h.do(http.MethodGet, rtPathSubs, "", rtUser("u1")), http.StatusOK)
	require.Len(t, list.Subscriptions, 1)
	empty := h.do(http.MethodGet, rtPathSubs, "", rtUser("u2"))
	assert.JSONEq(t, `{"subscriptions":[]}`, empty.Body.String())

	one := rtDecode[core.SubscriptionView](t, h.do(http.MethodGet, rtPathSubs+"/"+v.ID, "", rtUser("u1")), http.StatusOK)
	assert.Equal(t, v.ID, one.ID)
	for _, id := range []string{"bks0000000000000000000000000000000", "<script>", "x"} {
		rtProblem(t, h.do(http.MethodGet, rtPathSubs+"/"+id, "", rtUser("u1")), http.StatusNotFound, codes.NotFound)
	}
	rtProblem(t, h.do(http.MethodGet, rtPathSubs+"/"+v.ID, "", rtUser("u2")), http.StatusNotFound, codes.NotFound)
	rtProblem(t, h.postJSON(rtPathSubs+"/"+v.ID+"/cancel", map[string]any{}, rtUser("u2")), http.StatusNotFound, codes.NotFound)

	changed := rtDecode[core.SubscriptionView](t, h.postJSON(rtPathSubs+"/"+v.ID+"/plan", map[string]string{"plan": "monthly-pro"}, rtUser("u1")), http.StatusOK)
	assert.Equal(t, "monthly-pro", changed.NextPlanID)
	rtProblem(t, h.postJSON(rtPathSubs+"/"+v.ID+"/plan", map[string]string{"plan": "trial"}, rtUser("u1")), http.StatusConflict, codes.SubscriptionState)

	rtProblem(t, h.postJSON(rtPathSubs+"/"+v.ID+"/resume", map[string]any{}, rtUser("u1")), http.StatusConflict, codes.SubscriptionState)
	cancelled := rtDecode[core.SubscriptionView](t, h.postJSON(rtPathSubs+"/"+v.ID+"/cancel", map[string]any{}, rtUser("u1")), http.StatusOK)
	assert.Equal(t, core.SubscriptionCanceled, cancelled.Status, "at_period_end by default")
	resumed := rtDecode[core.SubscriptionView](t, h.postJSON(rtPathSubs+"/"+v.ID+"/resume", map[string]any{}, rtUser("u1")), http.StatusOK)
	assert.Equal(t, core.SubscriptionActive, resumed.Status)
	rtProblem(t, h.do(http.MethodPost, rtPathSubs+"/"+v.ID+"/cancel", "not json", rtUser("u1"),
		rtHeader("Content-Type", "application/json"), rtHeader("Sec-Fetch-Site", "same-origin")), http.StatusBadRequest, codes.InvalidRequest)
	ended := rtDecode[core.SubscriptionView](t, h.postJSON(rtPathSubs+"/"+v.ID+"/cancel", map[string]bool{"at_period_end": false}, rtUser("u1")), http.StatusOK)
	assert.Equal(t, core.SubscriptionEnded, ended.Status)
	rtProblem(t, h.postJSON(rtPathSubs+"/"+v.ID+"/cancel", map[string]bool{"at_period_end": false}, rtUser("u1")), http.StatusConflict, codes.SubscriptionState)
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))
}

func TestSubscriptionRoutesFirstChargeDeclined(t *testing.T) {
	h := newSubRTHarness(t)
	ir := h.prepare("u1", "")
	res := h.window(ir, iamporttest.CardDeclined, false)
	require.Equal(t, http.StatusOK, h.postJSON(rtPathComplete, res.Rsp, rtUser("u1")).Code)

	p := rtProblem(t, h.subscribe("u1", "k1", map[string]string{"plan": "monthly"}), http.StatusPaymentRequired, codes.CardDeclined)
	assert.NotEmpty(t, p.SubscriptionID)
	assert.NotEmpty(t, p.MerchantUID)
	again := rtProblem(t, h.subscribe("u1", "k1", map[string]string{"plan": "monthly"}), http.StatusPaymentRequired, codes.CardDeclined)
	assert.Equal(t, p, again, "repeating the key repeats the answer")
}

func TestSubscriptionRoutesTrial(t *testing.T) {
	h := newSubRTHarness(t)
	h.register("u1")
	v := rtDecode[core.SubscriptionView](t, h.subscribe("u1", "k1", map[string]string{"plan": "trial"}), http.StatusCreated)
	assert.Equal(t, core.SubscriptionTrialing, v.Status)
	require.NotNil(t, v.TrialEnd)
	assert.WithinDuration(t, h.clock.Now().Add(7*24*time.Hour), *v.TrialEnd, time.Second)
	assert.Zero(t, h.fake.Count(iamporttest.EPAgain))
}

func TestSubscriptionRoutesCrossSite(t *testing.T) {
	h := newSubRTHarness(t)
	h.register("u1")
	body, ct := rtJSON(map[string]string{"plan": "monthly"})
	for _, path := range []string{rtPathSubs, rtPathSubs + "/bks1/cancel", rtPathSubs + "/bks1/resume", rtPathSubs + "/bks1/plan"} {
		w := h.do(http.MethodPost, path, body, ct, rtUser("u1"), rtHeader("Idempotency-Key", "k"), rtHeader("Sec-Fetch-Site", "cross-site"))
		rtProblem(t, w, http.StatusForbidden, codes.CrossSiteRequest)
	}
	assert.Zero(t, h.fake.Count(iamporttest.EPAgain))
}
