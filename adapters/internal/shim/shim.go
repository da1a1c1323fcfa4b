// Package shim holds the pieces the billkey adapters share: route pattern translation,
// the options behind each adapter's With... functions (generic in the framework's context
// type), panic recovery and the response bookkeeping that lets an adapter tell whether
// the routes already sent a status line. Nothing here decides a status code, a header or
// a body; the route table (internal/httpapi) does that.
package shim

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/httpapi"
)

// ColonPattern translates a core route pattern ("/charges/{merchant_uid}") into the
// colon syntax Gin and Fiber use ("/charges/:merchant_uid"). It panics on pattern
// syntax the route table never uses (wildcards, {$}), since that is a programming error
// found at mount time, not a request input.
func ColonPattern(pattern string) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
		if !strings.HasSuffix(s, "}") || !validParam(name) {
			panic(fmt.Sprintf("billkey: unsupported route pattern %q", pattern))
		}
		segs[i] = ":" + name
	}
	return strings.Join(segs, "/")
}

// ParamNames lists the {name} parameters of a core route pattern, in order.
func ParamNames(pattern string) []string {
	var names []string
	for _, s := range strings.Split(pattern, "/") {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			names = append(names, s[1:len(s)-1])
		}
	}
	return names
}

func validParam(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Prefix checks and normalises a mount prefix: "" stays "", otherwise it must start
// with "/" and loses a trailing "/". It panics on a malformed prefix (mount-time error).
func Prefix(prefix string) string {
	if prefix == "" || prefix == "/" {
		return ""
	}
	if !strings.HasPrefix(prefix, "/") || strings.ContainsAny(prefix, " {}\t\n") {
		panic(fmt.Sprintf("billkey: mount prefix %q must be empty or an absolute path", prefix))
	}
	return strings.TrimRight(prefix, "/")
}

// Path checks a mount path such as the webhook's: absolute, no pattern syntax.
func Path(path string) string {
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " {}\t\n") {
		panic(fmt.Sprintf("billkey: mount path %q must be an absolute path", path))
	}
	return path
}

// PanicError is what the error hook receives when a route handler (or a hook it called,
// such as the buyer hook) panicked. The panic was recovered and answered with core's
// 500 problem when no status had been sent yet.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

// Error describes the panic.
func (e *PanicError) Error() string { return fmt.Sprintf("billkey: handler panicked: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Writer is the response side of an adapter: httpapi.Response plus what the shared
// recovery needs to know.
type Writer interface {
	httpapi.Response
	// Started reports whether the status line was handed to the framework.
	Started() bool
	// Discard forgets headers core set but never sent, before the 500 is rendered.
	Discard()
	// Err returns the first error writing the response failed with, nil if none did.
	Err() error
}

// Serve runs a route handler, turning a panic into core's 500 problem (when nothing was
// sent yet) and returning it as a *PanicError for the adapter's error hook; nil when the
// handler returned normally. http.ErrAbortHandler is re-raised when rethrowAbort is set,
// so net/http keeps its meaning of "abort this response".
func Serve(handle func(httpapi.Response, httpapi.Request), w Writer, r httpapi.Request, rethrowAbort bool) (perr *PanicError) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if rethrowAbort && p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
			panic(p)
		}
		buf := make([]byte, 8<<10)
		buf = buf[:runtime.Stack(buf, false)]
		perr = &PanicError{Value: p, Stack: buf}
		if !w.Started() {
			w.Discard()
			httpapi.WriteError(w, &core.Error{Code: codes.Internal, Err: perr})
		}
	}()
	handle(w, r)
	return nil
}
