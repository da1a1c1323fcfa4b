package billkeygin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

func TestUnwrap(t *testing.T) {
	gin.SetMode(gin.TestMode)
	var got *gin.Context
	var ok bool
	var param string
	rt := core.Route{Method: http.MethodGet, Pattern: "/x/{id}", Handle: func(w core.Response, r core.Request) {
		got, ok = Unwrap(r)
		param = r.PathValue("id")
		w.WriteHeader(http.StatusNoContent)
	}}
	engine := gin.New()
	var seen *gin.Context
	engine.Use(func(c *gin.Context) { seen = c; c.Next() })
	engine.Handle(rt.Method, "/x/:id", handler(rt, newOptions(nil)))
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x/a%20b", nil))
	require.True(t, ok)
	assert.Same(t, seen, got)
	assert.Equal(t, "a b", param)
	assert.Equal(t, http.StatusNoContent, rec.Code)

	_, ok = Unwrap(nil)
	assert.False(t, ok)
}

// TestNoSniffing: when core sets no Content-Type, none is guessed from the body.
func TestNoSniffing(t *testing.T) {
	gin.SetMode(gin.TestMode)
	rt := core.Route{Method: http.MethodGet, Pattern: "/x", Handle: func(w core.Response, r core.Request) {
		_, _ = w.Write([]byte("<html>"))
	}}
	engine := gin.New()
	engine.Handle(rt.Method, rt.Pattern, handler(rt, newOptions(nil)))
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Empty(t, rec.Result().Header.Get("Content-Type"))
}
