package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// lines runs the command in-process and hands its output back line by line.
func start(t *testing.T, args ...string) (lines <-chan string, stop func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	ch := make(chan string, 256)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			ch <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		_ = pw.Close()
		done <- err
	}()
	return ch, func() error {
		cancel()
		return <-done
	}
}

func next(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "output ended")
		return l
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no output")
		return ""
	}
}

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	lines, stop := start(t, "-addr", "127.0.0.1:0", "-webhook", "http://127.0.0.1:1/hook", "-webhook-form")
	var banner []string
	for {
		l := next(t, lines)
		banner = append(banner, l)
		if strings.HasPrefix(l, "Press Ctrl+C") {
			break
		}
	}
	text := strings.Join(banner, "\n")
	m := regexp.MustCompile(`base URL:\s+(http://127\.0\.0\.1:\d+)\s`).FindStringSubmatch(text)
	require.NotNil(t, m, text)
	base := m[1]
	assert.Contains(t, text, "TEST MODE")
	assert.Contains(t, text, base+"/iamport.js")
	assert.Contains(t, text, iamporttest.Key)
	assert.Contains(t, text, iamporttest.Secret)
	assert.Contains(t, text, iamporttest.MerchantCode)
	assert.Contains(t, text, "http://127.0.0.1:1/hook (form)")
	for _, c := range iamporttest.TestCards() {
		assert.Contains(t, text, c.Number)
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Post(base+"/users/getToken", "application/json",
		strings.NewReader(`{"imp_key":"`+iamporttest.Key+`","imp_secret":"`+iamporttest.Secret+`"}`))
	require.NoError(t, err)
	var env struct {
		Code     int `json:"code"`
		Response struct {
			AccessToken string `json:"access_token"`
			ExpiredAt   int64  `json:"expired_at"`
		} `json:"response"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 0, env.Code)
	assert.NotEmpty(t, env.Response.AccessToken)
	l := next(t, lines)
	assert.Regexp(t, `POST /users/getToken 200 `, l)
	assert.NotContains(t, l, iamporttest.Secret)
	assert.NotContains(t, l, env.Response.AccessToken)

	// customer_uids are masked in the request log; the shim is served.
	req, err := http.NewRequest(http.MethodGet, base+"/subscribe/customers/cust_secretvalue_123456", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+env.Response.AccessToken)
	resp, err = client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	l = next(t, lines)
	assert.Contains(t, l, "GET /subscribe/customers/cust***56 ")
	assert.NotContains(t, l, "secretvalue")

	resp, err = client.Get(base + "/iamport.js")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Regexp(t, `GET /iamport.js 200 `, next(t, lines))

	// Another process can move the clock, and read it back.
	assert.Contains(t, text, base+iamporttest.ClockPath)
	resp, err = client.Post(base+iamporttest.ClockPath, "application/json", strings.NewReader(`{"advance":"48h"}`))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Regexp(t, `POST /__fake/clock 200 `, next(t, lines))
	rc, err := iamporttest.NewRemoteClock(base, 0)
	require.NoError(t, err)
	rc.Close()
	assert.WithinDuration(t, time.Now().Add(48*time.Hour), rc.Now(), time.Minute, "the real clock, advanced")
	next(t, lines)

	require.NoError(t, stop())
	for range lines {
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	assert.Error(t, run(ctx, []string{"-bogus"}, io.Discard))
	assert.Error(t, run(ctx, []string{"extra"}, io.Discard))
	assert.Error(t, run(ctx, []string{"-webhook", "ftp://x"}, io.Discard))
	assert.Error(t, run(ctx, []string{"-addr", "256.0.0.1:bad"}, io.Discard))
	assert.Error(t, run(ctx, []string{"-latency", "-1s"}, io.Discard))
	bad := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(bad, []byte("not json"), 0o600))
	err := run(ctx, []string{"-addr", "127.0.0.1:0", "-state", bad}, io.Discard)
	assert.ErrorContains(t, err, "not a saved fake state")
}

// With -state, what the fake learnt survives a restart of the command.
func TestRunKeepsState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fake.json")
	f := iamporttest.New(iamporttest.WithStateFile(path))
	_, err := f.IssueBillingKey(iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "i1", CustomerUID: "cust_kept_0123456789", CardNumber: iamporttest.CardOK})
	require.NoError(t, err)
	f.Close()

	lines, stop := start(t, "-addr", "127.0.0.1:0", "-state", path, "-quiet", "-pg-id", "IGNORED", "-no-sandbox-field")
	var text []string
	for l := next(t, lines); !strings.HasPrefix(l, "Press Ctrl+C"); l = next(t, lines) {
		text = append(text, l)
	}
	joined := strings.Join(text, "\n")
	assert.Contains(t, joined, "state file:    "+path)
	base := regexp.MustCompile(`base URL:\s+(http://127\.0\.0\.1:\d+)\s`).FindStringSubmatch(joined)[1]

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Post(base+"/users/getToken", "application/json",
		strings.NewReader(`{"imp_key":"`+iamporttest.Key+`","imp_secret":"`+iamporttest.Secret+`"}`))
	require.NoError(t, err)
	var tok struct {
		Response struct {
			AccessToken string `json:"access_token"`
		} `json:"response"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	_ = resp.Body.Close()
	req, err := http.NewRequest(http.MethodGet, base+"/subscribe/customers/cust_kept_0123456789", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.Response.AccessToken)
	resp, err = client.Do(req)
	require.NoError(t, err)
	var cust struct {
		Code     int                        `json:"code"`
		Response map[string]json.RawMessage `json:"response"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&cust))
	_ = resp.Body.Close()
	assert.Equal(t, 0, cust.Code, "the key issued before the start is known")
	assert.NotContains(t, cust.Response, "sandbox")
	assert.Equal(t, `"`+iamporttest.LiveSiteCode+`"`, string(cust.Response["pg_id"]), "a kept key keeps its pg_id")
	require.NoError(t, stop())
	for range lines {
	}
}

func TestMaskPath(t *testing.T) {
	for in, want := range map[string]string{
		"/subscribe/customers/abcdefghijkl":                   "/subscribe/customers/abcd***kl",
		"/subscribe/customers/short":                          "/subscribe/customers/***",
		"/subscribe/customers/abcdefghijkl/payments":          "/subscribe/customers/abcd***kl/payments",
		"/subscribe/payments/schedule/customers/abcdefghijkl": "/subscribe/payments/schedule/customers/abcd***kl",
		"/payments/imp_123":                                   "/payments/imp_123",
		"/subscribe/customers/":                               "/subscribe/customers/",
	} {
		assert.Equal(t, want, maskPath(in), in)
	}
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8099":    "http://127.0.0.1:8099",
		"[::]:8099":       "http://127.0.0.1:8099",
		"127.0.0.1:8099":  "http://127.0.0.1:8099",
		"[::1]:8099":      "http://[::1]:8099",
		"192.0.2.10:8099": "http://192.0.2.10:8099",
	} {
		assert.Equal(t, want, baseURL(addr(in)), in)
	}
}

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }
