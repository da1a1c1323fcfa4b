package billkeyhttp

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/billkey/billkey/adapters/internal/shim"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/httpapi"
)

// Option configures Mount, MountCallbacks, Handler and CallbacksHandler.
type Option func(*options)

type options = shim.Options[*http.Request]

// WithBuyer sets the hook that tells core who the signed-in user is. It receives the
// request as the merchant's middleware left it, so values stored in its context are
// visible. A zero UserID or an error means "no user": core answers 401. Without this
// option every user route answers 401.
func WithBuyer(hook func(*http.Request) (core.Buyer, error)) Option {
	return func(o *options) { o.Buyer = hook }
}

// WithOperator sets the hook that tells core who the signed-in member of staff is, for
// the admin routes (MountAdmin): an empty name or an error means nobody, answered 401.
// Every admin action is logged with this name.
func WithOperator(hook func(*http.Request) (string, error)) Option {
	return func(o *options) { o.Operator = hook }
}

// WithErrorHook sets a function called when writing the response fails or a handler
// panics (the panic arrives as a *PanicError after core's 500 problem was sent, when
// nothing had been sent before). The hook must not write to the response.
func WithErrorHook(hook func(*http.Request, error)) Option {
	return func(o *options) { o.ErrorHook = hook }
}

// PanicError is what the error hook receives for a recovered panic.
type PanicError = shim.PanicError

func newOptions(opts []Option) *options { return shim.NewOptions(opts) }

// Mount registers the customer's routes of svc on mux under prefix (the path of
// core.Config.PublicURL), with Go 1.22 method patterns such as
// "GET /billing/charges/{merchant_uid}". prefix is "" or an absolute path without a
// trailing slash. Serve mux behind the merchant's login; the routes iamport and a
// returning browser call go elsewhere, see MountCallbacks. Mount panics on a malformed
// prefix or a pattern conflict, as ServeMux.Handle does.
func Mount(mux *http.ServeMux, prefix string, svc *core.Service, opts ...Option) {
	mount(mux, prefix, httpapi.Routes(svc), newOptions(opts))
}

// MountCallbacks registers the webhook (POST prefix+"/webhook") and the mobile return
// (GET prefix+"/return") of svc on mux, prefix being the path of core.Config.CallbackURL.
// Serve them outside the merchant's login: iamport calls the webhook without a session,
// and a card app often brings the customer back in another browser. A more specific
// pattern wins in ServeMux, so the callbacks may even sit under the login's subtree.
// WithBuyer is ignored here.
func MountCallbacks(mux *http.ServeMux, prefix string, svc *core.Service, opts ...Option) {
	mount(mux, prefix, httpapi.CallbackRoutes(svc), newOptions(opts))
}

// MountAdmin registers the staff's routes of svc (charge search,
// one charge's record, refunds, reconciling a charge, subscriptions, the webhook inbox) on
// mux under prefix, which the merchant's own admin login must protect. WithOperator
// tells core who the member of staff is; without it every admin route answers 401.
func MountAdmin(mux *http.ServeMux, prefix string, svc *core.Service, opts ...Option) {
	mount(mux, prefix, httpapi.AdminRoutes(svc), newOptions(opts).ForAdmin())
}

// AdminHandler is MountAdmin at the handler's root.
func AdminHandler(svc *core.Service, opts ...Option) http.Handler {
	mux := http.NewServeMux()
	MountAdmin(mux, "", svc, opts...)
	return mux
}

// Handler returns the customer's routes of svc served at the handler's root
// ("/charges", "/billing-key/request", ...), for use behind http.StripPrefix or any
// router that forwards a sub-tree. Paths outside the route table get ServeMux's 404/405.
func Handler(svc *core.Service, opts ...Option) http.Handler {
	mux := http.NewServeMux()
	Mount(mux, "", svc, opts...)
	return mux
}

// CallbacksHandler is Handler for the callback routes ("/webhook", "/return").
func CallbacksHandler(svc *core.Service, opts ...Option) http.Handler {
	mux := http.NewServeMux()
	MountCallbacks(mux, "", svc, opts...)
	return mux
}

func mount(mux *http.ServeMux, prefix string, routes []httpapi.Route, o *options) {
	prefix = shim.Prefix(prefix)
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+prefix+rt.Pattern, handler(rt, o))
	}
}

func handler(rt httpapi.Route, o *options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.Serve(r, rt.Handle, shim.NewStreamResponse(w, nil), &request{r: r, opts: o}, true)
	})
}

// request is the route table's view of an *http.Request.
type request struct {
	r    *http.Request
	opts *options
}

func (q *request) Context() context.Context     { return q.r.Context() }
func (q *request) Method() string               { return q.r.Method }
func (q *request) PathValue(name string) string { return q.r.PathValue(name) }
func (q *request) Query() url.Values            { return q.r.URL.Query() }
func (q *request) Header() http.Header          { return q.r.Header }
func (q *request) Body() io.Reader              { return q.r.Body }
func (q *request) Host() string                 { return q.r.Host }
func (q *request) RemoteAddr() string           { return q.r.RemoteAddr }
func (q *request) TLS() bool                    { return q.r.TLS != nil }

func (q *request) Buyer() (core.Buyer, error) { return q.opts.BuyerOf(q.r) }
