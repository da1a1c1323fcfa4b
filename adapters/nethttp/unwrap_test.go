package billkeyhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

func TestUnwrap(t *testing.T) {
	var got *http.Request
	var ok bool
	rt := core.Route{Method: http.MethodGet, Pattern: "/x", Handle: func(w core.Response, r core.Request) {
		got, ok = Unwrap(r)
		w.WriteHeader(http.StatusNoContent)
	}}
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	rec := httptest.NewRecorder()
	handler(rt, newOptions(nil)).ServeHTTP(rec, req)
	require.True(t, ok)
	assert.Same(t, req, got)
	assert.Equal(t, http.StatusNoContent, rec.Code)

	_, ok = Unwrap(nil)
	assert.False(t, ok)
}

// TestNoSniffing: when core sets no Content-Type, none is guessed from the body.
func TestNoSniffing(t *testing.T) {
	rt := core.Route{Method: http.MethodGet, Pattern: "/x", Handle: func(w core.Response, r core.Request) {
		_, _ = w.Write([]byte("<html>"))
	}}
	rec := httptest.NewRecorder()
	handler(rt, newOptions(nil)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Empty(t, rec.Result().Header.Get("Content-Type"))
}

// TestPanicAfterWrite: a panic once the status is sent cannot change the answer; it still
// reaches the error hook.
func TestPanicAfterWrite(t *testing.T) {
	var hooked []error
	rt := core.Route{Method: http.MethodGet, Pattern: "/x", Handle: func(w core.Response, r core.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	}}
	rec := httptest.NewRecorder()
	handler(rt, newOptions([]Option{WithErrorHook(func(_ *http.Request, err error) { hooked = append(hooked, err) })})).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Equal(t, http.StatusAccepted, rec.Code)
	require.Len(t, hooked, 1)
	assert.Contains(t, hooked[0].Error(), "late")
}

// TestAbortHandler: http.ErrAbortHandler keeps its net/http meaning.
func TestAbortHandler(t *testing.T) {
	rt := core.Route{Method: http.MethodGet, Pattern: "/x", Handle: func(core.Response, core.Request) {
		panic(http.ErrAbortHandler)
	}}
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		handler(rt, newOptions(nil)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	})
}
