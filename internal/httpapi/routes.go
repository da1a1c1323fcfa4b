package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// Patterns of the customer's routes, relative to the prefix of Config.PublicURL.
const (
	PatternIssuanceRequest  = "/billing-key/request"
	PatternIssuanceComplete = "/billing-key/complete"
	PatternBillingKey       = "/billing-key"
	PatternCharges          = "/charges"
	PatternCharge           = "/charges/{merchant_uid}"

	PatternSubscriptions      = "/subscriptions"
	PatternSubscription       = "/subscriptions/{id}"
	PatternSubscriptionCancel = "/subscriptions/{id}/cancel"
	PatternSubscriptionResume = "/subscriptions/{id}/resume"
	PatternSubscriptionPlan   = "/subscriptions/{id}/plan"
)

// Patterns of the callback routes, relative to the prefix of Config.CallbackURL. core
// builds m_redirect_url as CallbackURL+PatternReturn; a test holds the two together.
const (
	PatternWebhook = "/webhook"
	PatternReturn  = "/return"
)

// ResultIssued is the "result" query value the mobile return adds to SuccessURL. On
// FailureURL the value is an error code (issuance_failed, issuance_expired, not_found,
// invalid_request, card_declined, upstream_unavailable, ...).
const ResultIssued = "issued"

// ChargeListLimit is how many charges a page of GET /charges holds at most (and by
// default), newest first.
const ChargeListLimit = 50

// WebhookTimeout bounds the work done for one notification (docs/guarantees.md, R7).
// When it passes, the route answers 503 so that iamport resends (when retries are
// enabled) and the reconciler settles the rest; no goroutine outlives the request.
const WebhookTimeout = 2 * time.Second

// webhookTimeout is WebhookTimeout; tests shorten it.
var webhookTimeout = WebhookTimeout

// routeEnv is what the handlers need from the configuration, resolved once.
type routeEnv struct {
	maxBody int64
	success *url.URL // absolute http(s), no userinfo
	failure *url.URL
	pageErr error  // why success/failure could not be resolved (misconfiguration)
	public  string // the origin of Config.PublicURL, trusted by the cross-site check
	allow   []netip.Prefix
	hops    int
	logger  *slog.Logger
}

type router struct {
	s   *core.Service
	env routeEnv
}

func newRouter(s *core.Service) *router {
	cfg := s.Config()
	env := routeEnv{
		maxBody: cfg.MaxBodyBytes,
		public:  publicOrigin(cfg.PublicURL),
		allow:   cfg.WebhookAllowlist,
		hops:    cfg.TrustedProxyHops,
		logger:  cfg.Logger,
	}
	var err error
	if env.success, err = resolvePage(cfg.PublicURL, cfg.SuccessURL); err == nil {
		env.failure, err = resolvePage(cfg.PublicURL, cfg.FailureURL)
	}
	env.pageErr = err
	return &router{s: s, env: env}
}

// Routes returns the customer's routes, to mount behind the merchant's own login under
// the prefix of Config.PublicURL. Every route answers 401 unauthenticated when
// Request.Buyer gives no user; POST and DELETE routes answer 403 cross_site_request to
// cross-site browser requests (docs/guarantees.md, R16). No GET route charges or deletes.
//
//	GET    /billing-key/request[?plan=ID]  200 IssuanceRequest
//	POST   /billing-key/complete           200 IssuanceResult (JSON body {imp_uid, merchant_uid, ...}); with a plan, its first charge
//	GET    /billing-key                    200 KeyInfo | 404 billing_key_missing
//	DELETE /billing-key                    204 | 404 billing_key_missing
//	POST   /charges                        201 paid | 202 in progress | 402 card_declined (JSON body {plan}, Idempotency-Key header)
//	GET    /charges[?cursor=&limit=]      200 {"charges": [ChargeView...], "next_cursor": C} (absent after the last page)
//	GET    /charges/{merchant_uid}         200 ChargeView | 404 not_found
//	POST   /subscriptions                  201 active/trialing | 202 first charge in progress | 402 card_declined (JSON body {plan}, Idempotency-Key header)
//	GET    /subscriptions                  200 {"subscriptions": [SubscriptionView...]}
//	GET    /subscriptions/{id}             200 SubscriptionView | 404 not_found
//	POST   /subscriptions/{id}/cancel      200 SubscriptionView (JSON body {"at_period_end": true|false}, default true) | 409 subscription_state
//	POST   /subscriptions/{id}/resume      200 SubscriptionView | 409 subscription_state
//	POST   /subscriptions/{id}/plan        200 SubscriptionView (JSON body {plan}: from the next period on) | 409 subscription_state
//
// Errors are application/problem+json (see ProblemFor).
func Routes(s *core.Service) []Route {
	rt := newRouter(s)
	return onlyTheirMethods([]Route{
		{Method: http.MethodGet, Pattern: PatternIssuanceRequest, Handle: rt.issuanceRequest},
		{Method: http.MethodPost, Pattern: PatternIssuanceComplete, Handle: rt.issuanceComplete},
		{Method: http.MethodGet, Pattern: PatternBillingKey, Handle: rt.getBillingKey},
		{Method: http.MethodDelete, Pattern: PatternBillingKey, Handle: rt.deleteBillingKey},
		{Method: http.MethodPost, Pattern: PatternCharges, Handle: rt.createCharge},
		{Method: http.MethodGet, Pattern: PatternCharges, Handle: rt.listCharges},
		{Method: http.MethodGet, Pattern: PatternCharge, Handle: rt.getCharge},
		{Method: http.MethodPost, Pattern: PatternSubscriptions, Handle: rt.createSubscription},
		{Method: http.MethodGet, Pattern: PatternSubscriptions, Handle: rt.listSubscriptions},
		{Method: http.MethodGet, Pattern: PatternSubscription, Handle: rt.getSubscription},
		{Method: http.MethodPost, Pattern: PatternSubscriptionCancel, Handle: rt.cancelSubscription},
		{Method: http.MethodPost, Pattern: PatternSubscriptionResume, Handle: rt.resumeSubscription},
		{Method: http.MethodPost, Pattern: PatternSubscriptionPlan, Handle: rt.changeSubscriptionPlan},
	})
}

// CallbackRoutes returns the routes iamport and a browser coming back from the payment
// window call, to mount outside the merchant's login under the prefix of
// Config.CallbackURL. Neither has a session: the webhook comes from iamport, and a card
// app often brings the customer back in another browser.
//
//	POST /webhook  200 {"status":"ok"|"ignored"} | 400 | 403 | 415 | 503 (docs/guarantees.md, R9)
//	GET  /return   303 to SuccessURL?result=issued|charge_in_progress or FailureURL?result=CODE; with a plan, its first charge
func CallbackRoutes(s *core.Service) []Route {
	rt := newRouter(s)
	return onlyTheirMethods([]Route{
		{Method: http.MethodPost, Pattern: PatternWebhook, Handle: rt.webhook},
		{Method: http.MethodGet, Pattern: PatternReturn, Handle: rt.issuanceReturn},
	})
}

// onlyTheirMethods makes every route answer 405 method_not_allowed (with Allow) to any
// method but its own. Routers may hand a route more than its method (Go's ServeMux
// serves HEAD on a GET pattern); a HEAD must not create an issuance record.
func onlyTheirMethods(routes []Route) []Route {
	for i := range routes {
		method, h := routes[i].Method, routes[i].Handle
		routes[i].Handle = func(w Response, r Request) {
			if r.Method() != method {
				w.Header().Set("Allow", method)
				WriteProblem(w, newProblem(codes.MethodNotAllowed, ""))
				return
			}
			h(w, r)
		}
	}
	return routes
}

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

// errNoUser answers requests without a user.
var errNoUser = &core.Error{Code: codes.Unauthenticated, Detail: "Sign in to use billing."}

// buyer runs the merchant's hook; no user (an error or an empty UserID) is 401, answered
// here.
func (rt *router) buyer(w Response, r Request, route string) (core.Buyer, bool) {
	b, err := r.Buyer()
	if err != nil || b.UserID == "" {
		rt.fail(w, r, route, errNoUser)
		return core.Buyer{}, false
	}
	return b, true
}

// stateChanging runs the checks of a POST or DELETE route: same origin, then a user. It
// writes the answer and returns false when one fails.
func (rt *router) stateChanging(w Response, r Request, route string) (core.Buyer, bool) {
	if err := checkSameOrigin(r, rt.env.public); err != nil {
		rt.fail(w, r, route, err)
		return core.Buyer{}, false
	}
	return rt.buyer(w, r, route)
}

// readJSON checks the content type and reads the capped body.
func (rt *router) readJSON(r Request) ([]byte, error) {
	if err := requireJSON(r.Header()); err != nil {
		return nil, err
	}
	return readCappedBody(r, rt.env.maxBody)
}
