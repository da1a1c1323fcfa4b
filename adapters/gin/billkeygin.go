package billkeygin

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/billkey/billkey/adapters/internal/shim"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/httpapi"
)

// Option configures Mount and MountCallbacks.
type Option func(*options)

type options = shim.Options[*gin.Context]

// WithBuyer sets the hook that tells core who the signed-in user is. It receives the
// *gin.Context the merchant's middleware ran on, so values it stored with c.Set are
// visible. A zero UserID or an error means "no user": core answers 401. Without this
// option every user route answers 401.
func WithBuyer(hook func(*gin.Context) (core.Buyer, error)) Option {
	return func(o *options) { o.Buyer = hook }
}

// WithOperator sets the hook that tells core who the signed-in member of staff is, for
// the admin routes (MountAdmin): an empty name or an error means nobody, answered 401.
// Every admin action is logged with this name.
func WithOperator(hook func(*gin.Context) (string, error)) Option {
	return func(o *options) { o.Operator = hook }
}

// WithErrorHook sets a function called when writing the response fails or a handler
// panics (the panic arrives as a *PanicError after core's 500 problem was sent, when
// nothing had been sent before). The hook must not write to the response.
func WithErrorHook(hook func(*gin.Context, error)) Option {
	return func(o *options) { o.ErrorHook = hook }
}

// PanicError is what the error hook receives for a recovered panic.
type PanicError = shim.PanicError

func newOptions(opts []Option) *options { return shim.NewOptions(opts) }

// Mount registers the customer's routes of svc on r, an engine or, better, a group that
// runs the merchant's login middleware first. Patterns are relative to the group: on
// router.Group("/billing") (the path of core.Config.PublicURL) the charges live at
// /billing/charges. The routes iamport and a returning browser call go elsewhere, see
// MountCallbacks.
func Mount(r gin.IRoutes, svc *core.Service, opts ...Option) {
	mount(r, "", httpapi.Routes(svc), newOptions(opts))
}

// MountCallbacks registers the webhook (POST prefix+"/webhook") and the mobile return
// (GET prefix+"/return") of svc on r, prefix being the path of core.Config.CallbackURL.
// Mount them on the engine (or a group without the login): iamport calls the webhook
// without a session, and a card app often brings the customer back in another browser.
// WithBuyer is ignored here.
func MountCallbacks(r gin.IRoutes, prefix string, svc *core.Service, opts ...Option) {
	mount(r, shim.Prefix(prefix), httpapi.CallbackRoutes(svc), newOptions(opts))
}

// MountAdmin registers the staff's routes of svc (charge search, one charge's record,
// refunds, reconciling a charge, subscriptions, the webhook inbox) on r, a group the
// merchant's own admin login protects. WithOperator tells core who the member of staff is;
// without it every admin route answers 401.
func MountAdmin(r gin.IRoutes, svc *core.Service, opts ...Option) {
	mount(r, "", httpapi.AdminRoutes(svc), newOptions(opts).ForAdmin())
}

func mount(r gin.IRoutes, prefix string, routes []httpapi.Route, o *options) {
	for _, rt := range routes {
		r.Handle(rt.Method, prefix+shim.ColonPattern(rt.Pattern), handler(rt, o))
	}
}

func handler(rt httpapi.Route, o *options) gin.HandlerFunc {
	return func(c *gin.Context) {
		// Gin's writer only records the status until WriteHeaderNow.
		o.Serve(c, rt.Handle, shim.NewStreamResponse(c.Writer, c.Writer), &request{c: c, opts: o}, true)
	}
}

// request is the route table's view of a *gin.Context.
type request struct {
	c    *gin.Context
	opts *options
}

func (q *request) Context() context.Context     { return q.c.Request.Context() }
func (q *request) Method() string               { return q.c.Request.Method }
func (q *request) PathValue(name string) string { return q.c.Param(name) }
func (q *request) Query() url.Values            { return q.c.Request.URL.Query() }
func (q *request) Header() http.Header          { return q.c.Request.Header }
func (q *request) Body() io.Reader              { return q.c.Request.Body }
func (q *request) Host() string                 { return q.c.Request.Host }
func (q *request) RemoteAddr() string           { return q.c.Request.RemoteAddr }
func (q *request) TLS() bool                    { return q.c.Request.TLS != nil }

func (q *request) Buyer() (core.Buyer, error) { return q.opts.BuyerOf(q.c) }
