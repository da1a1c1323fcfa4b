package billkeyfiber

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"github.com/billkey/billkey/adapters/internal/shim"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/httpapi"
)

// Option configures Mount and MountCallbacks.
type Option func(*options)

type options = shim.Options[*fiber.Ctx]

// WithBuyer sets the hook that tells core who the signed-in user is. It receives the
// *fiber.Ctx the merchant's middleware ran on, so values it stored with c.Locals are
// visible. A zero UserID or an error means "no user": core answers 401. Without this
// option every user route answers 401.
func WithBuyer(hook func(*fiber.Ctx) (core.Buyer, error)) Option {
	return func(o *options) { o.Buyer = hook }
}

// WithOperator sets the hook that tells core who the signed-in member of staff is, for
// the admin routes (MountAdmin): an empty name or an error means nobody, answered 401.
// Every admin action is logged with this name.
func WithOperator(hook func(*fiber.Ctx) (string, error)) Option {
	return func(o *options) { o.Operator = hook }
}

// WithErrorHook sets a function called when a handler panics (the panic arrives as a
// *PanicError after core's 500 problem was set, when nothing had been written before).
// Fiber buffers responses, so write failures happen after the handler and reach Fiber's
// own error handling, not this hook. The hook must not write to the response.
func WithErrorHook(hook func(*fiber.Ctx, error)) Option {
	return func(o *options) { o.ErrorHook = hook }
}

// PanicError is what the error hook receives for a recovered panic.
type PanicError = shim.PanicError

func newOptions(opts []Option) *options { return shim.NewOptions(opts) }

// Mount registers the customer's routes of svc on r, an app or, better, a group that
// runs the merchant's login middleware first. Patterns are relative to the group: on
// app.Group("/billing") (the path of core.Config.PublicURL) the charges live at
// /billing/charges. The routes iamport and a returning browser call go elsewhere, see
// MountCallbacks.
func Mount(r fiber.Router, svc *core.Service, opts ...Option) {
	mount(r, "", httpapi.Routes(svc), newOptions(opts))
}

// MountCallbacks registers the webhook (POST prefix+"/webhook") and the mobile return
// (GET prefix+"/return") of svc on r, prefix being the path of core.Config.CallbackURL.
// iamport calls the webhook without a session, and a card app often brings the customer
// back in another browser. A Fiber group's middleware runs for every path under its
// prefix, routes mounted on the app included: choose a prefix outside the login group's
// (e.g. "/iamport" beside "/billing"). WithBuyer is ignored here.
func MountCallbacks(r fiber.Router, prefix string, svc *core.Service, opts ...Option) {
	mount(r, shim.Prefix(prefix), httpapi.CallbackRoutes(svc), newOptions(opts))
}

// MountAdmin registers the staff's routes of svc (charge search, one charge's record,
// refunds, reconciling a charge, subscriptions, the webhook inbox) on r, a group the
// merchant's own admin login protects. WithOperator tells core who the member of staff is;
// without it every admin route answers 401.
func MountAdmin(r fiber.Router, svc *core.Service, opts ...Option) {
	mount(r, "", httpapi.AdminRoutes(svc), newOptions(opts).ForAdmin())
}

func mount(r fiber.Router, prefix string, routes []httpapi.Route, o *options) {
	for _, rt := range routes {
		r.Add(rt.Method, prefix+shim.ColonPattern(rt.Pattern), handler(rt, o))
	}
}

func handler(rt httpapi.Route, o *options) fiber.Handler {
	names := shim.ParamNames(rt.Pattern)
	return func(c *fiber.Ctx) error {
		req := newRequest(c, o, names)
		// The raw body, copied (fasthttp reuses the buffer once the handler returns):
		// Fiber's c.Body() would inflate Content-Encoding, which net/http and Gin do not.
		req.body = bytes.Clone(c.Request().Body())
		o.Serve(c, rt.Handle, &response{c: c}, req, false)
		return nil
	}
}

// request is the route table's view of a *fiber.Ctx. Every value is copied out of Fiber's buffers
// when it is created, so core may keep what it reads after the handler returns.
type request struct {
	c        *fiber.Ctx
	ctx      context.Context
	method   string
	host     string
	remote   net.Addr // the connection's address object, not a Fiber buffer
	tls      bool
	params   []string // name, value, name, value...
	rawQuery string
	header   http.Header
	body     []byte
	opts     *options
}

func newRequest(c *fiber.Ctx, o *options, names []string) *request {
	fr := c.Request()
	q := &request{
		c:        c,
		ctx:      c.UserContext(),
		method:   methodString(fr.Header.Method()),
		host:     string(fr.Host()),
		remote:   c.Context().RemoteAddr(),
		tls:      c.Context().IsTLS(),
		rawQuery: string(fr.URI().QueryString()),
		header:   copyHeader(&fr.Header),
		opts:     o,
	}
	if len(names) > 0 {
		q.params = make([]string, 0, 2*len(names))
		for _, n := range names {
			v := c.Params(n)
			// Gin and net/http hand out unescaped path values; Fiber keeps the raw
			// segment unless configured otherwise.
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
			q.params = append(q.params, n, utils.CopyString(v))
		}
	}
	return q
}

// methodString returns the method as a constant for the usual ones, a copy otherwise.
func methodString(m []byte) string {
	for _, known := range [...]string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodOptions} {
		if string(m) == known {
			return known
		}
	}
	return string(m)
}

// copyHeader copies the request headers into an http.Header in three allocations
// (one string holding every key and value, the value slices, the map), leaving Host out
// as net/http does (it is Request.Host there, Host() here).
func copyHeader(fh *fasthttp.RequestHeader) http.Header {
	type span struct{ k, v, end int }
	var stack [32]span
	spans := stack[:0]
	size := 0
	fh.VisitAll(func(k, v []byte) { size += len(k) + len(v) })
	buf := make([]byte, 0, size)
	fh.VisitAll(func(k, v []byte) {
		if string(k) == fiber.HeaderHost {
			return
		}
		sp := span{k: len(buf)}
		buf = append(buf, k...)
		sp.v = len(buf)
		buf = append(buf, v...)
		sp.end = len(buf)
		spans = append(spans, sp)
	})
	all := string(buf)
	values := make([]string, len(spans))
	h := make(http.Header, len(spans))
	for i, sp := range spans {
		key := http.CanonicalHeaderKey(all[sp.k:sp.v]) // no copy when already canonical
		values[i] = all[sp.v:sp.end]
		if prev, ok := h[key]; ok {
			h[key] = append(prev, values[i])
		} else {
			h[key] = values[i : i+1 : i+1]
		}
	}
	return h
}

func (q *request) Context() context.Context { return q.ctx }
func (q *request) Method() string           { return q.method }
func (q *request) Header() http.Header      { return q.header }
func (q *request) Body() io.Reader          { return bytes.NewReader(q.body) }
func (q *request) Host() string             { return q.host }
func (q *request) RemoteAddr() string       { return q.remote.String() }
func (q *request) TLS() bool                { return q.tls }

// Query parses the query string as net/http's URL.Query does (malformed pairs dropped),
// returning a fresh map each time.
func (q *request) Query() url.Values {
	v, _ := url.ParseQuery(q.rawQuery)
	return v
}

func (q *request) PathValue(name string) string {
	for i := 0; i+1 < len(q.params); i += 2 {
		if q.params[i] == name {
			return q.params[i+1]
		}
	}
	return ""
}

func (q *request) Buyer() (core.Buyer, error) { return q.opts.BuyerOf(q.c) }

// response collects core's headers in its own map and copies them into Fiber's response
// with the status; the body is appended to Fiber's buffer.
type response struct {
	shim.Held
	c *fiber.Ctx
}

func (s *response) WriteHeader(status int) {
	held, first := s.Start()
	if !first {
		return
	}
	rh := &s.c.Response().Header
	for k, vs := range held {
		rh.Del(k)
		for _, v := range vs {
			rh.Add(k, v)
		}
	}
	if held.Get("Content-Type") == "" {
		// No default text/plain: core sets Content-Type whenever there is a body, and
		// the other adapters add none.
		rh.SetNoDefaultContentType(true)
	}
	s.c.Status(status)
}

func (s *response) Write(p []byte) (int, error) {
	if !s.Started() {
		s.WriteHeader(http.StatusOK)
	}
	s.c.Response().AppendBody(p)
	return len(p), nil
}

// Err is always nil: Fiber buffers the response and writes it after the handler.
func (s *response) Err() error { return nil }
