package httpapi

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// POST /charges
func (rt *router) createCharge(w Response, r Request) {
	const route = "POST " + PatternCharges
	b, plan, key, ok := rt.planRequest(w, r, route)
	if !ok {
		return
	}
	view, err := rt.s.Charge(routeContext(r), core.ChargeRequest{UserID: b.UserID, PlanID: plan, IdempotencyKey: key})
	rt.answerCharge(w, r, route, view, err)
}

// planRequest reads what POST /charges and POST /subscriptions share: a state-changing
// request with a JSON body naming a plan and an Idempotency-Key, checked in that order.
// It has answered when ok is false.
func (rt *router) planRequest(w Response, r Request, route string) (b core.Buyer, plan, key string, ok bool) {
	b, ok = rt.stateChanging(w, r, route)
	if !ok {
		return b, "", "", false
	}
	if err := requireJSON(r.Header()); err != nil {
		rt.fail(w, r, route, err)
		return b, "", "", false
	}
	key, err := parseIdempotencyKey(r.Header())
	if err != nil {
		rt.fail(w, r, route, err)
		return b, "", "", false
	}
	body, err := readCappedBody(r, rt.env.maxBody)
	if err != nil {
		rt.fail(w, r, route, err)
		return b, "", "", false
	}
	if plan, err = parseChargeBody(body); err != nil {
		rt.fail(w, r, route, err)
		return b, "", "", false
	}
	return b, plan, key, true
}

// answerCharge maps a charge outcome to the answer. The status depends only on the
// charge, so repeating an Idempotency-Key repeats the answer:
//
//	paid                         201 ChargeView, Location: charges/{merchant_uid}
//	pending / charging / unknown 202 ChargeView, Location: charges/{merchant_uid}
//	cancelled                    200 ChargeView
//	failed                       its problem (card_declined, charge_refused, ...) with merchant_uid
//	other errors                 their problem (merchant_uid added when known)
func (rt *router) answerCharge(w Response, r Request, route string, view *core.ChargeView, err error) {
	if err != nil {
		p := ProblemFor(err)
		if p.Code == codes.Internal {
			p.Detail = retrySameKey
		}
		if view != nil {
			if p.Code == codes.ChargeInProgress {
				writeAccepted(w, view)
				return
			}
			p.MerchantUID = view.MerchantUID
		}
		rt.failProblem(w, r, route, p, err)
		return
	}
	if view == nil {
		rt.fail(w, r, route, errors.New("billkey: Charge returned no charge"))
		return
	}
	switch view.Status {
	case core.ChargePaid:
		w.Header().Set("Location", "charges/"+url.PathEscape(view.MerchantUID))
		writeJSONBody(w, http.StatusCreated, view)
	case core.ChargeCancelled:
		writeJSONBody(w, http.StatusOK, view)
	case core.ChargeFailed:
		code := view.FailCode
		if code == "" {
			code = codes.CardDeclined
		}
		p := newProblem(code, cleanHint(view.FailReason, maxErrorMsgLen))
		p.MerchantUID = view.MerchantUID
		rt.failProblem(w, r, route, p, nil)
	default:
		writeAccepted(w, view)
	}
}

// retrySameKey is the detail of a failure of a route that charges: the caller cannot know
// whether a charge was recorded, and repeating the request is always safe.
const retrySameKey = "Something went wrong on our side. Repeat the request with the same Idempotency-Key: it is never charged twice."

// writeAccepted answers 202 with a charge whose outcome is not known yet.
func writeAccepted(w Response, view *core.ChargeView) {
	w.Header().Set("Location", "charges/"+url.PathEscape(view.MerchantUID))
	writeJSONBody(w, http.StatusAccepted, view)
}

// chargeListBody is the body of GET /charges: a page of charges, newest first, and the
// cursor of the next page (absent after the last).
type chargeListBody struct {
	Charges    []core.ChargeView `json:"charges"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// GET /charges[?cursor=C&limit=N]
func (rt *router) listCharges(w Response, r Request) {
	const route = "GET " + PatternCharges
	b, ok := rt.buyer(w, r, route)
	if !ok {
		return
	}
	cursor, limit, err := parsePageQuery(r.Query(), ChargeListLimit)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	list, next, err := rt.s.ListCharges(routeContext(r), b.UserID, cursor, limit)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	if list == nil {
		list = []core.ChargeView{}
	}
	writeJSONBody(w, http.StatusOK, chargeListBody{Charges: list, NextCursor: next})
}

// GET /charges/{merchant_uid}: a malformed, unknown or foreign merchant_uid is 404
// (docs/guarantees.md, R11).
func (rt *router) getCharge(w Response, r Request) {
	const route = "GET " + PatternCharge
	b, ok := rt.buyer(w, r, route)
	if !ok {
		return
	}
	mu := r.PathValue("merchant_uid")
	if !idrule.MerchantUID.Valid(mu) {
		rt.fail(w, r, route, store.ErrNotFound)
		return
	}
	view, err := rt.s.GetCharge(routeContext(r), b.UserID, mu)
	if err == nil && view == nil {
		err = store.ErrNotFound
	}
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, view)
}
