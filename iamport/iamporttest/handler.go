package iamporttest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// apiReply is an API answer before it is written: the envelope and its HTTP status.
type apiReply struct {
	status   int
	code     int
	message  string
	response any
	header   http.Header
}

// apiEnvelope is iamport's response body.
type apiEnvelope struct {
	Code     int     `json:"code"`
	Message  *string `json:"message"`
	Response any     `json:"response"`
}

func okReply(resp any) apiReply { return apiReply{status: http.StatusOK, response: resp} }

// applyAmountJSON stores amount as the written amount of the payment rp answers with
// (Fault.AmountJSON) and returns the answer showing it.
func (f *Fake) applyAmountJSON(rp apiReply, amount string) apiReply {
	p, ok := rp.response.(payment)
	if !ok || !validAmountJSON(amount) {
		return rp
	}
	f.mu.Lock()
	if rec, found := f.byImpUID[p.ImpUID]; found {
		rec.p.Amount.text = amount
	}
	f.mu.Unlock()
	f.changed()
	p.Amount.text = amount
	rp.response = p
	return rp
}

// runDueOnRealClock runs the schedules that came due as real time passed.
func (f *Fake) runDueOnRealClock() {
	f.mu.Lock()
	if !f.clock.real {
		f.mu.Unlock()
		return
	}
	notes, ran := f.runDueSchedulesLocked()
	f.mu.Unlock()
	if ran > 0 {
		f.changed()
		f.notify(notes)
	}
}

func failReply(status, code int, msg string) apiReply {
	return apiReply{status: status, code: code, message: msg}
}

// fromErr turns a parameter error into a code-1 answer on HTTP 200, as iamport answers
// invalid fields.
func fromErr(err error) apiReply {
	var fe *fieldError
	if errors.As(err, &fe) {
		return failReply(http.StatusOK, 1, fe.msg)
	}
	return failReply(http.StatusOK, 1, "요청 파라미터가 올바르지 않습니다.")
}

func (rp apiReply) encode() []byte {
	env := apiEnvelope{Code: rp.code, Response: rp.response}
	if rp.message != "" {
		m := rp.message
		env.Message = &m
	}
	b, err := json.Marshal(env)
	if err != nil {
		// Every response value is a plain struct; this cannot happen, but never panic.
		b = []byte(`{"code":-1,"message":"internal error","response":null}`)
	}
	return b
}

// apiRequest is what an endpoint handler gets.
type apiRequest struct {
	r       *http.Request
	ids     []string // path parameters
	body    bodyParams
	bodyErr error  // why the body could not be read (answered after authentication)
	base    string // absolute base URL of the fake as the client reached it, or ""
}

type handlerFunc func(f *Fake, a *apiRequest) apiReply

// apiRoute is a matched API endpoint.
type apiRoute struct {
	ep       Endpoint
	h        handlerFunc
	ids      []string
	auth     bool // needs an access token
	readBody bool
}

// Handler serves the API, iamport.js and the payment window. Mountable under a path prefix
// with http.StripPrefix; pages and the JS derive their base URL from the request.
func (f *Fake) Handler() http.Handler { return http.HandlerFunc(f.serveHTTP) }

func (f *Fake) serveHTTP(w http.ResponseWriter, r *http.Request) {
	segs, okPath := splitPath(r)
	if okPath && isClockPath(segs) {
		f.serveClock(w, r)
		return
	}
	if okPath && len(segs) >= 1 {
		if (len(segs) == 1 && segs[0] == "iamport.js" && r.Method == http.MethodGet) ||
			(segs[0] == "window" && (r.Method == http.MethodGet || r.Method == http.MethodPost)) {
			f.serveWindow(w, r)
			return
		}
		if len(segs) == 2 && segs[0] == "receipts" && r.Method == http.MethodGet {
			f.serveReceipt(w, r, segs[1])
			return
		}
	}
	var rt apiRoute
	var allowed []string
	if okPath {
		rt, allowed = matchRoute(r.Method, segs)
	}
	f.runDueOnRealClock()
	idx, fault := f.arrive(rt.ep, r)
	status := 0
	// Deferred: abortConn may end the handler by panicking with http.ErrAbortHandler.
	defer func() { f.finish(idx, status) }()
	a := &apiRequest{r: r, ids: rt.ids, base: requestBase(r)}
	if rt.readBody {
		// Read first, so an again is counted in flight for its merchant_uid from here on.
		a.body, a.bodyErr = readParams(w, r)
		if rt.ep == EPAgain && a.bodyErr == nil {
			if m, err := a.body.str("merchant_uid"); err == nil && m != "" {
				f.againStarted(m)
				defer f.againEnded(m)
			}
		}
	}
	f.serveAPI(w, a, rt, allowed, okPath, fault, &status)
}

// serveAPI answers one API call, applying its fault, and sets *status to the HTTP status
// written (left 0 when the connection was dropped unanswered).
func (f *Fake) serveAPI(w http.ResponseWriter, a *apiRequest, rt apiRoute, allowed []string, okPath bool, ft Fault, status *int) {
	r := a.r
	if f.latency > 0 && !f.wait(r, f.latency) {
		return
	}
	if ft.Latency > 0 && !f.wait(r, ft.Latency) {
		return
	}
	if ft.DropBefore {
		abortConn(w)
		return
	}
	if ft.Status != 0 {
		code := ft.Code
		if code == 0 {
			code = -1
		}
		msg := ft.Message
		if msg == "" {
			msg = http.StatusText(ft.Status)
		}
		*status = writeReply(w, failReply(ft.Status, code, msg))
		return
	}
	if ft.Code != 0 {
		*status = writeReply(w, failReply(http.StatusOK, ft.Code, ft.Message))
		return
	}

	rp := f.dispatch(a, rt, allowed, okPath)
	if ft.AmountJSON != "" {
		rp = f.applyAmountJSON(rp, ft.AmountJSON)
	}
	switch {
	case ft.DropAfter:
		abortConn(w)
		return
	case ft.Truncate:
		*status = rp.status
		writeTruncated(w, rp)
		return
	case ft.Stall > 0:
		f.wait(r, ft.Stall)
	}
	*status = writeReply(w, rp)
}

// dispatch runs the endpoint: authentication, body, handler.
func (f *Fake) dispatch(a *apiRequest, rt apiRoute, allowed []string, okPath bool) apiReply {
	r := a.r
	if !okPath {
		return failReply(http.StatusNotFound, -1, "요청하신 경로를 찾을 수 없습니다.")
	}
	if rt.h == nil {
		if len(allowed) > 0 {
			rp := failReply(http.StatusMethodNotAllowed, -1, "허용되지 않은 메소드입니다.")
			rp.header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
			return rp
		}
		return failReply(http.StatusNotFound, -1, "요청하신 경로를 찾을 수 없습니다.")
	}
	if rt.auth && !f.authorized(r) {
		return failReply(http.StatusUnauthorized, -1, "Unauthorized")
	}
	switch {
	case errors.Is(a.bodyErr, errTooLarge):
		return failReply(http.StatusRequestEntityTooLarge, 1, "요청 본문이 너무 큽니다.")
	case a.bodyErr != nil:
		return failReply(http.StatusBadRequest, 1, "요청 본문을 해석할 수 없습니다.")
	}
	return rt.h(f, a)
}

// matchRoute finds the endpoint for method and path segments. When the path is known but
// the method is not, it returns the allowed methods.
func matchRoute(method string, s []string) (apiRoute, []string) {
	is := func(want ...string) bool {
		if len(s) != len(want) {
			return false
		}
		for i, w := range want {
			if w != "*" && s[i] != w {
				return false
			}
		}
		return true
	}
	pick := func(allowed []string, routes map[string]apiRoute) (apiRoute, []string) {
		if rt, ok := routes[method]; ok {
			return rt, nil
		}
		return apiRoute{}, allowed
	}
	post := func(ep Endpoint, h handlerFunc, auth bool) (apiRoute, []string) {
		return pick([]string{http.MethodPost}, map[string]apiRoute{
			http.MethodPost: {ep: ep, h: h, auth: auth, readBody: true},
		})
	}
	get := func(ep Endpoint, h handlerFunc, ids ...string) (apiRoute, []string) {
		return pick([]string{http.MethodGet}, map[string]apiRoute{
			http.MethodGet: {ep: ep, h: h, ids: ids, auth: true},
		})
	}
	switch {
	case is("users", "getToken"):
		return post(EPGetToken, (*Fake).handleGetToken, false)
	case is("subscribe", "payments", "again"):
		return post(EPAgain, (*Fake).handleAgain, true)
	case is("subscribe", "payments", "schedule"):
		return post(EPSchedule, (*Fake).handleSchedule, true)
	case is("subscribe", "payments", "unschedule"):
		return post(EPUnschedule, (*Fake).handleUnschedule, true)
	case is("subscribe", "payments", "schedule", "*"):
		return get(EPGetSchedule, (*Fake).handleGetSchedule, s[3])
	case is("subscribe", "customers", "*"):
		return pick([]string{http.MethodGet, http.MethodDelete}, map[string]apiRoute{
			http.MethodGet:    {ep: EPGetCustomer, h: (*Fake).handleGetCustomer, ids: s[2:], auth: true},
			http.MethodDelete: {ep: EPDeleteCustomer, h: (*Fake).handleDeleteCustomer, ids: s[2:], auth: true},
		})
	case is("payments", "cancel"):
		return post(EPCancel, (*Fake).handleCancel, true)
	case is("payments", "find", "*"), is("payments", "find", "*", "*"):
		return get(EPFindPayment, (*Fake).handleFind, s[2:]...)
	case is("payments", "findAll", "*"), is("payments", "findAll", "*", "*"):
		return get(EPFindAll, (*Fake).handleFindAll, s[2:]...)
	case is("payments", "*"):
		return get(EPGetPayment, (*Fake).handleGetPayment, s[1])
	}
	return apiRoute{}, nil
}

// splitPath returns the unescaped segments of the request path (after any StripPrefix),
// without the leading slash and without one trailing empty segment.
func splitPath(r *http.Request) ([]string, bool) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	parts := strings.Split(p, "/")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	for i, s := range parts {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// requestBase is the absolute URL at which the client reached this handler: scheme, host
// and any prefix a StripPrefix in front removed. "" when it cannot be told.
func requestBase(r *http.Request) string {
	if r.Host == "" {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	prefix := ""
	if r.RequestURI != "" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			orig, stripped := u.EscapedPath(), r.URL.EscapedPath()
			if strings.HasSuffix(orig, stripped) {
				prefix = strings.TrimSuffix(orig[:len(orig)-len(stripped)], "/")
			}
		}
	}
	return scheme + "://" + r.Host + prefix
}

// tokenFromRequest reads the access token: Authorization (with or without "Bearer ") wins
// over the legacy X-ImpTokenHeader.
func tokenFromRequest(r *http.Request) string {
	if h := strings.TrimSpace(r.Header.Get("Authorization")); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return h
	}
	return strings.TrimSpace(r.Header.Get("X-ImpTokenHeader"))
}

// authorized reports whether r carries the current, unexpired token.
func (f *Fake) authorized(r *http.Request) bool {
	tok := tokenFromRequest(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	return tok != "" && f.token != "" &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(f.token)) == 1 &&
		f.nowLocked().Before(f.tokenExp)
}

func writeReply(w http.ResponseWriter, rp apiReply) int {
	body := rp.encode()
	h := w.Header()
	for k, v := range rp.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rp.status)
	_, _ = w.Write(body)
	return rp.status
}
