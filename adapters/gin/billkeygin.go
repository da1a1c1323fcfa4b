package billkeygin

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/billkey/billkey/adapters/internal/shim"
	"github.com/billkey/billkey/core"
)

// Option configures Mount and MountWebhook.
type Option func(*options)

type options = shim.Options[*gin.Context]

// WithBuyer sets the hook that tells core who the signed-in user is. It receives the
// *gin.Context the merchant's middleware ran on, so values it stored with c.Set are
// visible. A zero UserID or an error means "no user": core answers 401. Without this
// option every user route answers 401.
func WithBuyer(hook func(*gin.Context) (core.Buyer, error)) Option {
	return func(o *options) { o.Buyer = hook }
}

// WithErrorHook sets a function called when writing the response fails or a handler
// panics (the panic arrives as a *PanicError after core's 500 problem was sent, when
// nothing had been sent before). The hook must not write to the response.
func WithErrorHook(hook func(*gin.Context, error)) Option {
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

// Mount registers the user routes of svc on r, an engine or a group (so the group's
// middleware, such as the merchant's login check, runs first). Patterns are relative to
// the group: on router.Group("/billing") the charges live at /billing/charges.
func Mount(r gin.IRoutes, svc *core.Service, opts ...Option) {
	o := newOptions(opts)
	for _, rt := range svc.Routes() {
		r.Handle(rt.Method, shim.ColonPattern(rt.Pattern), handler(rt, o))
	}
}

// MountWebhook registers the iamport notification route of svc on r at path (e.g.
// "/billing/webhook"). Mount it outside the merchant's user authentication: iamport calls
// it without a session. WithBuyer is ignored here.
func MountWebhook(r gin.IRoutes, path string, svc *core.Service, opts ...Option) {
	rt := svc.WebhookRoute()
	r.Handle(rt.Method, shim.Path(path), handler(rt, newOptions(opts)))
}

// Unwrap returns the *gin.Context behind a core.Request created by this adapter. The
// context is Gin's pooled one: valid only until the handler returns.
func Unwrap(r core.Request) (*gin.Context, bool) {
	if rq, ok := r.(*request); ok {
		return rq.c, true
	}
	return nil, false
}

func handler(rt core.Route, o *options) gin.HandlerFunc {
	return func(c *gin.Context) {
		// Gin's writer only records the status until WriteHeaderNow.
		res := shim.NewStreamResponse(c.Writer, c.Writer)
		body, ok := o.CapBody(c, res, c.Request.Body, c.Request.ContentLength)
		if !ok {
			return
		}
		o.Serve(c, rt.Handle, res, &request{c: c, body: body, opts: o}, true)
	}
}

// request is core's view of a *gin.Context.
type request struct {
	c    *gin.Context
	body io.Reader
	opts *options
}

func (q *request) Context() context.Context     { return q.c.Request.Context() }
func (q *request) Method() string               { return q.c.Request.Method }
func (q *request) PathValue(name string) string { return q.c.Param(name) }
func (q *request) Query() url.Values            { return q.c.Request.URL.Query() }
func (q *request) Header() http.Header          { return q.c.Request.Header }
func (q *request) Body() io.Reader              { return q.body }
func (q *request) Host() string                 { return q.c.Request.Host }
func (q *request) RemoteAddr() string           { return q.c.Request.RemoteAddr }

func (q *request) Buyer() (core.Buyer, error) { return q.opts.BuyerOf(q.c) }
