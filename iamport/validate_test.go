package iamport

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/internal/idrule"
)

func TestValidateID(t *testing.T) {
	good := []string{"c", "cust_0123", "주문-1", strings.Repeat("a", 80), "a.b", "a..b", "A+B=C", "x@y", "..."}
	for _, s := range good {
		assert.NoError(t, ValidateCustomerUID(s), "%q", s)
	}
	bad := []string{"", strings.Repeat("a", 81), "a/b", "a?b", "a#b", "a%2Fb", `a\b`, "a b", "a\tb", "a\nb",
		"a\x00b", "a\x7fb", "a\u00a0b", "a\u200bb", "a\u3000b", "\xff", ".", ".."}
	for _, s := range bad {
		err := ValidateCustomerUID(s)
		var ve *ValidationError
		if assert.ErrorAs(t, err, &ve, "%q", s) {
			assert.Equal(t, "customer_uid", ve.Field)
			assert.ErrorIs(t, err, ErrInvalidInput)
			assert.ErrorIs(t, err, ErrNotSent)
			if s != "" {
				assert.NotContains(t, err.Error(), s, "the value must not be echoed")
			}
		}
	}
	assert.NoError(t, ValidateMerchantUID(strings.Repeat("가", 40)))
	assert.Error(t, ValidateMerchantUID(strings.Repeat("가", 41)))
	assert.NoError(t, ValidateImpUID("imp_"+strings.Repeat("1", 28)))
	assert.Error(t, ValidateImpUID("imp_"+strings.Repeat("1", 29)))
}

// The client checks identifiers and text fields by internal/idrule's rules: an imp_uid is
// letters, digits, '_' and '-' only (narrower than a path segment).
func TestValidationFollowsIDRules(t *testing.T) {
	for _, s := range []string{"imp_123456789012", "imps_123456789012", "imp-1"} {
		assert.NoError(t, ValidateImpUID(s), s)
	}
	for _, s := range []string{"imp.1", "imp@1", "imp_１", "임프_1", "imp+1"} {
		err := ValidateImpUID(s)
		assert.ErrorIs(t, err, ErrInvalidInput, s)
		assert.Equal(t, "iamport: invalid imp_uid: must be "+idrule.ImpUID.Describe(), err.Error())
	}
	assert.EqualError(t, ValidateImpUID(strings.Repeat("1", 33)), "iamport: invalid imp_uid: longer than 32 bytes")
	assert.EqualError(t, ValidateMerchantUID(""), "iamport: invalid merchant_uid: required")

	r := validAgain()
	r.BuyerName = strings.Repeat("가", idrule.BuyerName.Max+1)
	assert.EqualError(t, r.Validate(), "iamport: invalid buyer_name: longer than 16 characters")
	r = validAgain()
	r.Name = "월\u200b구독"
	assert.EqualError(t, r.Validate(), "iamport: invalid name: must be "+idrule.OrderName.Describe())
	entry := ScheduleEntry{MerchantUID: "m1", ScheduleAt: 1700000000, Amount: 1000, Name: "n", BuyerTel: strings.Repeat("1", 17)}
	assert.EqualError(t, (&ScheduleRequest{CustomerUID: "c", Schedules: []ScheduleEntry{entry}}).Validate(), "iamport: invalid schedules.buyer_tel: longer than 16 characters")
}

func validAgain() AgainRequest {
	return AgainRequest{CustomerUID: "cu_1", MerchantUID: "m_1", Amount: 9900, Name: "월 구독"}
}

func TestAgainRequestValidate(t *testing.T) {
	require.NoError(t, (&AgainRequest{CustomerUID: "c", MerchantUID: "m", Amount: 50000, Name: "n", CardQuota: 3,
		TaxFree: ptr64(0), VATAmount: ptr64(4545), Currency: "KRW", Bypass: `{"a":1}`, NoticeURL: "https://example.com/hook",
		ProductType: "digital", CashReceiptTyp: "person", BuyerName: strings.Repeat("이", 16)}).Validate())
	var nilReq *AgainRequest
	assert.Error(t, nilReq.Validate())

	cases := map[string]struct {
		mod   func(*AgainRequest)
		field string
	}{
		"no customer":      {func(r *AgainRequest) { r.CustomerUID = "" }, "customer_uid"},
		"bad customer":     {func(r *AgainRequest) { r.CustomerUID = "a/b" }, "customer_uid"},
		"long merchant":    {func(r *AgainRequest) { r.MerchantUID = strings.Repeat("m", 41) }, "merchant_uid"},
		"zero amount":      {func(r *AgainRequest) { r.Amount = 0 }, "amount"},
		"negative amount":  {func(r *AgainRequest) { r.Amount = -1 }, "amount"},
		"no name":          {func(r *AgainRequest) { r.Name = "" }, "name"},
		"long name":        {func(r *AgainRequest) { r.Name = strings.Repeat("n", 41) }, "name"},
		"name control":     {func(r *AgainRequest) { r.Name = "a\x00" }, "name"},
		"name bad utf8":    {func(r *AgainRequest) { r.Name = "\xff" }, "name"},
		"currency":         {func(r *AgainRequest) { r.Currency = "krw" }, "currency"},
		"tax free > total": {func(r *AgainRequest) { r.TaxFree = ptr64(10000) }, "tax_free"},
		"negative vat":     {func(r *AgainRequest) { r.VATAmount = ptr64(-1) }, "vat_amount"},
		"buyer_name":       {func(r *AgainRequest) { r.BuyerName = strings.Repeat("b", 17) }, "buyer_name"},
		"buyer_email":      {func(r *AgainRequest) { r.BuyerEmail = strings.Repeat("b", 65) }, "buyer_email"},
		"buyer_tel":        {func(r *AgainRequest) { r.BuyerTel = strings.Repeat("1", 17) }, "buyer_tel"},
		"buyer_addr":       {func(r *AgainRequest) { r.BuyerAddr = strings.Repeat("b", 129) }, "buyer_addr"},
		"buyer_postcode":   {func(r *AgainRequest) { r.BuyerPostcode = "123456789" }, "buyer_postcode"},
		"quota 1":          {func(r *AgainRequest) { r.CardQuota = 1 }, "card_quota"},
		"quota negative":   {func(r *AgainRequest) { r.CardQuota = -2 }, "card_quota"},
		"quota small sum":  {func(r *AgainRequest) { r.CardQuota = 3 }, "card_quota"},
		"notice_url":       {func(r *AgainRequest) { r.NoticeURL = "javascript:alert(1)" }, "notice_url"},
		"product_type":     {func(r *AgainRequest) { r.ProductType = "other" }, "product_type"},
		"product_count":    {func(r *AgainRequest) { r.ProductCount = -1 }, "product_count"},
		"bypass":           {func(r *AgainRequest) { r.Bypass = "{" }, "bypass"},
		"channel_key":      {func(r *AgainRequest) { r.ChannelKey = strings.Repeat("k", 56) }, "channel_key"},
		"cash_receipt":     {func(r *AgainRequest) { r.CashReceiptTyp = "x" }, "cash_receipt_type"},
		"custom_data utf8": {func(r *AgainRequest) { r.CustomData = "\xfe" }, "custom_data"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := validAgain()
			tc.mod(&r)
			err := r.Validate()
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.field, ve.Field)
		})
	}
}

func ptr64(v int64) *int64 { return &v }

func TestOtherRequestsValidate(t *testing.T) {
	assert.NoError(t, (&CancelRequest{ImpUID: "imp_1"}).Validate())
	assert.NoError(t, (&CancelRequest{MerchantUID: "m", Amount: 100, TaxFree: ptr64(0), Checksum: ptr64(1000), Reason: "고객 요청 재결제"}).Validate())
	assert.Error(t, (&CancelRequest{ImpUID: "imp_1", Reason: "고객 요청\n재결제"}).Validate(), "idrule.Reason is one line of text")
	assert.Error(t, (&CancelRequest{}).Validate())
	assert.Error(t, (&CancelRequest{ImpUID: "imp/1"}).Validate())
	assert.Error(t, (&CancelRequest{ImpUID: "imp_1", Amount: -1}).Validate())
	assert.Error(t, (&CancelRequest{ImpUID: "imp_1", Amount: 100, TaxFree: ptr64(101)}).Validate())
	assert.Error(t, (&CancelRequest{ImpUID: "imp_1", Checksum: ptr64(-1)}).Validate())
	assert.Error(t, (&CancelRequest{ImpUID: "imp_1", Reason: "\x01"}).Validate())

	entry := ScheduleEntry{MerchantUID: "m1", ScheduleAt: 1700000000, Amount: 1000, Name: "n"}
	assert.NoError(t, (&ScheduleRequest{CustomerUID: "c", Schedules: []ScheduleEntry{entry}}).Validate())
	assert.Error(t, (&ScheduleRequest{CustomerUID: "c"}).Validate())
	assert.Error(t, (&ScheduleRequest{CustomerUID: "c", Schedules: []ScheduleEntry{entry, entry}}).Validate())
	noAt := entry
	noAt.ScheduleAt = 0
	assert.Error(t, (&ScheduleRequest{CustomerUID: "c", Schedules: []ScheduleEntry{noAt}}).Validate())
	noName := entry
	noName.Name = ""
	assert.Error(t, (&ScheduleRequest{CustomerUID: "c", Schedules: []ScheduleEntry{noName}}).Validate())
	assert.Error(t, (&ScheduleRequest{CustomerUID: "c", CheckingAmount: -1, Schedules: []ScheduleEntry{entry}}).Validate())

	assert.NoError(t, (&UnscheduleRequest{CustomerUID: "c"}).Validate())
	assert.NoError(t, (&UnscheduleRequest{MerchantUIDs: []string{"m1", "m2"}}).Validate())
	assert.Error(t, (&UnscheduleRequest{}).Validate())
	assert.Error(t, (&UnscheduleRequest{CustomerUID: "c", MerchantUIDs: []string{"m?"}}).Validate())

	assert.NoError(t, (&FindAllRequest{MerchantUID: "m", Status: StatusPaid, Page: 2, Limit: 1000, Sorting: "-paid"}).Validate())
	assert.Error(t, (&FindAllRequest{MerchantUID: "m", Status: "canceled"}).Validate())
	assert.Error(t, (&FindAllRequest{MerchantUID: "m", Limit: 1001}).Validate())
	assert.Error(t, (&FindAllRequest{MerchantUID: "m", Page: -1}).Validate())
	assert.Error(t, (&FindAllRequest{MerchantUID: "m", Sorting: "amount"}).Validate())
	assert.Error(t, (&FindAllRequest{}).Validate())
}
