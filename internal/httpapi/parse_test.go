package httpapi_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/httpapi"
	"github.com/billkey/billkey/internal/idrule"
)

func rtBoolp(b bool) *bool { return &b }

func TestParseCompleteBody(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
		want core.CompleteInput
	}{
		{"minimal", `{"merchant_uid":"bki1"}`, core.CompleteInput{MerchantUID: "bki1"}},
		{"rsp", `{"success":true,"imp_uid":"imp_123456789012","merchant_uid":"bki1","paid_amount":0,"custom_data":{"a":[1]},"status":"paid"}`,
			core.CompleteInput{MerchantUID: "bki1", ImpUID: "imp_123456789012", Success: rtBoolp(true)}},
		{"null imp_uid", `{"imp_uid":null,"merchant_uid":"bki1","error_code":"F1001","error_msg":"PG 모듈 미설정"}`,
			core.CompleteInput{MerchantUID: "bki1", ErrorCode: "F1001", ErrorMsg: "PG 모듈 미설정"}},
		{"stringified null", `{"imp_uid":"null","merchant_uid":"bki1"}`, core.CompleteInput{MerchantUID: "bki1"}},
		{"imp_success wins", `{"merchant_uid":"bki1","imp_success":"false","success":true}`, core.CompleteInput{MerchantUID: "bki1", Success: rtBoolp(false)}},
		{"garbage flag", `{"merchant_uid":"bki1","success":"yes","imp_success":1}`, core.CompleteInput{MerchantUID: "bki1"}},
		{"numeric code", `{"merchant_uid":"bki1","error_code":-1,"error_msg":{"x":1}}`, core.CompleteInput{MerchantUID: "bki1", ErrorCode: "-1"}},
		{"controls cleaned", `{"merchant_uid":"bki1","error_msg":"a\r\nb\u0000c\u2028"}`, core.CompleteInput{MerchantUID: "bki1", ErrorMsg: "a  b c"}},
		{"amount ignored", `{"merchant_uid":"bki1","amount":1,"customer_uid":"x"}`, core.CompleteInput{MerchantUID: "bki1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := httpapi.ParseCompleteBody([]byte(c.body))
			require.NoError(t, err)
			c.want.Source = core.SourceCallback
			assert.Equal(t, c.want, got)
		})
	}

	long, err := httpapi.ParseCompleteBody([]byte(`{"merchant_uid":"bki1","error_msg":"` + strings.Repeat("가", 600) + `"}`))
	require.NoError(t, err)
	assert.Equal(t, 500, utf8.RuneCountInString(long.ErrorMsg))

	for _, c := range []struct {
		name   string
		body   string
		status int
		fields []httpapi.FieldError
	}{
		{"empty", ``, 400, nil},
		{"array", `[]`, 400, nil},
		{"trailing", `{"merchant_uid":"bki1"} {}`, 400, nil},
		{"number id", `{"merchant_uid":7}`, 400, nil},
		{"null", `null`, 400, []httpapi.FieldError{{Field: "merchant_uid", Reason: "required"}}},
		{"long", `{"merchant_uid":"` + strings.Repeat("a", 41) + `"}`, 400, []httpapi.FieldError{{Field: "merchant_uid", Reason: "too_long"}}},
		{"slash", `{"merchant_uid":"../x"}`, 400, []httpapi.FieldError{{Field: "merchant_uid", Reason: "invalid"}}},
		{"imp_uid", `{"merchant_uid":"a","imp_uid":"imp 1"}`, 400, []httpapi.FieldError{{Field: "imp_uid", Reason: "invalid"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := httpapi.ParseCompleteBody([]byte(c.body))
			var e *core.Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Equal(t, codes.InvalidRequest, e.Code)
			assert.Equal(t, c.status, e.HTTPStatus())
			p := httpapi.ProblemFor(err)
			assert.Equal(t, c.fields, p.Errors)
		})
	}
}

func TestParseRedirectQuery(t *testing.T) {
	q := func(s string) url.Values {
		v, err := url.ParseQuery(s)
		require.NoError(t, err)
		return v
	}
	got, err := httpapi.ParseRedirectQuery(q("imp_uid=imp_1&merchant_uid=bki1&imp_success=true"))
	require.NoError(t, err)
	assert.Equal(t, core.CompleteInput{ImpUID: "imp_1", MerchantUID: "bki1", Source: core.SourceRedirect, Success: rtBoolp(true)}, got)

	got, err = httpapi.ParseRedirectQuery(q("merchant_uid=bki1&success=false&error_code=F400&error_msg=%EC%B7%A8%EC%86%8C"))
	require.NoError(t, err)
	assert.Equal(t, core.CompleteInput{MerchantUID: "bki1", Source: core.SourceRedirect, Success: rtBoolp(false), ErrorCode: "F400", ErrorMsg: "취소"}, got)

	got, err = httpapi.ParseRedirectQuery(q("merchant_uid=bki1&imp_uid=&imp_success=maybe&success=TRUE"))
	require.NoError(t, err)
	assert.Equal(t, rtBoolp(true), got.Success)
	assert.Empty(t, got.ImpUID)

	got, err = httpapi.ParseRedirectQuery(q("merchant_uid=bki1&imp_success=true&imp_success=false"))
	require.NoError(t, err)
	assert.Nil(t, got.Success, "ambiguous flags are absent")

	for raw, fields := range map[string][]httpapi.FieldError{
		"imp_uid=imp_1":                      {{Field: "merchant_uid", Reason: "required"}},
		"merchant_uid=a&merchant_uid=b":      {{Field: "merchant_uid", Reason: "duplicate"}},
		"merchant_uid=a&imp_uid=1&imp_uid=2": {{Field: "imp_uid", Reason: "duplicate"}},
		"merchant_uid=%2F%2Fevil.com":        {{Field: "merchant_uid", Reason: "invalid"}},
	} {
		_, err := httpapi.ParseRedirectQuery(q(raw))
		require.Error(t, err, raw)
		p := httpapi.ProblemFor(err)
		assert.Equal(t, codes.InvalidRequest, p.Code, raw)
		assert.Equal(t, fields, p.Errors, raw)
	}
}

func TestParseNotification(t *testing.T) {
	want := core.Notification{ImpUID: "imp_123456789012", MerchantUID: "bkc1", Status: "paid"}
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"imp_uid":"imp_123456789012","merchant_uid":"bkc1","status":"paid"}`},
		{"Application/JSON; charset=utf-8", `{"imp_uid":"imp_123456789012","merchant_uid":"bkc1","status":"paid","other":true}`},
		{"application/x-www-form-urlencoded", `imp_uid=imp_123456789012&merchant_uid=bkc1&status=paid`},
		{"application/x-www-form-urlencoded; charset=UTF-8", `imp_uid=imp_123456789012&merchant_uid=bkc1&status=paid&x=1`},
	} {
		got, err := httpapi.ParseNotification(c.ct, []byte(c.body))
		require.NoError(t, err, c.ct)
		assert.Equal(t, want, got, c.ct)
	}
	got, err := httpapi.ParseNotification("application/json", []byte(`{"imp_uid":"imp_1","merchant_uid":"order-2026.01-01_7","status":"cancelled","cancellation_id":"c-1"}`))
	require.NoError(t, err, "a payment made outside billkey is named as it is")
	assert.Equal(t, "order-2026.01-01_7", got.MerchantUID)
	assert.Equal(t, "c-1", got.CancellationID)
	// A merchant_uid billkey could never have made (nor look up) only names what is not
	// ours: the notification stands on its imp_uid.
	got, err = httpapi.ParseNotification("application/json", []byte(`{"imp_uid":"imp_1","merchant_uid":"order/2026#7","status":"paid"}`))
	require.NoError(t, err)
	assert.Equal(t, core.Notification{ImpUID: "imp_1", Status: "paid"}, got)

	for _, c := range []struct {
		ct, body string
		status   int
		code     string
	}{
		{"text/plain", `{"imp_uid":"imp_1"}`, 415, codes.UnsupportedMediaType},
		{"", `{"imp_uid":"imp_1"}`, 415, codes.UnsupportedMediaType},
		{"application/json;;", `{"imp_uid":"imp_1"}`, 415, codes.UnsupportedMediaType},
		{"application/json", `{"imp_uid":`, 400, codes.InvalidRequest},
		{"application/json", `{"merchant_uid":"a"}`, 400, codes.InvalidRequest},
		{"application/json", `{"imp_uid":"imp_1","status":"p a i d"}`, 400, codes.InvalidRequest},
		{"application/json", `{"imp_uid":"` + strings.Repeat("i", 33) + `"}`, 400, codes.InvalidRequest},
		{"application/json", `{"imp_uid":"imp_1","cancellation_id":"c 1"}`, 400, codes.InvalidRequest},
		{"application/x-www-form-urlencoded", `imp_uid=%G1`, 400, codes.InvalidRequest},
		{"application/x-www-form-urlencoded", `imp_uid=a&imp_uid=b`, 400, codes.InvalidRequest},
	} {
		_, err := httpapi.ParseNotification(c.ct, []byte(c.body))
		p := httpapi.ProblemFor(err)
		assert.Equal(t, c.status, p.Status, c.body)
		assert.Equal(t, c.code, p.Code, c.body)
	}
}

// ---------------------------------------------------------------------------------------
// Fuzz targets (R14). Seed corpora: testdata/fuzz/<Name>/.

// rtCheckParsed holds for every input a parser accepts.
func rtCheckParsed(t *testing.T, in core.CompleteInput) {
	if !idrule.MerchantUID.Valid(in.MerchantUID) {
		t.Fatalf("accepted merchant_uid %q", in.MerchantUID)
	}
	if in.ImpUID != "" && !idrule.ImpUID.Valid(in.ImpUID) {
		t.Fatalf("accepted imp_uid %q", in.ImpUID)
	}
	for _, s := range []string{in.ErrorCode, in.ErrorMsg} {
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 500 || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			t.Fatalf("hint not cleaned: %q", s)
		}
	}
}

// rtCheckParseError holds for every input a parser refuses.
func rtCheckParseError(t *testing.T, err error, statuses ...int) {
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not *core.Error: %v", err)
	}
	p := httpapi.ProblemFor(err)
	for _, s := range statuses {
		if p.Status == s {
			return
		}
	}
	t.Fatalf("status %d (%s), want one of %v", p.Status, p.Code, statuses)
}

func FuzzParseCompleteBody(f *testing.F) {
	f.Add([]byte(`{"imp_uid":"imp_123456789012","merchant_uid":"bki1","success":true}`))
	f.Add([]byte(`{"imp_uid":null,"merchant_uid":"bki1","error_code":"F1001","error_msg":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := httpapi.ParseCompleteBody(body)
		if err != nil {
			rtCheckParseError(t, err, http.StatusBadRequest)
			if in != (core.CompleteInput{}) {
				t.Fatal("partial input returned with an error")
			}
			return
		}
		if in.Source != core.SourceCallback {
			t.Fatalf("source %q", in.Source)
		}
		rtCheckParsed(t, in)
	})
}

func FuzzParseRedirectQuery(f *testing.F) {
	f.Add("imp_uid=imp_123456789012&merchant_uid=bki1&imp_success=true")
	f.Add("merchant_uid=bki1&imp_success=false&error_msg=%EC%B7%A8%EC%86%8C")
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // keeps what parses, like a server would
		in, err := httpapi.ParseRedirectQuery(q)
		if err != nil {
			rtCheckParseError(t, err, http.StatusBadRequest)
			return
		}
		if in.Source != core.SourceRedirect {
			t.Fatalf("source %q", in.Source)
		}
		rtCheckParsed(t, in)
		if in.MerchantUID != q.Get("merchant_uid") {
			t.Fatalf("merchant_uid %q from %q", in.MerchantUID, q.Get("merchant_uid"))
		}
	})
}

func FuzzParseNotification(f *testing.F) {
	f.Add("application/json", []byte(`{"imp_uid":"imp_123456789012","merchant_uid":"bkc1","status":"paid"}`))
	f.Add("application/x-www-form-urlencoded", []byte(`imp_uid=imp_123456789012&merchant_uid=bkc1&status=paid`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		n, err := httpapi.ParseNotification(contentType, body)
		if err != nil {
			rtCheckParseError(t, err, http.StatusBadRequest, http.StatusUnsupportedMediaType)
			return
		}
		if !idrule.ImpUID.Valid(n.ImpUID) {
			t.Fatalf("accepted imp_uid %q", n.ImpUID)
		}
		if len(n.MerchantUID) > 80 || strings.ContainsFunc(n.MerchantUID, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("accepted merchant_uid %q", n.MerchantUID)
		}
		if len(n.Status) > 32 || len(n.CancellationID) > 80 {
			t.Fatalf("accepted %q / %q", n.Status, n.CancellationID)
		}
	})
}
