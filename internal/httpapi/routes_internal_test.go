package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/store"
)

// rtReq is a bare Request for unit tests of the route helpers.
type rtReq struct {
	header http.Header
	host   string
	remote string
	tls    bool
}

func (r rtReq) Context() context.Context { return context.Background() }
func (r rtReq) Method() string           { return http.MethodPost }
func (r rtReq) PathValue(string) string  { return "" }
func (r rtReq) Query() url.Values        { return url.Values{} }
func (r rtReq) Header() http.Header {
	if r.header == nil {
		return http.Header{}
	}
	return r.header
}
func (r rtReq) Body() io.Reader            { return nil }
func (r rtReq) Host() string               { return r.host }
func (r rtReq) RemoteAddr() string         { return r.remote }
func (r rtReq) TLS() bool                  { return r.tls }
func (r rtReq) Buyer() (core.Buyer, error) { return core.Buyer{}, nil }
func rtHeaders(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// ---------------------------------------------------------------------------------------
// R15: redirect targets.

// rtPages are configured landing pages of the shapes New accepts, already normalized.
var rtPages = []string{
	"https://shop.example.com/account/billing?tab=card",
	"https://shop.example.com/done",
	"http://localhost:8080/subscribe/result",
	"https://shop.example.com/a%2Fb/c?x=1&x=2",
	"https://[2001:db8::1]:8443/ok",
}

// rtCheckTarget asserts that target is page with only a valid result added.
func rtCheckTarget(t *testing.T, page *url.URL, target string) {
	t.Helper()
	if strings.ContainsAny(target, "\r\n\t \\\x00") {
		t.Fatalf("target %q has forbidden characters", target)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("target %q does not parse: %v", target, err)
	}
	if u.Scheme != page.Scheme || u.Host != page.Host || u.User != nil || u.Opaque != "" {
		t.Fatalf("target %q leaves %s://%s", target, page.Scheme, page.Host)
	}
	if u.EscapedPath() != page.EscapedPath() || u.Fragment != page.Fragment {
		t.Fatalf("target %q changes the path of %q", target, page)
	}
	q, pq := u.Query(), page.Query()
	rs := q["result"]
	if _, known := codes.Lookup(rs[0]); len(rs) != 1 || !known && rs[0] != ResultIssued {
		t.Fatalf("target %q: result %q", target, rs)
	}
	q.Del("result")
	pq.Del("result")
	if q.Encode() != pq.Encode() {
		t.Fatalf("target %q changes the query of %q", target, page)
	}
	// A browser resolves it against anything to the same origin.
	base, _ := url.Parse("https://evil.com/x/y")
	if r := base.ResolveReference(u); r.Host != page.Host {
		t.Fatalf("target %q resolves to %q", target, r)
	}
}

func TestRedirectTarget(t *testing.T) {
	page, err := url.Parse("https://shop.example.com/account/billing?tab=card")
	require.NoError(t, err)
	assert.Equal(t, "https://shop.example.com/account/billing?result=issued&tab=card", redirectTarget(page, ResultIssued))
	assert.Equal(t, "https://shop.example.com/account/billing?result=internal&tab=card", redirectTarget(page, "//evil.com"))
	assert.Equal(t, "https://shop.example.com/account/billing?tab=card", page.String(), "the configured URL is not modified")
	page2, _ := url.Parse("https://shop.example.com/x?result=old")
	assert.Equal(t, "https://shop.example.com/x?result=not_found", redirectTarget(page2, codes.NotFound))
}

func TestResolvePage(t *testing.T) {
	const pub = "https://shop.example.com/billing"
	for page, want := range map[string]string{
		"":                              pub,
		"/done":                         "https://shop.example.com/done",
		"/done?x=1":                     "https://shop.example.com/done?x=1",
		"https://shop.example.com/ok":   "https://shop.example.com/ok",
		"/\\evil.com":                   "https://shop.example.com/%5Cevil.com",
		"/%2F%2Fevil.com":               "https://shop.example.com/%2F%2Fevil.com",
		"https://pay.shop.example.com/": "https://pay.shop.example.com/",
	} {
		u, err := resolvePage(pub, page)
		require.NoError(t, err, page)
		assert.Equal(t, want, u.String(), page)
	}
	for _, page := range []string{"//evil.com/x", "https://shop@evil.com/", "javascript:alert(1)", "ftp://shop.example.com/", "https:///x", "%zz"} {
		_, err := resolvePage(pub, page)
		assert.Error(t, err, page)
	}
}

// FuzzRedirectTarget drives the redirect decision with an attacker's query and result and
// checks that the browser never leaves the configured page (R15).
func FuzzRedirectTarget(f *testing.F) {
	f.Add("imp_uid=imp_1&merchant_uid=bki1&imp_success=true", "issued")
	f.Add("merchant_uid=%2F%2Fevil.com&next=//evil.com", "//evil.com")
	f.Add("merchant_uid=bki1&redirect=https://shop.example.com@evil.com", "https://shop.example.com@evil.com")
	f.Add("merchant_uid=bki1&error_msg=%0d%0aLocation:%20https://evil.com", "\r\nLocation: https://evil.com")
	f.Add("merchant_uid=/%5Cevil.com", "/\\evil.com")
	f.Add("result=javascript:alert(1)", "javascript:alert(1)")
	pages := make([]*url.URL, len(rtPages))
	for i, p := range rtPages {
		u, err := url.Parse(p)
		if err != nil {
			f.Fatal(err)
		}
		pages[i] = u
	}
	f.Fuzz(func(t *testing.T, rawQuery, result string) {
		q, _ := url.ParseQuery(rawQuery)
		code := result
		if _, err := ParseRedirectQuery(q); err != nil {
			code = ProblemFor(err).Code
		} else if q.Get("result") != "" {
			code = q.Get("result")
		}
		for _, page := range pages {
			before := page.String()
			rtCheckTarget(t, page, redirectTarget(page, code))
			rtCheckTarget(t, page, redirectTarget(page, result))
			if page.String() != before {
				t.Fatalf("configured page changed: %q -> %q", before, page)
			}
		}
	})
}

// ---------------------------------------------------------------------------------------
// R16: cross-site checks.

func TestCheckSameOrigin(t *testing.T) {
	const public = "https://shop.example.com"
	for _, c := range []struct {
		name   string
		host   string
		tls    bool
		header http.Header
		ok     bool
	}{
		{"no headers", "shop.example.com", true, nil, true},
		{"fetch same-origin", "shop.example.com", true, rtHeaders("Sec-Fetch-Site", "same-origin"), true},
		{"fetch none", "shop.example.com", true, rtHeaders("Sec-Fetch-Site", "none"), true},
		{"fetch same-site", "shop.example.com", true, rtHeaders("Sec-Fetch-Site", "same-site"), false},
		{"fetch cross-site", "shop.example.com", true, rtHeaders("Sec-Fetch-Site", "cross-site"), false},
		{"fetch cross-site wins over origin", "shop.example.com", true, rtHeaders("Sec-Fetch-Site", "cross-site", "Origin", "https://shop.example.com"), false},
		{"fetch twice", "shop.example.com", true, rtHeaders("Sec-Fetch-Site", "same-origin", "Sec-Fetch-Site", "cross-site"), false},
		{"origin host", "app.local:8080", false, rtHeaders("Origin", "http://app.local:8080"), true},
		{"origin default port", "app.local", true, rtHeaders("Origin", "https://APP.local:443"), true},
		{"host default port", "app.local:443", true, rtHeaders("Origin", "https://app.local"), true},
		{"origin other port", "app.local:8080", false, rtHeaders("Origin", "http://app.local:8081"), false},
		{"origin https on a plain-http server", "app.local", false, rtHeaders("Origin", "https://app.local"), false},
		{"origin http on a TLS server", "app.local", true, rtHeaders("Origin", "http://app.local"), false},
		{"origin trusted public", "10.0.0.5:8080", false, rtHeaders("Origin", "https://shop.example.com"), true},
		{"origin scheme differs from public", "10.0.0.5:8080", false, rtHeaders("Origin", "http://shop.example.com"), false},
		{"origin evil", "shop.example.com", true, rtHeaders("Origin", "https://evil.com"), false},
		{"origin suffix", "shop.example.com", true, rtHeaders("Origin", "https://shop.example.com.evil.com"), false},
		{"origin null", "shop.example.com", true, rtHeaders("Origin", "null"), false},
		{"origin with path", "shop.example.com", true, rtHeaders("Origin", "https://shop.example.com/x"), false},
		{"origin userinfo", "evil.com", true, rtHeaders("Origin", "https://shop.example.com@evil.com"), false},
		{"origin file", "shop.example.com", true, rtHeaders("Origin", "file://"), false},
		{"origin ipv6", "[::1]:8080", false, rtHeaders("Origin", "http://[::1]:8080"), true},
		{"origin twice", "shop.example.com", true, rtHeaders("Origin", "https://shop.example.com", "Origin", "https://evil.com"), false},
		{"referer same origin", "app.local:8080", false, rtHeaders("Referer", "http://app.local:8080/account?x=1"), true},
		{"referer public", "10.0.0.5", false, rtHeaders("Referer", "https://shop.example.com/subscribe"), true},
		{"referer cross-site", "shop.example.com", true, rtHeaders("Referer", "https://evil.com/shop.example.com"), false},
		{"referer other scheme", "app.local", false, rtHeaders("Referer", "https://app.local/"), false},
		{"referer malformed", "shop.example.com", true, rtHeaders("Referer", "::not a url"), false},
		{"origin wins over referer", "shop.example.com", true, rtHeaders("Origin", "https://evil.com", "Referer", "https://shop.example.com/"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkSameOrigin(rtReq{header: c.header, host: c.host, tls: c.tls}, public)
			if c.ok {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, codes.CrossSiteRequest, core.ErrorCode(err))
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// R10: source address.

func TestSourceAddr(t *testing.T) {
	for _, c := range []struct {
		remote string
		xff    []string
		hops   int
		want   string
	}{
		{"52.78.100.19:443", []string{"1.1.1.1"}, 0, "52.78.100.19"},
		{"[::ffff:52.78.100.19]:443", nil, 0, "52.78.100.19"},
		{"[2001:db8::1]:443", nil, 0, "2001:db8::1"},
		{"52.78.100.19", nil, 0, "52.78.100.19"},
		{"10.0.0.1:1", []string{"9.9.9.9, 52.78.100.19"}, 1, "52.78.100.19"},
		{"10.0.0.1:1", []string{"9.9.9.9", "52.78.100.19"}, 1, "52.78.100.19"},
		{"10.0.0.1:1", []string{"9.9.9.9, 52.78.100.19 , 10.0.0.9"}, 2, "52.78.100.19"},
		{"10.0.0.1:1", []string{"[2001:db8::2]:1234"}, 1, "2001:db8::2"},
	} {
		h := http.Header{}
		for _, x := range c.xff {
			h.Add("X-Forwarded-For", x)
		}
		got, err := SourceAddr(rtReq{header: h, remote: c.remote}, c.hops)
		require.NoError(t, err, c)
		assert.Equal(t, c.want, got.String(), c)
	}
	for _, c := range []struct {
		remote string
		xff    string
		hops   int
	}{
		{"", "", 0},
		{"pipe", "", 0},
		{"10.0.0.1:1", "", 1},
		{"10.0.0.1:1", "52.78.100.19", 2},
		{"10.0.0.1:1", "52.78.100.19, unknown", 1},
		{"10.0.0.1:1", "52.78.100.19,", 1},
	} {
		_, err := SourceAddr(rtReq{header: rtHeaders("X-Forwarded-For", c.xff), remote: c.remote}, c.hops)
		assert.Error(t, err, c)
	}
	allow := []netip.Prefix{netip.MustParsePrefix("52.78.100.19/32"), netip.MustParsePrefix("::ffff:52.78.48.0/120")}
	assert.NoError(t, checkSource(rtReq{remote: "52.78.48.223:1"}, allow, 0), "a 4in6 prefix admits the IPv4 address")
	assert.Error(t, checkSource(rtReq{remote: "52.78.49.1:1"}, allow, 0))
	assert.NoError(t, checkSource(rtReq{remote: "not an address"}, nil, 0), "no allowlist admits everyone")
}

// ---------------------------------------------------------------------------------------
// Problems.

func TestProblemFor(t *testing.T) {
	const (
		generic  = "Something went wrong on our side."
		upstream = "The payment service could not be reached; nothing was changed. Try again later."
		conflict = "The record changed concurrently; try again."
	)
	for _, c := range []struct {
		err    error
		status int
		code   string
		detail string
	}{
		{&core.Error{Code: codes.PlanUnknown}, 422, codes.PlanUnknown, "No plan with this id."},
		{&core.Error{Code: codes.CardDeclined, Detail: "한도초과"}, 402, codes.CardDeclined, "한도초과"},
		{fmt.Errorf("wrapped: %w", &core.Error{Code: codes.NotFound}), 404, codes.NotFound, "No such record for this user."},
		{&core.Error{Code: codes.Internal, Detail: "db at 10.0.0.3 down"}, 500, codes.Internal, generic},
		{&core.Error{Code: "Bad Code!", Detail: "x"}, 500, codes.Internal, generic},
		{&core.Error{Code: "future_code", Detail: "x"}, 500, codes.Internal, generic},
		{&core.Error{Code: codes.Conflict}, 409, codes.Conflict, conflict},
		{store.ErrNotFound, 404, codes.NotFound, "No such record for this user."},
		{fmt.Errorf("x: %w", store.ErrConflict), 409, codes.Conflict, conflict},
		{store.ErrDuplicate, 409, codes.Conflict, conflict},
		{&iamport.TransportError{Sent: true, Err: errors.New("reset")}, 503, codes.UpstreamUnavailable, upstream},
		{&iamport.DeclinedError{FailReason: "x"}, 402, codes.CardDeclined, "The card company declined the charge."},
		{context.DeadlineExceeded, 503, codes.UpstreamUnavailable, upstream},
		{errors.New("customer_uid bkcu0123456789abcdef0123456789abcdef leaked"), 500, codes.Internal, generic},
		{nil, 500, codes.Internal, generic},
	} {
		p := ProblemFor(c.err)
		assert.Equal(t, c.status, p.Status, "%v", c.err)
		assert.Equal(t, codes.Status(p.Code), p.Status, "%v: the table's status", c.err)
		assert.Equal(t, c.code, p.Code, "%v", c.err)
		assert.Equal(t, c.detail, p.Detail, "%v", c.err)
		assert.Equal(t, ProblemTypeBase+c.code, p.Type)
		assert.NotEmpty(t, p.Title)
	}
	p := ProblemFor(invalidInput("bad", FieldError{Field: "plan", Reason: "required"}))
	assert.Equal(t, []FieldError{{Field: "plan", Reason: "required"}}, p.Errors)
}

type rtRecorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *rtRecorder) Header() http.Header {
	if r.h == nil {
		r.h = http.Header{}
	}
	return r.h
}
func (r *rtRecorder) WriteHeader(s int)           { r.status = s }
func (r *rtRecorder) Write(p []byte) (int, error) { return r.body.Write(p) }

func TestWriteProblemBytes(t *testing.T) {
	w := &rtRecorder{}
	p := ProblemFor(&core.Error{Code: codes.CardDeclined, Detail: "잔액 <부족>"})
	p.MerchantUID = "bkc1"
	WriteProblem(w, p)
	assert.Equal(t, 402, w.status)
	assert.Equal(t, `{"type":"https://billkey.dev/problems/card_declined","title":"Card declined","status":402,"detail":"잔액 \u003c부족\u003e","code":"card_declined","merchant_uid":"bkc1"}`+"\n", w.body.String())
	assert.Equal(t, "application/problem+json", w.h.Get("Content-Type"))

	w = &rtRecorder{}
	WriteError(w, invalidInput("bad", FieldError{Field: "imp_uid", Reason: "invalid"}))
	assert.Equal(t, `{"type":"https://billkey.dev/problems/invalid_request","title":"Invalid request","status":400,"detail":"bad","code":"invalid_request","errors":[{"field":"imp_uid","reason":"invalid"}]}`+"\n", w.body.String())
}

// R13: what the routes log about a failure carries no secret or full customer_uid.
func TestLogProblemRedacts(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	const cu = "bkcu0123456789abcdef0123456789abcdef"
	const secret = "Zx9sSecretSecretSecretSecretSecret0123456789"
	err := fmt.Errorf("store: customer_uid %s token %s", cu, secret)
	logProblem(context.Background(), logger, "GET /charges", ProblemFor(err), err)
	out := buf.String()
	assert.Contains(t, out, "code=internal")
	assert.NotContains(t, out, cu)
	assert.NotContains(t, out, secret)
	assert.Contains(t, out, "bkcu…(36)")

	buf.Reset()
	logProblem(context.Background(), logger, "GET /charges", ProblemFor(store.ErrNotFound), store.ErrNotFound)
	assert.Empty(t, buf.String(), "4xx is not logged")
	assert.Equal(t, "imp_123456789012 and m-1", redactLog("imp_123456789012 and m-1"))
}
