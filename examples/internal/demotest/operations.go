package demotest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/examples/internal/demo"
)

// Operations serves a sandbox App through wire and checks the endpoints outside every
// login: /readyz answers 200 with ready true, /metrics holds the Go and process
// collectors' standard series, and the admin API answers 401 without a staff session.
func Operations(t *testing.T, wire demo.Wiring) {
	t.Helper()
	base := "http://" + serve(t, wire)
	client := &http.Client{Timeout: patience}

	get := func(path string) (int, string) {
		res, err := client.Get(base + path)
		require.NoError(t, err)
		defer func() { _ = res.Body.Close() }()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}

	status, body := get(demo.ReadyPath)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"ready":true}`, body)

	status, body = get(demo.MetricsPath)
	assert.Equal(t, http.StatusOK, status)
	for _, name := range []string{"go_goroutines ", "process_open_fds "} {
		assert.True(t, strings.Contains(body, "\n"+name), "/metrics has %s", name)
	}

	status, _ = get(demo.AdminAPIPrefix + "/charges")
	assert.Equal(t, http.StatusUnauthorized, status, "the admin API is behind the staff login")

	// Signed in as staff, the operator hook lets billkey's admin routes answer.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client.Jar = jar
	res, err := client.PostForm(base+demo.AdminPath+"/login", url.Values{"user": {demo.Operators[0].ID}})
	require.NoError(t, err)
	_ = res.Body.Close()
	status, body = get(demo.AdminAPIPrefix + "/charges")
	assert.Equal(t, http.StatusOK, status, body)
	status, _ = get(demo.AdminAPIPrefix + "/subscriptions")
	assert.Equal(t, http.StatusOK, status)
}
