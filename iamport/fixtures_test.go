package iamport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Real-shaped answers under testdata/: every key a real body has, every nullable null.
// The *_2023 bodies are shaped like bodies captured from live accounts between 2022 and
// 2024 (no sandbox key at all); the *_2026 ones carry every key of the current
// specification.

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// serveFixture answers every API call with body.
func serveFixture(t *testing.T, body []byte) *Client {
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	})
	return newStubClient(t, s)
}

// The again answer of 2023: paid, no sandbox key, nullables null.
func TestFixtureAgainPaid2023(t *testing.T) {
	c := serveFixture(t, fixture(t, "again_paid_2023.json"))
	p, err := c.Again(context.Background(), AgainRequest{
		CustomerUID: "bkcu3f9a0c1d2e4b5a6978877665544332", MerchantUID: "bkc0k3x9q2m1a7d", Amount: 9900, Name: "베이직 (월간)",
	})
	require.NoError(t, err)
	assert.Equal(t, Payment{
		ImpUID: "imp_401234567890", MerchantUID: "bkc0k3x9q2m1a7d", PayMethod: "card", Channel: "api",
		PGProvider: "kcp_billing", PGTID: "23111412345678", PGID: "A52CY", ApplyNum: "30017834",
		CardCode: "361", CardName: "BC카드", CardNumber: "411111******1111", CardType: intPtr(0),
		Name: "베이직 (월간)", Amount: 9900, Currency: "KRW", UserAgent: "sorry_not_supported_anymore",
		Status: StatusPaid, StartedAt: 1700000121, PaidAt: 1700000123,
		ReceiptURL:    "https://admin8.kcp.co.kr/assist/bill.BillActionNew.do?cmd=card_bill&tno=23111412345678&order_no=imp_401234567890&trade_mony=9900",
		CancelHistory: []Cancel{}, CustomerUID: "bkcu3f9a0c1d2e4b5a6978877665544332", CustomerUIDUsage: UsagePayment,
	}, *p)
	assert.Nil(t, p.Sandbox, "no sandbox key: nothing is known, which is not false")
}

// The current specification's payment: every key, sandbox false.
func TestFixturePayment2026(t *testing.T) {
	c := serveFixture(t, fixture(t, "payment_2026.json"))
	p, err := c.GetPayment(context.Background(), "imp_401234567890", false)
	require.NoError(t, err)
	require.NotNil(t, p.Sandbox)
	assert.False(t, *p.Sandbox)
	assert.Equal(t, StatusPaid, p.Status)
	assert.Equal(t, int64(9900), p.Amount)
	assert.False(t, p.AmountNotWhole)
	assert.Empty(t, p.CardIssuerCode)
	assert.Empty(t, p.FailReason)
}

// A paid answer whose amount is not a whole number decodes: Again reports a mismatch
// (matching ErrOutcomeUnknown, carrying the payment), never a decoding failure.
func TestFixtureAgainFractional(t *testing.T) {
	c := serveFixture(t, fixture(t, "again_fractional_2023.json"))
	_, err := c.Again(context.Background(), AgainRequest{CustomerUID: "bkcu3f9a0c1d2e4b5a6978877665544332", MerchantUID: "bkc0k3x9q2m1a7d", Amount: 9900, Name: "n"})
	var me *MismatchError
	require.ErrorAs(t, err, &me)
	assert.Contains(t, me.Reason, "whole number")
	require.NotNil(t, me.Payment)
	assert.True(t, me.Payment.AmountNotWhole)
	assert.Equal(t, NotWholeAmount, me.Payment.Amount)
	assert.Equal(t, StatusPaid, me.Payment.Status)
	var te *TransportError
	assert.False(t, errors.As(err, &te), "not a transport (decoding) error")

	p, err := c.FindPayment(context.Background(), "bkc0k3x9q2m1a7d", "")
	require.NoError(t, err, "a lookup decodes it too")
	assert.True(t, p.AmountNotWhole)
}

func TestFixtureCancelledFractional(t *testing.T) {
	c := serveFixture(t, fixture(t, "payment_cancelled_fractional_2023.json"))
	p, err := c.GetPayment(context.Background(), "imp_401234567890", false)
	require.NoError(t, err)
	assert.True(t, p.AmountNotWhole)
	assert.Equal(t, int64(9900), p.Amount, "amount itself is whole")
	assert.Equal(t, NotWholeAmount, p.CancelAmount)
	require.Len(t, p.CancelHistory, 1)
	assert.True(t, p.CancelHistory[0].AmountNotWhole)
	assert.Equal(t, NotWholeAmount, p.CancelHistory[0].Amount)
	assert.Equal(t, "고객 요청", p.CancelHistory[0].Reason)
	assert.Empty(t, p.CancelHistory[0].ReceiptURL)
}

func TestFixtureCustomers(t *testing.T) {
	c := serveFixture(t, fixture(t, "customer_2023.json"))
	cu, err := c.GetCustomer(context.Background(), "bkcu3f9a0c1d2e4b5a6978877665544332")
	require.NoError(t, err)
	assert.Equal(t, Customer{
		CustomerUID: "bkcu3f9a0c1d2e4b5a6978877665544332", PGProvider: "kcp_billing", PGID: "A52CY",
		CardName: "BC카드", CardCode: "361", CardNumber: "411111******1111", CardType: intPtr(0),
		Inserted: 1700000000, Updated: 1700000000,
	}, *cu)
	assert.Nil(t, cu.Sandbox)

	c = serveFixture(t, fixture(t, "customer_sandbox_2026.json"))
	cu, err = c.GetCustomer(context.Background(), "bkcu3f9a0c1d2e4b5a6978877665544332")
	require.NoError(t, err)
	require.NotNil(t, cu.Sandbox)
	assert.True(t, *cu.Sandbox)
	assert.Equal(t, "T0000", cu.PGID)
}

// Every fixture holds exactly the keys of the specification's definition, less the ones
// that real bodies of its year leave out.
func TestFixturesUseSpecKeys(t *testing.T) {
	spec := specKeys(t)
	for name, def := range map[string]string{
		"again_paid_2023.json":                   "PaymentAnnotation",
		"payment_2026.json":                      "PaymentAnnotation",
		"again_fractional_2023.json":             "PaymentAnnotation",
		"payment_cancelled_fractional_2023.json": "PaymentAnnotation",
		"customer_2023.json":                     "CustomerAnnotation",
		"customer_sandbox_2026.json":             "CustomerAnnotation",
	} {
		var env struct {
			Response map[string]json.RawMessage `json:"response"`
		}
		require.NoError(t, json.Unmarshal(fixture(t, name), &env), name)
		for k := range env.Response {
			assert.Contains(t, spec[def], k, "%s: %s is not a key of %s", name, k, def)
		}
		if strings.HasSuffix(name, "_2026.json") {
			assert.Len(t, env.Response, len(spec[def]), "%s carries every key", name)
		} else {
			assert.NotContains(t, env.Response, "sandbox", name)
		}
	}
}

// specKeys reads the property names of the specification's definitions.
func specKeys(t *testing.T) map[string][]string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(fixture(t, "v1_keys.json"), &m))
	out := map[string][]string{}
	for k, v := range m {
		var keys []string
		if json.Unmarshal(v, &keys) == nil {
			out[k] = keys
		}
	}
	return out
}

// Every key the client reads is a key of the specification, and every field of an
// exported type has the json name its wire shape reads (the exported types' tags are
// what Marshal writes, the wire shapes' what decoding reads: they must agree).
func TestWireKeysMatchSpecAndTypes(t *testing.T) {
	spec := specKeys(t)
	for _, tc := range []struct {
		def          string
		public, wire any
	}{
		{"PaymentAnnotation", Payment{}, paymentWire{}},
		{"PaymentCancelAnnotation", Cancel{}, cancelWire{}},
		{"CustomerAnnotation", Customer{}, customerWire{}},
		{"ScheduleResultAnnotation", ScheduleResult{}, scheduleWire{}},
		{"AuthAnnotation", Token{}, tokenWire{}},
		{"PagedPaymentAnnotation", PaymentPage{}, pageWire{}},
	} {
		wire := jsonNames(reflect.TypeOf(tc.wire))
		for field, name := range wire {
			assert.Contains(t, spec[tc.def], name, "%s.%s reads %q, not a key of %s", reflect.TypeOf(tc.wire).Name(), field, name, tc.def)
		}
		public := jsonNames(reflect.TypeOf(tc.public))
		assert.Equal(t, wire, public, "%s and its wire shape name their fields alike", reflect.TypeOf(tc.public).Name())
	}
}

// jsonNames maps each field's Go name to its json name, skipping json:"-".
func jsonNames(t reflect.Type) map[string]string {
	out := map[string]string{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		out[f.Name] = name
	}
	return out
}
