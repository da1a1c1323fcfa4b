package iamporttest

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

// specKeys reads the property names of iamport's V1 definitions, kept beside the client's
// fixtures.
func specKeys(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../testdata/v1_keys.json")
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	out := map[string][]string{}
	for k, v := range m {
		var keys []string
		if json.Unmarshal(v, &keys) == nil {
			out[k] = keys
		}
	}
	return out
}

// keysOf lists the keys of a JSON object.
func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func objectOf(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}

// Every answer carries exactly the keys of its definition in the specification.
func TestAnswersCarryEverySpecKey(t *testing.T) {
	spec := specKeys(t)
	start := time.Unix(1700000000, 0)
	e := newAPIEnv(t, WithClock(start))
	tok := e.call(http.MethodPost, "/users/getToken", map[string]string{"imp_key": Key, "imp_secret": Secret})
	assert.Equal(t, spec["AuthAnnotation"], keysOf(t, tok.response))
	e.login()
	e.issue("c1", CardOK)

	r := e.again("c1", "o1", 9900)
	require.Equal(t, 0, r.code, r.msg())
	assert.Equal(t, spec["PaymentAnnotation"], keysOf(t, r.response))
	p := as[iamport.Payment](t, r)

	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "amount": 900, "reason": "부분 취소"})
	require.Equal(t, 0, r.code, r.msg())
	assert.Equal(t, spec["PaymentAnnotation"], keysOf(t, r.response))
	var hist []json.RawMessage
	require.NoError(t, json.Unmarshal(objectOf(t, r.response)["cancel_history"], &hist))
	require.Len(t, hist, 1)
	assert.Equal(t, spec["PaymentCancelAnnotation"], keysOf(t, hist[0]))

	r = e.call(http.MethodGet, "/subscribe/customers/c1", nil)
	assert.Equal(t, spec["CustomerAnnotation"], keysOf(t, r.response))

	r = e.call(http.MethodGet, "/payments/findAll/o1", nil)
	assert.Equal(t, spec["PagedPaymentAnnotation"], keysOf(t, r.response))

	r = e.call(http.MethodPost, "/subscribe/payments/schedule", map[string]any{
		"customer_uid": "c1",
		"schedules":    []map[string]any{{"merchant_uid": "s1", "schedule_at": start.Add(time.Hour).Unix(), "amount": 9900, "name": "월 구독"}},
	})
	require.Equal(t, 0, r.code, r.msg())
	var list []json.RawMessage
	require.NoError(t, json.Unmarshal(r.response, &list))
	require.Len(t, list, 1)
	assert.Equal(t, spec["ScheduleResultAnnotation"], keysOf(t, list[0]))
}

// What a real answer leaves empty is null or 0, not "" or absent.
func TestAnswersWriteNullsAsRealOnesDo(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	r := e.again("c1", "o1", 9900)
	m := objectOf(t, r.response)
	for _, k := range []string{
		"bank_code", "bank_name", "buyer_name", "buyer_email", "buyer_tel", "buyer_addr", "buyer_postcode",
		"cancel_reason", "fail_reason", "custom_data", "emb_pg_provider", "vbank_code", "vbank_name",
		"vbank_num", "vbank_holder", "card_issuer_code", "card_issuer_name", "card_publisher_code",
		"card_publisher_name", "promotion",
	} {
		assert.Equal(t, "null", string(m[k]), k)
	}
	for _, k := range []string{"vbank_date", "vbank_issued_at", "failed_at", "cancelled_at", "cancel_amount", "card_quota"} {
		assert.Equal(t, "0", string(m[k]), k)
	}
	for _, k := range []string{"cancel_history", "cancel_receipt_urls", "deposit_history"} {
		assert.Equal(t, "[]", string(m[k]), k)
	}
	assert.Equal(t, `"sorry_not_supported_anymore"`, string(m["user_agent"]))
	assert.Equal(t, "false", string(m["sandbox"]))

	// A declined charge: no approval, no receipt.
	e.issue("c2", CardDeclined)
	m = objectOf(t, e.again("c2", "o2", 9900).response)
	for _, k := range []string{"apply_num", "receipt_url"} {
		assert.Equal(t, "null", string(m[k]), k)
	}
	assert.Equal(t, "0", string(m["paid_at"]))
}

func TestWithoutSandboxField(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		e := newAPIEnv(t, WithoutSandboxField(), WithSandbox(sandbox))
		e.login()
		res := e.issue("c1", CardOK)
		assert.Nil(t, res.Payment.Sandbox)
		r := e.again("c1", "o1", 1000)
		assert.NotContains(t, objectOf(t, r.response), "sandbox")
		p := as[iamport.Payment](t, r)
		assert.Nil(t, p.Sandbox, "absent, not false")
		r = e.call(http.MethodGet, "/subscribe/customers/c1", nil)
		assert.NotContains(t, objectOf(t, r.response), "sandbox")
		c, _ := e.srv.Customer("c1")
		assert.Nil(t, c.Sandbox)

		// Being a sandbox still decides what include_sandbox hides.
		r = e.call(http.MethodGet, "/payments/"+p.ImpUID, nil)
		if sandbox {
			assert.Equal(t, http.StatusNotFound, r.status)
		} else {
			assert.Equal(t, http.StatusOK, r.status)
		}
	}
}

func TestPGID(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		pg   string
		want string
	}{
		{"live default", nil, "kcp_billing", LiveSiteCode},
		{"sandbox default", []Option{WithSandbox(true)}, "kcp_billing", TestSiteCode},
		{"configured", []Option{WithPGID("IP3AB")}, "kcp_billing", "IP3AB"},
		{"configured sandbox", []Option{WithSandbox(true), WithPGID("BA001")}, "kcp_billing", "BA001"},
		{"site in pg wins", []Option{WithPGID("IP3AB")}, "kcp_billing.SITE9", "SITE9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAPIEnv(t, tc.opts...)
			e.login()
			res, err := e.srv.IssueBillingKey(IssueRequest{PG: tc.pg, MerchantUID: "i1", CustomerUID: "c1", CardNumber: CardOK})
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.Payment.PGID)
			c, _ := e.srv.Customer("c1")
			assert.Equal(t, tc.want, c.PGID)
			p := as[iamport.Payment](t, e.again("c1", "o1", 1000))
			assert.Equal(t, tc.want, p.PGID, "charges carry the key's pg_id")
		})
	}
}

// An amount that is not whole can be put into answers: by fault, for a new charge, or for
// a stored payment. The fake books the whole amount.
func TestAmountJSON(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	e.srv.Inject(EPAgain, Fault{AmountJSON: "9900.5"})
	r := e.again("c1", "o1", 9900)
	require.Equal(t, 0, r.code)
	assert.Equal(t, "9900.5", string(objectOf(t, r.response)["amount"]))
	p := as[iamport.Payment](t, r)
	assert.True(t, p.AmountNotWhole)

	stored, _ := e.srv.Payment(p.ImpUID)
	assert.True(t, stored.AmountNotWhole, "the fake reports what it answers")
	assert.Equal(t, iamport.NotWholeAmount, stored.Amount)
	r = e.call(http.MethodGet, "/payments/find/o1", nil)
	assert.Equal(t, "9900.5", string(objectOf(t, r.response)["amount"]), "later answers show it too")

	// The cancellable balance is the whole amount.
	r = e.call(http.MethodPost, "/payments/cancel", map[string]any{"imp_uid": p.ImpUID, "checksum": 9900})
	require.Equal(t, 0, r.code, r.msg())

	require.NoError(t, e.srv.SetAmountJSON(p.ImpUID, ""))
	r = e.call(http.MethodGet, "/payments/find/o1", nil)
	assert.Equal(t, "9900", string(objectOf(t, r.response)["amount"]))
	require.NoError(t, e.srv.SetAmountJSON(p.ImpUID, "1e3"))
	assert.Error(t, e.srv.SetAmountJSON(p.ImpUID, "abc"))
	assert.Error(t, e.srv.SetAmountJSON("imps_000000000000", "1.5"))
}

func TestPutCustomer(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	require.Error(t, e.srv.PutCustomer(iamport.Customer{CustomerUID: "c1"}, CardRefused))
	require.Error(t, e.srv.PutCustomer(iamport.Customer{}, CardOK))
	require.NoError(t, e.srv.PutCustomer(iamport.Customer{CustomerUID: "c1", PGProvider: "kcp_billing", CardName: "x"}, CardDeclined))
	p := as[iamport.Payment](t, e.again("c1", "o1", 1000))
	assert.Equal(t, iamport.StatusFailed, p.Status, "the card behind the key decides")
}
