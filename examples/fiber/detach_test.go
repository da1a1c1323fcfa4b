package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// The adaptor's request aliases fasthttp's buffers, which the next request on the
// connection overwrites in place; the detached request keeps what it was given.
func TestDetachedSurvivesBufferReuse(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(http.MethodGet)
	ctx.Request.SetRequestURI("/iamport/subscribe/customers/cu_aaaaaaaa?x=1")
	ctx.Request.Header.SetHost("shop.test")
	ctx.Request.Header.Set("Authorization", "token-aaaaaaaa")
	var r http.Request
	require.NoError(t, fasthttpadaptor.ConvertRequest(&ctx, &r, true))
	d := detached(&r)

	// The next request reuses the same bytes.
	ctx.Request.SetRequestURI("/iamport/subscribe/customers/cu_bbbbbbbb?x=2")
	ctx.Request.Header.SetHost("evil.test")
	ctx.Request.Header.Set("Authorization", "token-bbbbbbbb")
	_ = ctx.Request.Header.Header() // fasthttp writes its header buffer anew

	assert.Equal(t, "/iamport/subscribe/customers/cu_aaaaaaaa", d.URL.Path)
	assert.Equal(t, "x=1", d.URL.RawQuery)
	assert.Equal(t, "/iamport/subscribe/customers/cu_aaaaaaaa?x=1", d.RequestURI)
	assert.Equal(t, "token-aaaaaaaa", d.Header.Get("Authorization"))
	assert.Equal(t, "shop.test", d.Host)
	assert.Equal(t, http.MethodGet, d.Method)
}
