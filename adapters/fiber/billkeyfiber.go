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
)

// Option configures Mount and MountWebhook.
type Option func(*options)

type options = shim.Options[*fiber.Ctx]

// WithBuyer sets the hook that tells core who the signed-in user is. It receives the
// *fiber.Ctx the merchant's middleware ran on, so values it stored with c.Locals are
// visible. A zero UserID or an error means "no user": core answers 401. Without this
// option every user route answers 401.
func WithBuyer(hook func(*fiber.Ctx) (core.Buyer, error)) Option {
	return func(o *options) { o.Buyer = hook }
}

// WithErrorHook sets a function called when a handler panics (the panic arrives as a
// *PanicError after core's 500 problem was set, when nothing had been written before).
// Fiber buffers responses, so write failures happen after the handler and reach Fiber's
// own error handling, not this hook. The hook must not write to the response.
func WithErrorHook(hook func(*fiber.Ctx, error)) Option {
	return func(o *options) { o.ErrorHook = hook }
}

// WithBodyLimit caps request bodies at n bytes before core sees them; a longer body is
// answered with core's 413 problem. n <= 0 leaves only core's own cap
// (core.Config.MaxBodyBytes). Fiber's own fiber.Config.BodyLimit still applies first.
func WithBodyLimit(n int64) Option {
	return func(o *options) { o.BodyLimit = n }
}

// PanicError is what the error hook receives for a recovered panic.
type PanicError = shim.PanicError

func newOptions(opts []Option) *options { return shim.NewOptions(opts) }

// Mount registers the user routes of svc on r, an app or a group (so the group's
// middleware, such as the merchant's login check, runs first). Patterns are relative to
// the group: on app.Group("/billing") the charges live at /billing/charges.
func Mount(r fiber.Router, svc *core.Service, opts ...Option) {
	o := newOptions(opts)
	for _, rt := range svc.Routes() {
		r.Add(rt.Method, shim.ColonPattern(rt.Pattern), handler(rt, o))
	}
}

// MountWebhook registers the iamport notification route of svc on r at path (e.g.
// "/billing/webhook"). Mount it outside the merchant's user authentication: iamport calls
// it without a session. WithBuyer is ignored here.
func MountWebhook(r fiber.Router, path string, svc *core.Service, opts ...Option) {
	rt := svc.WebhookRoute()
	r.Add(rt.Method, shim.Path(path), handler(rt, newOptions(opts)))
}

// Unwrap returns the *fiber.Ctx behind a core.Request created by this adapter. Fiber
// reuses the context and its buffers: it is valid only until the handler returns.
func Unwrap(r core.Request) (*fiber.Ctx, bool) {
	if rq, ok := r.(*request); ok {
		return rq.c, true
	}
	return nil, false
}

func handler(rt core.Route, o *options) fiber.Handler {
	names := shim.ParamNames(rt.Pattern)
	return func(c *fiber.Ctx) error {
		req := newRequest(c, o, names)
		res := &response{c: c}
		// The raw body: Fiber's c.Body() would inflate Content-Encoding, which net/http
		// and Gin do not.
		raw := c.Request().Body()
		if o.BodyLimit > 0 && int64(len(raw)) > o.BodyLimit {
			o.TooLarge(c, res)
			return nil
		}
		// Copied: fasthttp reuses the buffer once the handler returns.
		req.body = bytes.Clone(raw)
		o.Serve(c, rt.Handle, res, req, false)
		return nil
	}
}

// request is core's view of a *fiber.Ctx. Every value is copied out of Fiber's buffers
// when it is created, so core may keep what it reads after the handler returns.
type request struct {
	c        *fiber.Ctx
	ctx      context.Context
	method   string
	host     string
	remote   net.Addr // the connection's address object, not a Fiber buffer
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
