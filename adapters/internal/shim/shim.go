// Package shim holds the pieces the billkey adapters share: route pattern translation,
// the options behind each adapter's With... functions (generic in the framework's context
// type), the adapter-level body cap, panic recovery and the response bookkeeping that
// lets an adapter tell whether core already sent a status line. Nothing here decides a
// status code, a header or a body; core does that.
package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"

	"github.com/billkey/billkey/core"
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

// ReadCapped reads body up to limit bytes. tooLarge reports a body longer than limit
// (declared, when declared >= 0, or actually read). When reading fails part-way, the
// returned reader yields what was read and then the error, so core sees the failure as
// it would have without the cap.
func ReadCapped(body io.Reader, declared, limit int64) (r io.Reader, tooLarge bool) {
	if declared > limit {
		return nil, true
	}
	if body == nil || body == http.NoBody || declared == 0 {
		return http.NoBody, false
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if int64(len(b)) > limit {
		return nil, true
	}
	if err != nil {
		return io.MultiReader(bytes.NewReader(b), errReader{err}), false
	}
	return bytes.NewReader(b), false
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

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

// Writer is the response side of an adapter: core.Response plus what the shared
// recovery needs to know.
type Writer interface {
	core.Response
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
func Serve(handle func(core.Response, core.Request), w Writer, r core.Request, rethrowAbort bool) (perr *PanicError) {
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
			core.WriteError(w, &core.Error{Code: core.CodeInternal, Status: http.StatusInternalServerError, Err: perr})
		}
	}()
	handle(w, r)
	return nil
}

// ErrBodyTooLarge is the cause attached to the 413 an adapter-level cap produces.
var ErrBodyTooLarge = errors.New("billkey: request body over the adapter's limit")

// TooLarge answers core's 413 problem for a body over the adapter's cap of limit bytes,
// worded as core words its own cap.
func TooLarge(w core.Response, limit int64) {
	core.WriteError(w, &core.Error{
		Code:   core.CodeBodyTooLarge,
		Status: http.StatusRequestEntityTooLarge,
		Detail: "The request body is larger than " + strconv.FormatInt(limit, 10) + " bytes.",
		Err:    ErrBodyTooLarge,
	})
}
