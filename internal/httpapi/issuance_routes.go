package httpapi

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// GET /billing-key/request[?plan=ID]
func (rt *router) issuanceRequest(w Response, r Request) {
	const route = "GET " + PatternIssuanceRequest
	b, ok := rt.buyer(w, r, route)
	if !ok {
		return
	}
	plan, err := parsePlanQuery(r.Query())
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	req, err := rt.s.PrepareIssuance(routeContext(r), b, plan)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, req)
}

// POST /billing-key/complete: the PC window's callback.
func (rt *router) issuanceComplete(w Response, r Request) {
	const route = "POST " + PatternIssuanceComplete
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	body, err := rt.readJSON(r)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	in, err := ParseCompleteBody(body)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	res, err := rt.s.CompleteIssuance(routeContext(r), b.UserID, in)
	if err == nil && res == nil {
		err = errors.New("billkey: CompleteIssuance returned no result")
	}
	if err != nil {
		p := ProblemFor(err)
		switch p.Code {
		case codes.IssuanceFailed, codes.IssuanceExpired, codes.IssuanceSettled, codes.PaymentMismatch:
			// The user's own issuance (ownership was checked): name it.
			p.MerchantUID = in.MerchantUID
		}
		rt.failProblem(w, r, route, p, err)
		return
	}
	writeJSONBody(w, http.StatusOK, res)
}

// returnResult names an issued result for the return's result parameter: issued, or
// the code of its plan's first charge when that was not paid.
func returnResult(res *core.IssuanceResult) string {
	if fc := res.FirstCharge; fc != nil {
		switch fc.Status {
		case core.ChargeFailed:
			return codes.CardDeclined
		case core.ChargePending, core.ChargeCharging, core.ChargeUnknown:
			return codes.ChargeInProgress
		}
	}
	return ResultIssued
}

// GET /return: the mobile window's m_redirect_url. It has no session (a card app may
// bring the customer back in another browser): the query's merchant_uid names the
// issuance and iamport's records decide, exactly as for the webhook. The browser always
// lands on a configured page (docs/guarantees.md, R15), never on a JSON error.
func (rt *router) issuanceReturn(w Response, r Request) {
	const route = "GET " + PatternReturn
	if rt.env.pageErr != nil {
		rt.fail(w, r, route, rt.env.pageErr)
		return
	}
	in, err := ParseRedirectQuery(r.Query())
	if err != nil {
		writeSeeOther(w, redirectTarget(rt.env.failure, codes.InvalidRequest))
		return
	}
	res, err := rt.s.CompleteIssuance(routeContext(r), "", in)
	if err == nil && res == nil {
		err = errors.New("billkey: CompleteIssuance returned no result")
	}
	if err != nil {
		p := ProblemFor(err)
		logProblem(routeContext(r), rt.env.logger, route, p, err)
		writeSeeOther(w, redirectTarget(rt.env.failure, p.Code))
		return
	}
	result := returnResult(res)
	// A first charge still in flight (usually run by the webhook at the same moment) is
	// no failure: the card is registered and the page reads the charge's outcome.
	if result == ResultIssued || result == codes.ChargeInProgress {
		writeSeeOther(w, redirectTarget(rt.env.success, result))
		return
	}
	writeSeeOther(w, redirectTarget(rt.env.failure, result))
}

// redirectTarget is page with result set as its "result" query parameter. page comes from
// configuration only; result is ResultIssued or a code of the code table, so nothing
// from the request can change where the browser goes (docs/guarantees.md, R15).
func redirectTarget(page *url.URL, result string) string {
	u := *page
	u.User = nil
	if _, known := codes.Lookup(result); !known && result != ResultIssued {
		result = codes.Internal
	}
	q := u.Query()
	q.Set("result", result)
	u.RawQuery = q.Encode()
	u.ForceQuery = false
	return u.String()
}

// resolvePage resolves a configured SuccessURL/FailureURL: absolute http(s) without
// userinfo, or a path (not scheme-relative) on PublicURL's origin.
func resolvePage(publicURL, page string) (*url.URL, error) {
	bad := errors.New("billkey: SuccessURL/FailureURL must be an absolute http(s) URL or a path")
	base, err := url.Parse(publicURL)
	if err != nil {
		return nil, bad
	}
	ref, err := url.Parse(page)
	if err != nil || ref.User != nil || ref.Opaque != "" || (ref.Scheme == "" && ref.Host != "") {
		return nil, bad
	}
	u := ref
	if ref.Scheme == "" {
		u = base.ResolveReference(ref)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, bad
	}
	return u, nil
}
