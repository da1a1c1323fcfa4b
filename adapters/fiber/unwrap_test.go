package billkeyfiber

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

func TestUnwrap(t *testing.T) {
	var got *fiber.Ctx
	var ok bool
	rt := core.Route{Method: http.MethodGet, Pattern: "/x", Handle: func(w core.Response, r core.Request) {
		got, ok = Unwrap(r)
		w.WriteHeader(http.StatusNoContent)
	}}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	var seen *fiber.Ctx
	app.Use(func(c *fiber.Ctx) error { seen = c; return c.Next() })
	app.Add(rt.Method, rt.Pattern, handler(rt, newOptions(nil)))
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/x", nil), -1)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Same(t, seen, got)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	_, ok = Unwrap(nil)
	assert.False(t, ok)
}

// TestCopiesOutOfFiberBuffers keeps the core.Request past the handler, lets Fiber serve
// other requests (reusing its buffers), then reads every value again.
func TestCopiesOutOfFiberBuffers(t *testing.T) {
	type seen struct {
		method, param, query, header, host, body string
	}
	var kept []core.Request
	var first []seen
	read := func(r core.Request) seen {
		b, _ := io.ReadAll(r.Body())
		return seen{r.Method(), r.PathValue("id"), r.Query().Get("q"), r.Header().Get("X-Val"), r.Host(), string(b)}
	}
	rt := core.Route{Method: http.MethodPost, Pattern: "/x/{id}", Handle: func(w core.Response, r core.Request) {
		kept = append(kept, r)
		first = append(first, read(r))
		w.WriteHeader(http.StatusNoContent)
	}}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Add(rt.Method, "/x/:id", handler(rt, newOptions(nil)))
	for _, v := range []string{"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"} {
		req := httptest.NewRequest(http.MethodPost, "/x/"+v+"?q="+v, strings.NewReader("body-"+v))
		req.Host = v + ".example"
		req.Header.Set("X-Val", v)
		_, err := app.Test(req, -1)
		require.NoError(t, err)
	}
	require.Len(t, kept, 3)
	for i, r := range kept {
		again := read(r)
		assert.Equal(t, first[i], again)
	}
	assert.Equal(t, "bbbbbbbbbb", first[1].param)
	assert.Equal(t, "body-bbbbbbbbbb", first[1].body)
	assert.Equal(t, "bbbbbbbbbb.example", first[1].host)
	assert.Equal(t, http.MethodPost, first[1].method)
}

// TestNoDefaultContentType: when core sets no Content-Type, Fiber adds none either (its
// default is text/plain), as net/http and Gin add none.
func TestNoDefaultContentType(t *testing.T) {
	rt := core.Route{Method: http.MethodGet, Pattern: "/x", Handle: func(w core.Response, r core.Request) {
		w.Header().Set("Location", "https://shop.example/")
		w.WriteHeader(http.StatusSeeOther)
		_, _ = w.Write([]byte("see other"))
	}}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Add(rt.Method, rt.Pattern, handler(rt, newOptions(nil)))
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/x", nil), -1)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("Content-Type"))
	assert.Equal(t, "https://shop.example/", resp.Header.Get("Location"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "see other", string(body))
}

// TestRawBody: core gets the body as sent; Fiber's c.Body would inflate gzip.
func TestRawBody(t *testing.T) {
	var got string
	rt := core.Route{Method: http.MethodPost, Pattern: "/x", Handle: func(w core.Response, r core.Request) {
		b, _ := io.ReadAll(r.Body())
		got = string(b)
		w.WriteHeader(http.StatusNoContent)
	}}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Add(rt.Method, rt.Pattern, handler(rt, newOptions(nil)))
	req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("not really gzip"))
	req.Header.Set("Content-Encoding", "gzip")
	_, err := app.Test(req, -1)
	require.NoError(t, err)
	assert.Equal(t, "not really gzip", got)
}
