package billkeyhttp

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/billkey/billkey/adapters/internal/shim"
	"github.com/billkey/billkey/core"
)

// Option configures Mount, MountWebhook, Handler and WebhookHandler.
type Option func(*options)

type options = shim.Options[*http.Request]

// WithBuyer sets the hook that tells core who the signed-in user is. It receives the
// request as the merchant's middleware left it, so values stored in its context are
// visible. A zero UserID or an error means "no user": core answers 401. Without this
// option every user route answers 401.
func WithBuyer(hook func(*http.Request) (core.Buyer, error)) Option {
	return func(o *options) { o.Buyer = hook }
}

// WithErrorHook sets a function called when writing the response fails or a handler
// panics (the panic arrives as a *PanicError after core's 500 problem was sent, when
// nothing had been sent before). The hook must not write to the response.
func WithErrorHook(hook func(*http.Request, error)) Option {
	return func(o *options) { o.ErrorHook = hook }
}

// WithBodyLimit caps request bodies at n bytes before core sees them; a longer body is
// answered with core's 413 problem. n <= 0 leaves only core's own cap
// (core.Config.MaxBodyBytes).
func WithBodyLimit(n int64) Option {
	return func(o *options) { o.BodyLimit = n }
}

// PanicError is what the error hook receives for a recovered panic.
type PanicError = shim.PanicError

func newOptions(opts []Option) *options { return shim.NewOptions(opts) }

// Mount registers the user routes of svc on mux under prefix, with Go 1.22 method
// patterns such as "GET /billing/charges/{merchant_uid}". prefix is "" or an absolute
// path without a trailing slash ("/billing"). Wrap mux (or the handler serving it) in
// the merchant's authentication; the webhook goes elsewhere, see MountWebhook.
// Mount panics on a malformed prefix or a pattern conflict, as ServeMux.Handle does.
func Mount(mux *http.ServeMux, prefix string, svc *core.Service, opts ...Option) {
	o := newOptions(opts)
	prefix = shim.Prefix(prefix)
	for _, rt := range svc.Routes() {
		mux.Handle(rt.Method+" "+prefix+rt.Pattern, handler(rt, o))
	}
}

// Handler returns the user routes of svc served at the handler's root ("/charges",
// "/billing-key/request", ...), for use behind http.StripPrefix or any router that
// forwards a sub-tree. Paths outside the route table get ServeMux's 404/405.
func Handler(svc *core.Service, opts ...Option) http.Handler {
	mux := http.NewServeMux()
	Mount(mux, "", svc, opts...)
	return mux
}

// MountWebhook registers the iamport notification route of svc on mux as "POST "+path
// (e.g. "/billing/webhook"). Mount it outside the merchant's user authentication: iamport
// calls it without a session. WithBuyer is ignored here.
func MountWebhook(mux *http.ServeMux, path string, svc *core.Service, opts ...Option) {
	rt := svc.WebhookRoute()
	mux.Handle(rt.Method+" "+shim.Path(path), handler(rt, newOptions(opts)))
}

// WebhookHandler returns the webhook route of svc as a plain handler, for routers other
// than ServeMux. It answers POST on any path; other methods get ServeMux's 405.
func WebhookHandler(svc *core.Service, opts ...Option) http.Handler {
	rt := svc.WebhookRoute()
	mux := http.NewServeMux()
	mux.Handle(rt.Method+" /", handler(rt, newOptions(opts)))
	return mux
}

// Unwrap returns the *http.Request behind a core.Request created by this adapter.
func Unwrap(r core.Request) (*http.Request, bool) {
	if rq, ok := r.(*request); ok {
		return rq.r, true
	}
	return nil, false
}

func handler(rt core.Route, o *options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := shim.NewStreamResponse(w, nil)
		body, ok := o.CapBody(r, res, r.Body, r.ContentLength)
		if !ok {
			return
		}
		o.Serve(r, rt.Handle, res, &request{r: r, body: body, opts: o}, true)
	})
}

// request is core's view of an *http.Request.
type request struct {
	r    *http.Request
	body io.Reader
	opts *options
}

func (q *request) Context() context.Context     { return q.r.Context() }
func (q *request) Method() string               { return q.r.Method }
func (q *request) PathValue(name string) string { return q.r.PathValue(name) }
func (q *request) Query() url.Values            { return q.r.URL.Query() }
func (q *request) Header() http.Header          { return q.r.Header }
func (q *request) Body() io.Reader              { return q.body }
func (q *request) Host() string                 { return q.r.Host }
func (q *request) RemoteAddr() string           { return q.r.RemoteAddr }

func (q *request) Buyer() (core.Buyer, error) { return q.opts.BuyerOf(q.r) }
