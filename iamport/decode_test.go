package iamport

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlexInt(t *testing.T) {
	cases := []struct {
		in       string
		truncate bool
		want     int64
		null     bool
		ok       bool
	}{
		{`1000`, false, 1000, false, true},
		{`1000.0`, false, 1000, false, true},
		{`1000.000`, false, 1000, false, true},
		{`"1000"`, false, 1000, false, true},
		{`" 1000 "`, false, 1000, false, true},
		{`"1000.0"`, false, 1000, false, true},
		{`-5`, false, -5, false, true},
		{`1e3`, false, 1000, false, true},
		{`1.5e3`, false, 1500, false, true},
		{`null`, false, 0, true, true},
		{`""`, false, 0, true, true},
		{`"null"`, false, 0, true, true},
		{`0`, false, 0, false, true},
		{`9223372036854775807`, false, math.MaxInt64, false, true},
		{`9007199254740993.0`, false, 9007199254740993, false, true},
		{`1000.5`, false, 0, false, false},
		{`"1000.5"`, false, 0, false, false},
		{`1000.5`, true, 1000, false, true},
		{`1700000000.999`, true, 1700000000, false, true},
		{`1e300`, false, 0, false, false},
		{`9223372036854775808`, false, 0, false, false},
		{`"abc"`, false, 0, false, false},
		{`true`, false, 0, false, false},
		{`{}`, false, 0, false, false},
		{`[]`, false, 0, false, false},
		{`nul`, false, 0, false, false},
		{`"NaN"`, false, 0, false, false},
		{`"Infinity"`, false, 0, false, false},
		{`"-"`, false, 0, false, false},
		{`"-.5"`, true, 0, false, true},
		{``, false, 0, false, false},
	}
	for _, tc := range cases {
		v, null, err := parseFlexInt([]byte(tc.in), tc.truncate)
		if !tc.ok {
			assert.Error(t, err, "input %q", tc.in)
			continue
		}
		if assert.NoError(t, err, "input %q", tc.in) {
			assert.Equal(t, tc.want, v, "input %q", tc.in)
			assert.Equal(t, tc.null, null, "input %q", tc.in)
		}
	}
}

func TestTimestampDecoding(t *testing.T) {
	cases := map[string]Timestamp{
		`0`:                      0,
		`null`:                   0,
		`""`:                     0,
		`1700000000`:             1700000000,
		`1700000000.75`:          1700000000,
		`"1700000000"`:           1700000000,
		`"2023-11-14T22:13:20Z"`: 1700000000,
	}
	for in, want := range cases {
		var ts Timestamp = 42
		require.NoError(t, json.Unmarshal([]byte(in), &ts), in)
		assert.Equal(t, want, ts, in)
	}
	for _, bad := range []string{`"yesterday"`, `true`, `{}`} {
		var ts Timestamp
		assert.Error(t, json.Unmarshal([]byte(bad), &ts), bad)
	}

	assert.True(t, Timestamp(0).IsZero())
	assert.True(t, Timestamp(0).Time().IsZero())
	assert.False(t, Timestamp(1).IsZero())
	assert.Equal(t, time.Unix(1700000000, 0), Timestamp(1700000000).Time())
}

func TestPaymentTolerantDecoding(t *testing.T) {
	in := `{
		"imp_uid": "imp_1", "merchant_uid": "m_1", "amount": "1000.0", "cancel_amount": 0.0,
		"card_quota": "3", "card_type": "1", "sandbox": "true", "escrow": null,
		"cash_receipt_issued": 0, "currency": "KRW", "status": "paid",
		"paid_at": 1700000000.5, "failed_at": null, "started_at": "1699999999", "cancelled_at": 0,
		"custom_data": {"plan": "basic", "n": 1}, "buyer_name": null, "fail_reason": null,
		"cancel_history": [{"pg_tid": "t", "amount": "500", "cancelled_at": "1700000001", "reason": null, "cancellation_id": "c1"}],
		"customer_uid": "cu_1", "customer_uid_usage": "payment", "unknown_field": [1, 2, 3]
	}`
	var p Payment
	require.NoError(t, json.Unmarshal([]byte(in), &p))
	assert.Equal(t, "imp_1", p.ImpUID)
	assert.Equal(t, int64(1000), p.Amount)
	assert.Equal(t, int64(0), p.CancelAmount)
	assert.Equal(t, 3, p.CardQuota)
	require.NotNil(t, p.CardType)
	assert.Equal(t, 1, *p.CardType)
	require.NotNil(t, p.Sandbox)
	assert.True(t, *p.Sandbox)
	assert.False(t, p.Escrow)
	assert.False(t, p.CashReceiptIssued)
	assert.Equal(t, StatusPaid, p.Status)
	assert.Equal(t, Timestamp(1700000000), p.PaidAt)
	assert.Equal(t, Timestamp(1699999999), p.StartedAt)
	assert.True(t, p.FailedAt.IsZero())
	assert.JSONEq(t, `{"plan":"basic","n":1}`, p.CustomData)
	assert.Equal(t, "", p.BuyerName)
	require.Len(t, p.CancelHistory, 1)
	assert.Equal(t, int64(500), p.CancelHistory[0].Amount)
	assert.Equal(t, Timestamp(1700000001), p.CancelHistory[0].CancelledAt)
	assert.Equal(t, "cu_1", p.CustomerUID)
}

func TestCardTypeForms(t *testing.T) {
	cases := map[string]*int{
		`0`: intPtr(0), `1`: intPtr(1), `"0"`: intPtr(0), `"1"`: intPtr(1), `1.0`: intPtr(1),
		`"credit"`: intPtr(0), `"check"`: intPtr(1), `null`: nil, `""`: nil, `"weird"`: nil, `77`: nil,
	}
	for in, want := range cases {
		var c Customer
		require.NoError(t, json.Unmarshal([]byte(`{"customer_uid":"c","card_type":`+in+`}`), &c), in)
		assert.Equal(t, want, c.CardType, in)
	}
}

// A number that is not a whole number of won decodes, says so, and holds NotWholeAmount:
// it must never fail the decode of a charge that may have been paid.
func TestFractionalAmountsDecode(t *testing.T) {
	for _, in := range []string{
		`{"amount": 1000.5}`, `{"amount": "12.01"}`, `{"amount": 0.1}`, `{"amount": -0.5}`,
		`{"amount": 1e300}`, `{"amount": 9223372036854775808}`, `{"amount": 9007199254740993.5}`,
		`{"amount": 1000, "cancel_amount": 0.5}`,
		`{"amount": 1000, "cancel_history": [{"amount": 999.99}]}`,
	} {
		var p Payment
		require.NoError(t, json.Unmarshal([]byte(in), &p), in)
		assert.True(t, p.AmountNotWhole, in)
	}
	var p Payment
	require.NoError(t, json.Unmarshal([]byte(`{"amount": 1000.5, "cancel_amount": 3, "cancel_history": [{"amount": 3}]}`), &p))
	assert.Equal(t, NotWholeAmount, p.Amount)
	assert.Equal(t, int64(3), p.CancelAmount)
	assert.False(t, p.CancelHistory[0].AmountNotWhole)

	require.NoError(t, json.Unmarshal([]byte(`{"amount": 1000.000, "cancel_amount": "0", "cancel_history": [{"amount": 1e3}]}`), &p))
	assert.False(t, p.AmountNotWhole, "a zero fraction is whole")
	assert.Equal(t, int64(1000), p.Amount)
	assert.Equal(t, int64(1000), p.CancelHistory[0].Amount)

	var c Cancel
	require.NoError(t, json.Unmarshal([]byte(`{"amount": 0.1}`), &c))
	assert.True(t, c.AmountNotWhole)
	assert.Equal(t, NotWholeAmount, c.Amount)
	var s ScheduleResult
	require.NoError(t, json.Unmarshal([]byte(`{"amount": "9900.5"}`), &s))
	assert.True(t, s.AmountNotWhole)
	assert.Equal(t, NotWholeAmount, s.Amount)

	for _, in := range []string{`{"amount": true}`, `{"amount": {}}`, `{"amount": "abc"}`, `{"amount": "NaN"}`, `{"amount": "0x10"}`} {
		assert.Error(t, json.Unmarshal([]byte(in), &p), in)
	}
}

func TestDecodingResetsTarget(t *testing.T) {
	p := Payment{ImpUID: "old", Amount: 5, CardType: intPtr(1)}
	require.NoError(t, json.Unmarshal([]byte(`{"imp_uid":"new"}`), &p))
	assert.Equal(t, Payment{ImpUID: "new"}, p)
}

func TestOtherTypesDecode(t *testing.T) {
	var c Customer
	require.NoError(t, json.Unmarshal([]byte(`{"customer_uid":"c1","pg_provider":"kcp_billing","sandbox":1,
		"card_type":null,"inserted":"1700000000","updated":1700000000.0,"customer_name":null}`), &c))
	assert.Equal(t, Customer{CustomerUID: "c1", PGProvider: "kcp_billing", Sandbox: boolPtr(true), Inserted: 1700000000, Updated: 1700000000}, c)

	var s ScheduleResult
	require.NoError(t, json.Unmarshal([]byte(`{"customer_uid":"c1","merchant_uid":"m1","imp_uid":null,
		"schedule_at":"1700000000","executed_at":0,"amount":"9900","custom_data":null,"schedule_status":"scheduled","payment_status":null}`), &s))
	assert.Equal(t, ScheduleResult{CustomerUID: "c1", MerchantUID: "m1", ScheduleAt: 1700000000, Amount: 9900, ScheduleStatus: ScheduleScheduled}, s)

	var tok Token
	require.NoError(t, json.Unmarshal([]byte(`{"access_token":"a","now":"1700000000","expired_at":1700001800.0}`), &tok))
	assert.Equal(t, Token{AccessToken: "a", Now: 1700000000, ExpiredAt: 1700001800}, tok)

	var pp PaymentPage
	require.NoError(t, json.Unmarshal([]byte(`{"total":"2","previous":0,"next":null,"list":[{"imp_uid":"a","amount":1},{"imp_uid":"b","amount":"2"}]}`), &pp))
	assert.Equal(t, 2, pp.Total)
	assert.Equal(t, 0, pp.Next)
	require.Len(t, pp.List, 2)
	assert.Equal(t, int64(2), pp.List[1].Amount)

	var env Envelope
	require.NoError(t, json.Unmarshal([]byte(`{"code":"-1","message":null,"response":null}`), &env))
	assert.Equal(t, -1, env.Code)
	assert.Nil(t, env.Message)
	require.NoError(t, json.Unmarshal([]byte(`{"code":1,"message":"x"}`), &env))
	require.NotNil(t, env.Message)
	assert.Equal(t, "x", *env.Message)
	assert.Nil(t, env.Response)
}

func TestPaymentRoundTrip(t *testing.T) {
	p := Payment{ImpUID: "imp_1", MerchantUID: "m", Amount: 1000, CardType: intPtr(0), Status: StatusPaid,
		PaidAt: 1700000000, CustomData: `{"a":1}`, CancelHistory: []Cancel{{Amount: 10, CancelledAt: 5}}, Sandbox: boolPtr(true)}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var q Payment
	require.NoError(t, json.Unmarshal(b, &q))
	assert.Equal(t, p, q)
}

func boolPtr(v bool) *bool { return &v }
