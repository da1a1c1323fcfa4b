package core

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// Route patterns, relative to the prefix the routes are mounted under.
const (
	PatternIssuanceRequest  = "/billing-key/request"
	PatternIssuanceComplete = "/billing-key/complete"
	PatternIssuanceRedirect = "/billing-key/redirect"
	PatternBillingKey       = "/billing-key"
	PatternCharges          = "/charges"
	PatternCharge           = "/charges/{merchant_uid}"
	PatternWebhook          = "/webhook"
)

// ResultIssued is the "result" query value the mobile redirect adds to SuccessURL. On
// FailureURL the value is the problem code (issuance_failed, issuance_expired, not_found,
// unauthenticated, invalid_request, card_declined, upstream_unavailable, ...).
const ResultIssued = "issued"

// ChargeListLimit is how many charges GET /charges returns, newest first.
const ChargeListLimit = 50

// WebhookTimeout bounds the work done for one notification (R7). When it passes, the route
// answers 503 so that iamport resends (when retries are enabled) and the reconciler
// settles the rest; no goroutine outlives the request.
const WebhookTimeout = 2 * time.Second

// webhookTimeout is WebhookTimeout; tests shorten it.
var webhookTimeout = WebhookTimeout

// routeEnv is what the handlers need from the configuration, resolved once.
type routeEnv struct {
	maxBody int64
	success *url.URL // absolute http(s), no userinfo
	failure *url.URL
	pageErr error    // why success/failure could not be resolved (misconfiguration)
	trusted []string // origins accepted for POST/DELETE besides the request's Host
	allow   []netip.Prefix
	hops    int
	logger  *slog.Logger
}

type router struct {
	s   *Service
	env routeEnv
}

// Routes returns the user routes, to mount behind the merchant's own authentication under
// one prefix. Every route answers 401 unauthenticated when Request.Buyer gives no user;
// POST and DELETE routes answer 403 cross_site_request to cross-site browser requests
// (R16). No GET route charges or deletes.
//
//	GET    /billing-key/request[?plan=ID]  200 IssuanceRequest
//	POST   /billing-key/complete           200 IssuanceResult (JSON body {imp_uid, merchant_uid, ...})
//	GET    /billing-key/redirect           303 to SuccessURL?result=issued or FailureURL?result=CODE
//	GET    /billing-key                    200 KeyInfo | 404 billing_key_missing
//	DELETE /billing-key                    204 | 404 billing_key_missing
//	POST   /charges                        201 paid | 202 in progress | 402 card_declined (JSON body {plan}, Idempotency-Key header)
//	GET    /charges                        200 {"charges": [ChargeView...]}
//	GET    /charges/{merchant_uid}         200 ChargeView | 404 not_found
//
// Errors are application/problem+json (see ProblemFor).
func (s *Service) Routes() []Route {
	rt := &router{s: s, env: s.routeEnv()}
	routes := []Route{
		{Method: http.MethodGet, Pattern: PatternIssuanceRequest, Handle: rt.issuanceRequest},
		{Method: http.MethodPost, Pattern: PatternIssuanceComplete, Handle: rt.issuanceComplete},
		{Method: http.MethodGet, Pattern: PatternIssuanceRedirect, Handle: rt.issuanceRedirect},
		{Method: http.MethodGet, Pattern: PatternBillingKey, Handle: rt.getBillingKey},
		{Method: http.MethodDelete, Pattern: PatternBillingKey, Handle: rt.deleteBillingKey},
		{Method: http.MethodPost, Pattern: PatternCharges, Handle: rt.createCharge},
		{Method: http.MethodGet, Pattern: PatternCharges, Handle: rt.listCharges},
		{Method: http.MethodGet, Pattern: PatternCharge, Handle: rt.getCharge},
	}
	for i := range routes {
		routes[i].Handle = onlyMethod(routes[i].Method, routes[i].Handle)
	}
	return routes
}

// WebhookRoute returns POST /webhook, to mount outside the merchant's user
// authentication (iamport calls it). It checks Config.WebhookAllowlist (R10), reads a JSON
// or form body (415 otherwise, 400 when malformed), and applies the notification within
// WebhookTimeout: 200 {"status":"ok"} when processed or a duplicate, 200
// {"status":"ignored"} when it names nothing we can act on, 503 when a resend can help
// (iamport unreachable, store trouble, timeout) (R9).
func (s *Service) WebhookRoute() Route {
	rt := &router{s: s, env: s.routeEnv()}
	return Route{Method: http.MethodPost, Pattern: PatternWebhook, Handle: onlyMethod(http.MethodPost, rt.webhook)}
}

// onlyMethod answers 405 method_not_allowed (with Allow) to any method but method. Routers
// may hand a route more than its method (Go's ServeMux serves HEAD on a GET pattern); a
// HEAD must not create an issuance record.
func onlyMethod(method string, h func(Response, Request)) func(Response, Request) {
	return func(w Response, r Request) {
		if r.Method() != method {
			w.Header().Set("Allow", method)
			WriteProblem(w, newProblem(CodeMethodNotAllowed, 0, ""))
			return
		}
		h(w, r)
	}
}

// routeEnv resolves what the handlers need from the validated configuration.
func (s *Service) routeEnv() routeEnv {
	env := routeEnv{
		maxBody: s.cfg.MaxBodyBytes,
		allow:   append([]netip.Prefix(nil), s.cfg.WebhookAllowlist...),
		hops:    s.cfg.TrustedProxyHops,
		logger:  s.log,
	}
	if o := publicOrigin(s.cfg.PublicURL); o != "" {
		env.trusted = []string{o}
	}
	var err error
	if env.success, err = resolvePage(s.cfg.PublicURL, s.cfg.SuccessURL); err == nil {
		env.failure, err = resolvePage(s.cfg.PublicURL, s.cfg.FailureURL)
	}
	if err != nil {
		env.pageErr = err
	}
	return env
}

// ---------------------------------------------------------------------------------------
// Shared steps.

// fail renders err as a problem and logs server-side failures.
func (rt *router) fail(w Response, r Request, route string, err error) {
	rt.failProblem(w, r, route, ProblemFor(err), err)
}

func (rt *router) failProblem(w Response, r Request, route string, p Problem, err error) {
	logProblem(routeContext(r), rt.env.logger, route, p, err)
	WriteProblem(w, p)
}

// routeContext never returns nil.
func routeContext(r Request) context.Context {
	if ctx := r.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// errRouteUnauthenticated answers requests without a user.
var errRouteUnauthenticated = &Error{Code: CodeUnauthenticated, Status: http.StatusUnauthorized,
	Detail: "Sign in to use billing."}

// buyer runs the merchant's hook; no user (an error or an empty UserID) is 401.
func (rt *router) buyer(r Request) (Buyer, bool) {
	b, err := r.Buyer()
	if err != nil || b.UserID == "" {
		return Buyer{}, false
	}
	return b, true
}

// stateChanging runs the checks of a POST or DELETE route: same origin (R16), then a
// user (401). It writes the answer and returns false when one fails.
func (rt *router) stateChanging(w Response, r Request, route string) (Buyer, bool) {
	if err := checkSameOrigin(r, rt.env.trusted); err != nil {
		rt.fail(w, r, route, err)
		return Buyer{}, false
	}
	b, ok := rt.buyer(r)
	if !ok {
		rt.fail(w, r, route, errRouteUnauthenticated)
		return Buyer{}, false
	}
	return b, true
}

// readJSONBody checks the content type and reads the capped body.
func (rt *router) readJSONBody(r Request) ([]byte, error) {
	if err := requireJSON(r.Header()); err != nil {
		return nil, err
	}
	return readCappedBody(r, rt.env.maxBody)
}

// ---------------------------------------------------------------------------------------
// Issuance.

// GET /billing-key/request[?plan=ID]
func (rt *router) issuanceRequest(w Response, r Request) {
	const route = "GET " + PatternIssuanceRequest
	b, ok := rt.buyer(r)
	if !ok {
		rt.fail(w, r, route, errRouteUnauthenticated)
		return
	}
	plan := ""
	switch vs := r.Query()["plan"]; {
	case len(vs) > 1:
		rt.fail(w, r, route, invalidInput(http.StatusBadRequest, "Give one plan.", FieldError{Field: "plan", Reason: "duplicate"}))
		return
	case len(vs) == 1 && vs[0] != "":
		if !ValidPlanID(vs[0]) {
			rt.fail(w, r, route, invalidInput(http.StatusUnprocessableEntity, "The plan id is invalid.", FieldError{Field: "plan", Reason: "invalid"}))
			return
		}
		plan = vs[0]
	}
	req, err := rt.s.PrepareIssuance(routeContext(r), b, plan)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, req)
}

// POST /billing-key/complete
func (rt *router) issuanceComplete(w Response, r Request) {
	const route = "POST " + PatternIssuanceComplete
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	body, err := rt.readJSONBody(r)
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
	if err != nil {
		p := ProblemFor(err)
		switch p.Code {
		case CodeIssuanceFailed, CodeIssuanceExpired, CodeIssuanceSettled, CodePaymentMismatch:
			// The user's own issuance (ownership was checked): name it.
			p.MerchantUID = in.MerchantUID
		}
		rt.failProblem(w, r, route, p, err)
		return
	}
	if res == nil {
		rt.fail(w, r, route, errors.New("billkey: CompleteIssuance returned no result"))
		return
	}
	switch res.Status {
	case IssuanceIssued:
		writeJSONBody(w, http.StatusOK, res)
	case IssuancePending:
		writeJSONBody(w, http.StatusAccepted, res)
	default:
		p := newProblem(issuanceResultCode(res), 0, cleanHint(res.FailReason, maxErrorMsgLen))
		p.MerchantUID = res.MerchantUID
		rt.failProblem(w, r, route, p, nil)
	}
}

// issuanceResultCode names a settled issuance's outcome for the redirect's result
// parameter: issued, issuance_failed, issuance_expired, issuance_pending, or card_declined
// when the key was issued but the plan's first charge was declined.
func issuanceResultCode(res *IssuanceResult) string {
	switch res.Status {
	case IssuanceIssued:
		if res.FirstCharge != nil && res.FirstCharge.Status == ChargeFailed {
			return CodeCardDeclined
		}
		return ResultIssued
	case IssuanceExpired:
		return CodeIssuanceExpired
	case IssuancePending:
		return CodeIssuancePending
	default:
		return CodeIssuanceFailed
	}
}

// GET /billing-key/redirect: the browser always lands on a configured page (R15). A
// request without a user goes to FailureURL?result=unauthenticated rather than getting a
// JSON 401: it is a top-level navigation.
func (rt *router) issuanceRedirect(w Response, r Request) {
	const route = "GET " + PatternIssuanceRedirect
	if rt.env.pageErr != nil {
		rt.fail(w, r, route, rt.env.pageErr)
		return
	}
	b, ok := rt.buyer(r)
	if !ok {
		writeSeeOther(w, redirectTarget(rt.env.failure, CodeUnauthenticated))
		return
	}
	in, err := ParseRedirectQuery(r.Query())
	if err != nil {
		writeSeeOther(w, redirectTarget(rt.env.failure, CodeInvalidRequest))
		return
	}
	res, err := rt.s.CompleteIssuance(routeContext(r), b.UserID, in)
	if err == nil && res == nil {
		err = errors.New("billkey: CompleteIssuance returned no result")
	}
	if err != nil {
		p := ProblemFor(err)
		logProblem(routeContext(r), rt.env.logger, route, p, err)
		writeSeeOther(w, redirectTarget(rt.env.failure, p.Code))
		return
	}
	result := issuanceResultCode(res)
	if result == ResultIssued {
		writeSeeOther(w, redirectTarget(rt.env.success, result))
		return
	}
	writeSeeOther(w, redirectTarget(rt.env.failure, result))
}

// redirectTarget is page with result set as its "result" query parameter. page comes from
// configuration only; result is reduced to a code ([a-z0-9_]) and query-escaped, so
// nothing from the request can change where the browser goes (R15).
func redirectTarget(page *url.URL, result string) string {
	u := *page
	u.User = nil
	if !validProblemCode(result) {
		result = CodeInternal
	}
	q := u.Query()
	q.Set("result", result)
	u.RawQuery = q.Encode()
	u.ForceQuery = false
	return u.String()
}

// resolvePage resolves a configured SuccessURL/FailureURL: absolute http(s) without
// userinfo, or a path (not scheme-relative) on PublicURL's origin. "" means PublicURL.
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

// ---------------------------------------------------------------------------------------
// Billing key.

// GET /billing-key
func (rt *router) getBillingKey(w Response, r Request) {
	const route = "GET " + PatternBillingKey
	b, ok := rt.buyer(r)
	if !ok {
		rt.fail(w, r, route, errRouteUnauthenticated)
		return
	}
	key, err := rt.s.BillingKey(routeContext(r), b.UserID)
	if err == nil && key == nil {
		err = ErrNotFound
	}
	if err != nil {
		rt.fail(w, r, route, routeKeyMissing(err))
		return
	}
	writeJSONBody(w, http.StatusOK, key)
}

// DELETE /billing-key
func (rt *router) deleteBillingKey(w Response, r Request) {
	const route = "DELETE " + PatternBillingKey
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	if err := rt.s.DeleteBillingKey(routeContext(r), b.UserID); err != nil {
		rt.fail(w, r, route, routeKeyMissing(err))
		return
	}
	writeNoContent(w)
}

// routeKeyMissing turns "the user has no key" (billing_key_missing or not_found) into 404
// billing_key_missing: on these routes the key is the resource.
func routeKeyMissing(err error) error {
	if code := ProblemFor(err).Code; code == CodeBillingKeyMissing || code == CodeNotFound {
		return &Error{Code: CodeBillingKeyMissing, Status: http.StatusNotFound, Detail: "No billing key is registered.", Err: err}
	}
	return err
}

// ---------------------------------------------------------------------------------------
// Charges.

// POST /charges
func (rt *router) createCharge(w Response, r Request) {
	const route = "POST " + PatternCharges
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	if err := requireJSON(r.Header()); err != nil {
		rt.fail(w, r, route, err)
		return
	}
	key, err := parseIdempotencyKey(r.Header())
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	body, err := readCappedBody(r, rt.env.maxBody)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	plan, err := parseChargeBody(body)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	view, err := rt.s.Charge(routeContext(r), ChargeRequest{UserID: b.UserID, PlanID: plan, IdempotencyKey: key})
	rt.answerCharge(w, r, route, view, err)
}

// answerCharge maps a charge outcome to the answer. The status depends only on the
// charge, so repeating an Idempotency-Key repeats the answer:
//
//	paid                         201 ChargeView, Location: charges/{merchant_uid}
//	pending / charging / unknown 202 ChargeView, Location: charges/{merchant_uid}
//	cancelled                    200 ChargeView
//	failed (declined)            402 problem card_declined with merchant_uid
//	other errors                 their problem (merchant_uid added when known)
func (rt *router) answerCharge(w Response, r Request, route string, view *ChargeView, err error) {
	if err != nil {
		p := ProblemFor(err)
		if view != nil {
			if p.Code == CodeChargeInProgress {
				w.Header().Set("Location", "charges/"+url.PathEscape(view.MerchantUID))
				writeJSONBody(w, http.StatusAccepted, view)
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
	case ChargePaid:
		w.Header().Set("Location", "charges/"+url.PathEscape(view.MerchantUID))
		writeJSONBody(w, http.StatusCreated, view)
	case ChargeCancelled:
		writeJSONBody(w, http.StatusOK, view)
	case ChargeFailed:
		p := newProblem(CodeCardDeclined, 0, cleanHint(view.FailReason, maxErrorMsgLen))
		p.MerchantUID = view.MerchantUID
		rt.failProblem(w, r, route, p, nil)
	default:
		w.Header().Set("Location", "charges/"+url.PathEscape(view.MerchantUID))
		writeJSONBody(w, http.StatusAccepted, view)
	}
}

// chargeListBody is the body of GET /charges.
type chargeListBody struct {
	Charges []ChargeView `json:"charges"`
}

// GET /charges
func (rt *router) listCharges(w Response, r Request) {
	const route = "GET " + PatternCharges
	b, ok := rt.buyer(r)
	if !ok {
		rt.fail(w, r, route, errRouteUnauthenticated)
		return
	}
	list, err := rt.s.ListCharges(routeContext(r), b.UserID, ChargeListLimit)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	if list == nil {
		list = []ChargeView{}
	}
	writeJSONBody(w, http.StatusOK, chargeListBody{Charges: list})
}

// GET /charges/{merchant_uid}: a malformed, unknown or foreign merchant_uid is 404 (R11).
func (rt *router) getCharge(w Response, r Request) {
	const route = "GET " + PatternCharge
	b, ok := rt.buyer(r)
	if !ok {
		rt.fail(w, r, route, errRouteUnauthenticated)
		return
	}
	mu := r.PathValue("merchant_uid")
	if !ValidMerchantUID(mu) {
		rt.fail(w, r, route, ErrNotFound)
		return
	}
	view, err := rt.s.GetCharge(routeContext(r), b.UserID, mu)
	if err == nil && view == nil {
		err = ErrNotFound
	}
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, view)
}

// ---------------------------------------------------------------------------------------
// Webhook.

// webhookReply is the body of a 200 webhook answer.
type webhookReply struct {
	Status string `json:"status"`
}

// POST /webhook
func (rt *router) webhook(w Response, r Request) {
	const route = "POST " + PatternWebhook
	if err := checkSource(r, rt.env.allow, rt.env.hops); err != nil {
		rt.fail(w, r, route, err)
		return
	}
	ct := r.Header().Get("Content-Type")
	if mt := bodyMediaType(ct); mt != mediaJSON && mt != mediaForm {
		rt.fail(w, r, route, unsupportedMedia("Send application/json or application/x-www-form-urlencoded."))
		return
	}
	body, err := readCappedBody(r, rt.env.maxBody)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	n, err := ParseNotification(ct, body)
	if err != nil {
		p := ProblemFor(err)
		if p.Status < 500 && p.Code != CodeUnsupportedMediaType {
			p.Status = http.StatusBadRequest
		}
		rt.failProblem(w, r, route, p, err)
		return
	}
	ctx, cancel := context.WithTimeout(routeContext(r), webhookTimeout)
	defer cancel()
	err = rt.s.ApplyNotification(ctx, n)
	if err == nil {
		writeJSONBody(w, http.StatusOK, webhookReply{Status: "ok"})
		return
	}
	p := ProblemFor(err)
	switch {
	case ctx.Err() != nil && p.Status < 500:
		// The deadline (or the caller) ended the work: a resend can finish it.
		p = newProblem(CodeUpstreamUnavailable, http.StatusServiceUnavailable, "")
	case p.Status >= 500:
		p.Status = http.StatusServiceUnavailable
	case p.Code == CodeInvalidRequest:
		p.Status = http.StatusBadRequest
	default:
		// Processed, or names nothing we can act on (unknown payment, mismatch already
		// reported as an event): a resend would change nothing.
		if rt.env.logger != nil {
			rt.env.logger.LogAttrs(ctx, slog.LevelInfo, "billkey: notification ignored",
				slog.String("code", p.Code))
		}
		writeJSONBody(w, http.StatusOK, webhookReply{Status: "ignored"})
		return
	}
	rt.failProblem(w, r, route, p, err)
}
