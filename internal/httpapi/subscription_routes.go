package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// POST /subscriptions
func (rt *router) createSubscription(w Response, r Request) {
	const route = "POST " + PatternSubscriptions
	b, plan, key, ok := rt.planRequest(w, r, route)
	if !ok {
		return
	}
	view, err := rt.s.Subscribe(routeContext(r), core.SubscribeRequest{UserID: b.UserID, PlanID: plan, IdempotencyKey: key})
	rt.answerSubscribe(w, r, route, view, err)
}

// answerSubscribe maps Subscribe's outcome to the answer; like a charge's, it depends
// only on the subscription, so repeating an Idempotency-Key repeats it:
//
//	active / trialing     201 SubscriptionView, Location: subscriptions/{id}
//	incomplete            202 SubscriptionView (its first charge is in progress)
//	first charge failed   its problem (card_declined, ...) with subscription_id and merchant_uid
//	other errors          their problem
func (rt *router) answerSubscribe(w Response, r Request, route string, view *core.SubscriptionView, err error) {
	if view == nil {
		if err == nil {
			err = &core.Error{Code: codes.Internal}
		}
		p := ProblemFor(err)
		if p.Code == codes.Internal {
			p.Detail = retrySameKey
		}
		rt.failProblem(w, r, route, p, err)
		return
	}
	w.Header().Set("Location", "subscriptions/"+url.PathEscape(view.ID))
	switch p := ProblemFor(err); {
	case err == nil:
		writeJSONBody(w, http.StatusCreated, view)
	case p.Code == codes.ChargeInProgress:
		writeJSONBody(w, http.StatusAccepted, view)
	default:
		w.Header().Del("Location")
		p.SubscriptionID = view.ID
		if len(view.Charges) > 0 {
			p.MerchantUID = view.Charges[0].MerchantUID
		}
		rt.failProblem(w, r, route, p, err)
	}
}

// subscriptionListBody is the body of GET /subscriptions.
type subscriptionListBody struct {
	Subscriptions []core.SubscriptionView `json:"subscriptions"`
}

// GET /subscriptions
func (rt *router) listSubscriptions(w Response, r Request) {
	const route = "GET " + PatternSubscriptions
	b, ok := rt.buyer(w, r, route)
	if !ok {
		return
	}
	list, err := rt.s.Subscriptions(routeContext(r), b.UserID)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	if list == nil {
		list = []core.SubscriptionView{}
	}
	writeJSONBody(w, http.StatusOK, subscriptionListBody{Subscriptions: list})
}

// GET /subscriptions/{id}: a malformed, unknown or foreign id is 404.
func (rt *router) getSubscription(w Response, r Request) {
	const route = "GET " + PatternSubscription
	b, ok := rt.buyer(w, r, route)
	if !ok {
		return
	}
	view, err := rt.s.Subscription(routeContext(r), b.UserID, r.PathValue("id"))
	rt.answerView(w, r, route, view, err)
}

// cancelBody is the body of POST /subscriptions/{id}/cancel; at_period_end defaults to
// true, the cancellation that keeps what was paid for.
type cancelBody struct {
	AtPeriodEnd *bool `json:"at_period_end"`
}

// POST /subscriptions/{id}/cancel
func (rt *router) cancelSubscription(w Response, r Request) {
	const route = "POST " + PatternSubscriptionCancel
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	body, err := rt.readJSON(r)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	var cb cancelBody
	if err := json.Unmarshal(body, &cb); err != nil {
		rt.fail(w, r, route, malformedInput("The body must be a JSON object, such as {\"at_period_end\": true}."))
		return
	}
	atPeriodEnd := cb.AtPeriodEnd == nil || *cb.AtPeriodEnd
	view, err := rt.s.CancelSubscription(routeContext(r), b.UserID, r.PathValue("id"), atPeriodEnd)
	rt.answerView(w, r, route, view, err)
}

// POST /subscriptions/{id}/resume
func (rt *router) resumeSubscription(w Response, r Request) {
	const route = "POST " + PatternSubscriptionResume
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	view, err := rt.s.ResumeSubscription(routeContext(r), b.UserID, r.PathValue("id"))
	rt.answerView(w, r, route, view, err)
}

// POST /subscriptions/{id}/plan
func (rt *router) changeSubscriptionPlan(w Response, r Request) {
	const route = "POST " + PatternSubscriptionPlan
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	body, err := rt.readJSON(r)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	plan, err := parseChargeBody(body)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	view, err := rt.s.ChangePlan(routeContext(r), b.UserID, r.PathValue("id"), plan)
	rt.answerView(w, r, route, view, err)
}

// answerView answers 200 with the subscription, or the error's problem.
func (rt *router) answerView(w Response, r Request, route string, view *core.SubscriptionView, err error) {
	if err == nil && view == nil {
		err = &core.Error{Code: codes.Internal}
	}
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, view)
}
