package iamporttest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

func TestTokenJSONAndForm(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	tok := e.login()
	assert.Len(t, tok.AccessToken, 40)
	assert.Equal(t, iamport.Timestamp(start.Unix()), tok.Now)
	assert.Equal(t, iamport.Timestamp(start.Add(30*time.Minute).Unix()), tok.ExpiredAt)

	e.token = ""
	r := e.form(http.MethodPost, "/users/getToken", url.Values{"imp_key": {Key}, "imp_secret": {Secret}})
	require.Equal(t, 0, r.code)
	assert.Equal(t, tok, as[iamport.Token](t, r), "the same token with the same expiry before expiry")
	assert.Nil(t, r.message)
	assert.Equal(t, 2, e.srv.Count(EPGetToken))
}

func TestTokenBadCredentials(t *testing.T) {
	e := newAPIEnv(t, WithCredentials("k", "s"))
	for _, body := range []map[string]string{
		{"imp_key": Key, "imp_secret": Secret},
		{"imp_key": "k", "imp_secret": "wrong"},
		{"imp_key": "k"},
		{},
	} {
		r := e.call(http.MethodPost, "/users/getToken", body)
		assert.Equal(t, http.StatusUnauthorized, r.status, body)
		assert.NotEqual(t, 0, r.code)
		assert.Equal(t, "null", string(r.response))
	}
	r := e.call(http.MethodPost, "/users/getToken", map[string]string{"imp_key": "k", "imp_secret": "s"})
	assert.Equal(t, 0, r.code)
}

func TestTokenExtensionAndExpiry(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	first := e.login()

	e.srv.Advance(28 * time.Minute) // two minutes left: unchanged
	again := e.login()
	assert.Equal(t, first.AccessToken, again.AccessToken)
	assert.Equal(t, first.ExpiredAt, again.ExpiredAt)
	assert.Equal(t, iamport.Timestamp(start.Add(28*time.Minute).Unix()), again.Now)

	e.srv.Advance(90 * time.Second) // 30 s left: pushed back five minutes
	ext := e.login()
	assert.Equal(t, first.AccessToken, ext.AccessToken)
	assert.Equal(t, first.ExpiredAt+5*60, ext.ExpiredAt)

	e.srv.Advance(3 * time.Minute) // still valid thanks to the extension
	r := e.call(http.MethodGet, "/payments/imps_000000000000", nil)
	assert.Equal(t, http.StatusNotFound, r.status, "authorized, just not found")

	e.srv.Advance(3 * time.Minute) // past the extended expiry
	r = e.call(http.MethodGet, "/payments/imps_000000000000", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, -1, r.code)

	fresh := e.login()
	assert.NotEqual(t, first.AccessToken, fresh.AccessToken, "a new token after expiry")
	assert.Equal(t, fresh.Now+30*60, fresh.ExpiredAt)
	r = e.call(http.MethodGet, "/payments/imps_000000000000", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestTokenLifetimeOption(t *testing.T) {
	e := newAPIEnv(t, WithTokenLifetime(time.Minute))
	tok := e.login()
	assert.Equal(t, tok.Now+60, tok.ExpiredAt)
}

func TestTokenHeaders(t *testing.T) {
	e := newAPIEnv(t)
	tok := e.login().AccessToken
	e.token = ""
	cases := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"bearer", map[string]string{"Authorization": "Bearer " + tok}, http.StatusNotFound},
		{"bearer lower case", map[string]string{"Authorization": "bearer " + tok}, http.StatusNotFound},
		{"raw", map[string]string{"Authorization": tok}, http.StatusNotFound},
		{"legacy header", map[string]string{"X-ImpTokenHeader": tok}, http.StatusNotFound},
		{"authorization wins", map[string]string{"Authorization": "Bearer nope", "X-ImpTokenHeader": tok}, http.StatusUnauthorized},
		{"wrong", map[string]string{"Authorization": "Bearer " + strings.ToUpper(tok)}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := e.request(http.MethodGet, "/subscribe/customers/nobody", nil, "")
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			r := e.do(req)
			assert.Equal(t, c.want, r.status)
		})
	}
}

func TestEveryAPIEndpointNeedsToken(t *testing.T) {
	e := newAPIEnv(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/subscribe/payments/again"},
		{http.MethodGet, "/subscribe/customers/c1"},
		{http.MethodDelete, "/subscribe/customers/c1"},
		{http.MethodGet, "/payments/imps_1"},
		{http.MethodGet, "/payments/find/m1"},
		{http.MethodGet, "/payments/find/m1/paid"},
		{http.MethodGet, "/payments/findAll/m1"},
		{http.MethodPost, "/payments/cancel"},
		{http.MethodPost, "/subscribe/payments/schedule"},
		{http.MethodPost, "/subscribe/payments/unschedule"},
		{http.MethodGet, "/subscribe/payments/schedule/m1"},
	} {
		r := e.call(c.method, c.path, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s %s", c.method, c.path)
	}
}
