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

type options struct {
	buyer     func(*http.Request) (core.Buyer, error)
	errorHook func(*http.Request, error)
	bodyLimit int64
}

// WithBuyer sets the hook that tells core who the signed-in user is. It receives the
// request as the merchant's middleware left it, so values stored in its context are
// visible. A zero UserID or an error means "no user": core answers 401. Without this
// option every user route answers 401.
func WithBuyer(hook func(*http.Request) (core.Buyer, error)) Option {
	return func(o *options) { o.buyer = hook }
}

// WithErrorHook sets a function called when writing the response fails or a handler
// panics (the panic arrives as a *PanicError after core's 500 problem was sent, when
// nothing had been sent before). The hook must not write to the response.
func WithErrorHook(hook func(*http.Request, error)) Option {
	return func(o *options) { o.errorHook = hook }
}

// WithBodyLimit caps request bodies at n bytes before core sees them; a longer body is
// answered with core's 413 problem. n <= 0 leaves only core's own cap
// (core.Config.MaxBodyBytes).
func WithBodyLimit(n int64) Option {
	return func(o *options) { o.bodyLimit = n }
}

// PanicError is what the error hook receives for a recovered panic.
type PanicError = shim.PanicError

// report hands err to the error hook, if any.
func (o *options) report(c *http.Request, err error) {
	if o.errorHook != nil {
		o.errorHook(c, err)
	}
}

func newOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

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
		req := &request{r: r, body: r.Body, opts: o}
		res := &response{w: w}
		if o.bodyLimit > 0 {
			body, tooLarge := shim.ReadCapped(r.Body, r.ContentLength, o.bodyLimit)
			if tooLarge {
				shim.TooLarge(res, o.bodyLimit)
				if res.err != nil {
					o.report(r, res.err)
				}
				return
			}
			req.body = body
		}
		if perr := shim.Serve(rt.Handle, res, req, true); perr != nil {
			o.report(r, perr)
		}
		if res.err != nil {
			o.report(r, res.err)
		}
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

func (q *request) Buyer() (core.Buyer, error) {
	if q.opts.buyer == nil {
		return core.Buyer{}, nil
	}
	return q.opts.buyer(q.r)
}

// response collects core's headers in its own map and hands them to the
// http.ResponseWriter with the status, so that a panic before the status line leaves the
// merchant's headers alone.
type response struct {
	w       http.ResponseWriter
	header  http.Header
	started bool
	err     error
}

func (s *response) Header() http.Header {
	if s.header == nil {
		s.header = make(http.Header)
	}
	return s.header
}

func (s *response) WriteHeader(status int) {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	for k, v := range s.header {
		h[k] = v
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // core sets it when there is a body; never sniff
	}
	s.w.WriteHeader(status)
}

func (s *response) Write(p []byte) (int, error) {
	if !s.started {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.w.Write(p)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *response) Started() bool { return s.started }
func (s *response) Discard()      { s.header = nil }
