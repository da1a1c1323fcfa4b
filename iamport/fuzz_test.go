package iamport

import (
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/billkey/billkey/internal/idrule"
)

// FuzzDecodeResponse feeds arbitrary bodies, with arbitrary HTTP statuses, to the answer
// interpreter for every response type. It must never panic, must classify every failure
// as one of the package's error types, and a payment or customer it accepts must survive
// a JSON round trip unchanged.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(200, []byte(`{"code":0,"message":null,"response":{"imp_uid":"imp_1","merchant_uid":"m","amount":1000,"status":"paid","card_type":null}}`))
	f.Add(200, []byte(`{"code":1,"message":"등록되지 않은 구매자입니다.","response":null}`))
	f.Add(404, []byte(`{"code":-1,"message":"존재하지 않는 결제정보입니다.","response":null}`))
	f.Add(200, []byte(`{"code":"0","response":{"amount":"1000.0","paid_at":1700000000.5,"custom_data":{"a":[1]},"sandbox":"1"}}`))
	f.Add(502, []byte(`<html>bad gateway</html>`))
	f.Add(200, []byte(`{"code":0,"response":{"amount":1000.5}}`))
	f.Add(200, []byte(`{"code":0,"response":{"total":1,"list":[{"imp_uid":"a","cancel_history":[{"amount":"1"}]}]}}`))
	f.Add(200, []byte(`{"code":0,"response":[{"merchant_uid":"s","schedule_at":"1700000000"}]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		c := &Client{}
		cl := &call{method: "GET", endpoint: epPayment, mask: "cu_mask_me"}
		targets := []any{new(Payment), new(Customer), new([]ScheduleResult), new(ScheduleResult), new(PaymentPage), new(Token)}
		for _, out := range targets {
			err := c.interpret(cl, status, body, out)
			if err == nil {
				if status < 200 || status >= 300 {
					t.Fatalf("status %d accepted", status)
				}
				checkRoundTrip(t, out)
				continue
			}
			var ae *APIError
			var te *TransportError
			if !errors.As(err, &ae) && !errors.As(err, &te) {
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			if strings.Contains(err.Error(), "cu_mask_me") {
				t.Fatalf("unmasked customer_uid in %q", err.Error())
			}
		}
	})
}

func checkRoundTrip(t *testing.T, out any) {
	switch v := out.(type) {
	case *Payment, *Customer, *ScheduleResult:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(b, again); err != nil {
			t.Fatalf("decoding our own encoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(again)) {
			t.Fatalf("round trip changed the value:\n%#v\n%#v", v, again)
		}
	}
}

// normalize maps empty and nil slices together (omitempty is not used on every list) and
// drops the AmountNotWhole flags, which are not encoded: the amounts then hold
// NotWholeAmount, which survives the trip.
func normalize(v any) any {
	switch p := v.(type) {
	case *Payment:
		q := *p
		q.AmountNotWhole = false
		q.CancelHistory = nil
		for _, c := range p.CancelHistory {
			c.AmountNotWhole = false
			q.CancelHistory = append(q.CancelHistory, c)
		}
		return q
	case *ScheduleResult:
		q := *p
		q.AmountNotWhole = false
		return q
	}
	return v
}

var idReasons = map[string]bool{
	"required": true, "longer than 80 characters": true, "must be " + idrule.CustomerUID.Describe(): true,
}

// FuzzPathSegment checks the identifier rules and the URL builder together: any string
// that passes validation becomes exactly one path segment that decodes back to itself,
// on the configured host, with no query or fragment.
func FuzzPathSegment(f *testing.F) {
	for _, s := range []string{"cust_1", "고객 1", "a/b", "a?b=c", "..", "%2F", "a#b", "a\x00", "\xff", "a+b@c", "ｆｕｌｌ", "a\u202eb"} {
		f.Add(s)
	}
	base, err := parseBaseURL("http://127.0.0.1:9999/prefix")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateCustomerUID(s)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrNotSent) {
				t.Fatalf("validation error of the wrong kind: %T", err)
			}
			// The message is one of a fixed set: the rejected value is never echoed.
			if !idReasons[ve.Reason] || err.Error() != "iamport: invalid customer_uid: "+ve.Reason {
				t.Fatalf("unexpected validation message %q", err.Error())
			}
			return
		}
		target := base + pathCustomers + url.PathEscape(s)
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			t.Fatalf("valid id %q gives an invalid URL %q: %v", s, target, err)
		}
		u := req.URL
		if u.Host != "127.0.0.1:9999" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("id %q escaped the path: %#v", s, u)
		}
		rest, ok := strings.CutPrefix(u.Path, "/prefix/subscribe/customers/")
		if !ok || rest != s {
			t.Fatalf("id %q decoded as %q (path %q)", s, rest, u.Path)
		}
		if strings.Count(u.EscapedPath(), "/") != 4 {
			t.Fatalf("id %q spans several segments: %q", s, u.EscapedPath())
		}
	})
}

// FuzzReadNumber checks the exact decimal reader against math/big: whatever a JSON number
// is, the reader says whether it is whole and, if it fits int64, what it is.
func FuzzReadNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1000", "1000.0", "1000.5", "1e3", "1.5e3", "-12.000", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "1e-7", "0.0000000000000000001", "1000.0000000000000001",
		"12345678901234567890e-1", "1E+2", `"1000"`, `"-.5"`, "null", `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := readNumber([]byte(s))
		text := strings.TrimSpace(s)
		var js json.Number
		if text == "null" || json.Unmarshal([]byte(text), &js) != nil || strings.ContainsAny(text, `"`) {
			return // strings and malformed input: only "no panic"
		}
		if err != nil {
			t.Fatalf("%q is a JSON number but was refused: %v", s, err)
		}
		if i := strings.IndexAny(text, "eE"); i >= 0 && len(strings.TrimLeft(text[i+1:], "+-0")) > 4 {
			return // exponents math/big would take ages over
		}
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			t.Fatalf("big.Rat refuses %q", text)
		}
		switch {
		case !r.IsInt():
			if !n.frac && !n.huge {
				t.Fatalf("%q is not whole, read as %+v", text, n)
			}
		case r.Num().IsInt64():
			if n.frac || n.huge || n.v != r.Num().Int64() {
				t.Fatalf("%q is %s, read as %+v", text, r.Num(), n)
			}
		default:
			if !n.huge {
				t.Fatalf("%q is beyond int64, read as %+v", text, n)
			}
		}
	})
}

// FuzzUnquote checks the string reader against encoding/json for every string literal.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`""`, `"abc"`, `"베이직 (월간)"`, `"a\"b"`, `"\u00e9\n\t\/"`, `"\ud83d\ude00"`,
		`"\ud800"`, `"\udc00x"`, `"\ud800\u0041"`, "\"\xff\"", `"\u12"`, `"a\`, `"\x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := readString([]byte(s))
		var want string
		jerr := json.Unmarshal([]byte(s), &want)
		if len(strings.TrimSpace(s)) == 0 || strings.TrimSpace(s)[0] != '"' {
			return
		}
		switch {
		case jerr == nil && err != nil:
			t.Fatalf("%q: encoding/json reads %q, readString fails: %v", s, want, err)
		case jerr == nil && got != want:
			t.Fatalf("%q: encoding/json reads %q, readString %q", s, want, got)
		case jerr != nil && err == nil && json.Valid([]byte(s)):
			t.Fatalf("%q: valid but encoding/json fails: %v", s, jerr)
		}
	})
}
