package shim

import (
	"net/http"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/httpapi"
)

// Options is what an adapter's Option functions set, for the framework's request context
// type C (*gin.Context, *fiber.Ctx, *http.Request). Each adapter keeps its own exported
// Option type and With... functions, which fill these fields.
type Options[C any] struct {
	// Buyer tells core who the signed-in user is; nil means nobody (core answers 401).
	Buyer func(C) (core.Buyer, error)
	// Operator tells core who the signed-in member of staff is, for the admin routes; nil
	// means nobody (core answers 401).
	Operator func(C) (string, error)
	// ErrorHook receives recovered panics and failed response writes; may be nil.
	ErrorHook func(C, error)
}

// ForAdmin returns the options the admin routes run with: the route table asks its
// Request for the caller, and on the admin routes that is the operator.
func (o *Options[C]) ForAdmin() *Options[C] {
	a := *o
	a.Buyer = func(c C) (core.Buyer, error) {
		if o.Operator == nil {
			return core.Buyer{}, nil
		}
		op, err := o.Operator(c)
		return core.Buyer{UserID: op}, err
	}
	return &a
}

// NewOptions applies opts, skipping nil ones, to zero Options.
func NewOptions[C any, O ~func(*Options[C])](opts []O) *Options[C] {
	o := &Options[C]{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// Report hands err to the error hook, if any.
func (o *Options[C]) Report(c C, err error) {
	if o.ErrorHook != nil {
		o.ErrorHook(c, err)
	}
}

// BuyerOf runs the buyer hook for c; without one it returns the zero Buyer (no user).
func (o *Options[C]) BuyerOf(c C) (core.Buyer, error) {
	if o.Buyer == nil {
		return core.Buyer{}, nil
	}
	return o.Buyer(c)
}

// Serve runs handle through the package-level Serve, then hands a recovered panic and a
// failed response write, in that order, to the error hook.
func (o *Options[C]) Serve(c C, handle func(httpapi.Response, httpapi.Request), w Writer, r httpapi.Request, rethrowAbort bool) {
	if perr := Serve(handle, w, r, rethrowAbort); perr != nil {
		o.Report(c, perr)
	}
	if err := w.Err(); err != nil {
		o.Report(c, err)
	}
}

// Held is the header side every Writer shares: the headers core sets, held back until
// the status goes out (so a panic before it leaves the merchant's headers alone), and
// whether it went out.
type Held struct {
	header  http.Header
	started bool
}

// Header returns the headers core sets; they reach the framework with the status.
func (h *Held) Header() http.Header {
	if h.header == nil {
		h.header = make(http.Header)
	}
	return h.header
}

// Start marks the status as sent and returns the held headers; first is false (and
// nothing is to be sent) when it was sent before.
func (h *Held) Start() (held http.Header, first bool) {
	if h.started {
		return nil, false
	}
	h.started = true
	return h.header, true
}

// Started reports whether the status was sent.
func (h *Held) Started() bool { return h.started }

// Discard forgets headers core set but never sent.
func (h *Held) Discard() { h.header = nil }

// StreamResponse is the Writer of adapters whose framework writes through an
// http.ResponseWriter while the handler runs (net/http, Gin). It collects core's headers
// in its own map and hands them to the writer with the status, so that a panic before
// the status line leaves the merchant's headers alone, and it keeps the first write error.
type StreamResponse struct {
	Held
	w   http.ResponseWriter
	now interface{ WriteHeaderNow() }
	err error
}

// NewStreamResponse returns a StreamResponse writing to w. now, when not nil, is called
// right after the status is handed to w, for writers that only record it (Gin's).
func NewStreamResponse(w http.ResponseWriter, now interface{ WriteHeaderNow() }) *StreamResponse {
	return &StreamResponse{w: w, now: now}
}

// WriteHeader copies core's headers to the writer and sends status, once.
func (s *StreamResponse) WriteHeader(status int) {
	held, first := s.Start()
	if !first {
		return
	}
	h := s.w.Header()
	for k, v := range held {
		h[k] = v
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // core sets it when there is a body; never sniff
	}
	s.w.WriteHeader(status)
	if s.now != nil {
		s.now.WriteHeaderNow()
	}
}

// Write sends the status (200) if not sent yet, then p, keeping the first write error.
func (s *StreamResponse) Write(p []byte) (int, error) {
	if !s.Started() {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.w.Write(p)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

// Err returns the first write error.
func (s *StreamResponse) Err() error { return s.err }
