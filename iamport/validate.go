package iamport

import (
	"encoding/json"
	"net/url"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/billkey/billkey/internal/idrule"
)

// Limits of fields that no rule of internal/idrule covers.
const (
	maxChannelKeyLen = 55
	maxFreeTextLen   = 64 << 10 // custom_data, bypass: a generous bound on free text
	maxSchedules     = 1000
	minQuotaAmount   = 50000 // instalments only for amounts of at least 50,000 KRW
)

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

// checkRule checks s against rule r, naming field in the error (r.Name when field is "").
// An empty s is an error only when required. The reason never repeats the value.
func checkRule(field string, r idrule.Rule, s string, required bool) error {
	if field == "" {
		field = r.Name
	}
	switch r.Check(s) {
	case "":
		return nil
	case idrule.Required:
		if !required {
			return nil
		}
		return invalid(field, "required")
	case idrule.TooLong:
		unit := " bytes"
		if r.Charset == idrule.Segment || r.Charset == idrule.Text {
			unit = " characters"
		}
		return invalid(field, "longer than "+strconv.Itoa(r.Max)+unit)
	}
	return invalid(field, "must be "+r.Describe())
}

// ValidateCustomerUID checks a customer_uid the way the client does before any request
// (internal/idrule's CustomerUID rule): 1..80 characters of valid UTF-8 without '/', '?',
// '#', '%', '\', spaces or control characters, and not "." or "..". The error is a
// *ValidationError.
func ValidateCustomerUID(s string) error { return checkRule("", idrule.CustomerUID, s, true) }

// ValidateMerchantUID checks a merchant_uid (1..40 characters, same character rules as
// ValidateCustomerUID).
func ValidateMerchantUID(s string) error { return checkRule("", idrule.MerchantUID, s, true) }

// ValidateImpUID checks an imp_uid: 1..32 letters, digits, '_' and '-' (real imp_uids are
// "imp_" and 12 digits).
func ValidateImpUID(s string) error { return checkRule("", idrule.ImpUID, s, true) }

// validateText checks free text no rule covers (custom_data, bypass, browser_ip,
// promotion_id, channel_key, notice_url): valid UTF-8 (encoding/json would silently
// replace bad bytes), no control characters other than tab/newline when multiline, at
// most max characters. Empty text passes.
func validateText(field, s string, max int, multiline bool) error {
	if s == "" {
		return nil
	}
	if !utf8.ValidString(s) {
		return invalid(field, "not valid UTF-8")
	}
	if len(s) > 4*max || utf8.RuneCountInString(s) > max {
		return invalid(field, "longer than "+strconv.Itoa(max)+" characters")
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return invalid(field, "contains a control character")
		}
	}
	return nil
}

func validateJSONText(field, s string) error {
	if s == "" {
		return nil
	}
	if err := validateText(field, s, maxFreeTextLen, true); err != nil {
		return err
	}
	if !json.Valid([]byte(s)) {
		return invalid(field, "not valid JSON")
	}
	return nil
}

func validateURL(field, s string) error {
	if s == "" {
		return nil
	}
	if err := validateText(field, s, 2048, false); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(field, "not an absolute http(s) URL")
	}
	return nil
}

func validateCurrency(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) != 3 {
		return invalid(field, "not a 3-letter currency code")
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return invalid(field, "not a 3-letter currency code")
		}
	}
	return nil
}

// validatePart checks an optional part (tax_free, vat_amount) of a total amount.
func validatePart(field string, v *int64, total int64) error {
	if v == nil {
		return nil
	}
	if *v < 0 {
		return invalid(field, "negative")
	}
	if total > 0 && *v > total {
		return invalid(field, "greater than amount")
	}
	return nil
}

type buyer struct{ name, email, tel, addr, postcode string }

// validate checks the buyer fields; prefix names them inside a list ("schedules.").
func (b buyer) validate(prefix string) error {
	for _, f := range []struct {
		rule idrule.Rule
		v    string
	}{
		{idrule.BuyerName, b.name},
		{idrule.BuyerEmail, b.email},
		{idrule.BuyerTel, b.tel},
		{idrule.BuyerAddr, b.addr},
		{idrule.BuyerPostcode, b.postcode},
	} {
		if err := checkRule(prefix+f.rule.Name, f.rule, f.v, false); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the request the way Again does before sending it.
func (r *AgainRequest) Validate() error {
	if r == nil {
		return invalid("request", "nil")
	}
	if err := ValidateCustomerUID(r.CustomerUID); err != nil {
		return err
	}
	if err := ValidateMerchantUID(r.MerchantUID); err != nil {
		return err
	}
	if r.Amount <= 0 {
		return invalid("amount", "must be positive")
	}
	if err := checkRule("", idrule.OrderName, r.Name, true); err != nil {
		return err
	}
	if err := validateCurrency("currency", r.Currency); err != nil {
		return err
	}
	if err := validatePart("tax_free", r.TaxFree, r.Amount); err != nil {
		return err
	}
	if err := validatePart("vat_amount", r.VATAmount, r.Amount); err != nil {
		return err
	}
	if err := (buyer{r.BuyerName, r.BuyerEmail, r.BuyerTel, r.BuyerAddr, r.BuyerPostcode}).validate(""); err != nil {
		return err
	}
	switch {
	case r.CardQuota < 0 || r.CardQuota == 1:
		return invalid("card_quota", "must be 0 (lump sum) or at least 2")
	case r.CardQuota >= 2 && r.Amount < minQuotaAmount:
		return invalid("card_quota", "instalments need an amount of at least 50000")
	}
	if err := validateText("custom_data", r.CustomData, maxFreeTextLen, true); err != nil {
		return err
	}
	if err := validateURL("notice_url", r.NoticeURL); err != nil {
		return err
	}
	if err := validateText("browser_ip", r.BrowserIP, 64, false); err != nil {
		return err
	}
	switch r.ProductType {
	case "", "real", "digital":
	default:
		return invalid("product_type", "must be real or digital")
	}
	if r.ProductCount < 0 {
		return invalid("product_count", "negative")
	}
	if err := validateJSONText("bypass", r.Bypass); err != nil {
		return err
	}
	if err := validateText("promotion_id", r.PromotionID, 255, false); err != nil {
		return err
	}
	if err := validateText("channel_key", r.ChannelKey, maxChannelKeyLen, false); err != nil {
		return err
	}
	switch r.CashReceiptTyp {
	case "", "person", "company", "anonymous":
	default:
		return invalid("cash_receipt_type", "must be person, company or anonymous")
	}
	return nil
}

// Validate checks the request the way CancelPayment does before sending it.
func (r *CancelRequest) Validate() error {
	if r == nil {
		return invalid("request", "nil")
	}
	if r.ImpUID == "" && r.MerchantUID == "" {
		return invalid("imp_uid", "imp_uid or merchant_uid is required")
	}
	if r.ImpUID != "" {
		if err := ValidateImpUID(r.ImpUID); err != nil {
			return err
		}
	}
	if r.MerchantUID != "" {
		if err := ValidateMerchantUID(r.MerchantUID); err != nil {
			return err
		}
	}
	if r.Amount < 0 {
		return invalid("amount", "negative")
	}
	if err := validatePart("tax_free", r.TaxFree, r.Amount); err != nil {
		return err
	}
	if err := validatePart("vat_amount", r.VATAmount, r.Amount); err != nil {
		return err
	}
	if r.Checksum != nil && *r.Checksum < 0 {
		return invalid("checksum", "negative")
	}
	return checkRule("", idrule.Reason, r.Reason, false)
}

// Validate checks the request the way Schedule does before sending it.
func (r *ScheduleRequest) Validate() error {
	if r == nil {
		return invalid("request", "nil")
	}
	if err := ValidateCustomerUID(r.CustomerUID); err != nil {
		return err
	}
	if r.CheckingAmount < 0 {
		return invalid("checking_amount", "negative")
	}
	if len(r.Schedules) == 0 {
		return invalid("schedules", "required")
	}
	if len(r.Schedules) > maxSchedules {
		return invalid("schedules", "more than "+strconv.Itoa(maxSchedules))
	}
	seen := make(map[string]struct{}, len(r.Schedules))
	for i := range r.Schedules {
		e := &r.Schedules[i]
		if err := ValidateMerchantUID(e.MerchantUID); err != nil {
			return err
		}
		if _, dup := seen[e.MerchantUID]; dup {
			return invalid("schedules.merchant_uid", "repeated in one request")
		}
		seen[e.MerchantUID] = struct{}{}
		if e.ScheduleAt <= 0 {
			return invalid("schedules.schedule_at", "required")
		}
		if e.Amount <= 0 {
			return invalid("schedules.amount", "must be positive")
		}
		if err := checkRule("schedules.name", idrule.OrderName, e.Name, true); err != nil {
			return err
		}
		if err := validateCurrency("schedules.currency", e.Currency); err != nil {
			return err
		}
		if err := validatePart("schedules.tax_free", e.TaxFree, e.Amount); err != nil {
			return err
		}
		if err := (buyer{e.BuyerName, e.BuyerEmail, e.BuyerTel, e.BuyerAddr, e.BuyerPostcode}).validate("schedules."); err != nil {
			return err
		}
		if err := validateText("schedules.custom_data", e.CustomData, maxFreeTextLen, true); err != nil {
			return err
		}
		if err := validateURL("schedules.notice_url", e.NoticeURL); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the request the way Unschedule does before sending it.
func (r *UnscheduleRequest) Validate() error {
	if r == nil {
		return invalid("request", "nil")
	}
	if r.CustomerUID == "" && len(r.MerchantUIDs) == 0 {
		return invalid("customer_uid", "customer_uid or merchant_uid is required")
	}
	if r.CustomerUID != "" {
		if err := ValidateCustomerUID(r.CustomerUID); err != nil {
			return err
		}
	}
	if len(r.MerchantUIDs) > maxSchedules {
		return invalid("merchant_uid", "more than "+strconv.Itoa(maxSchedules))
	}
	for _, m := range r.MerchantUIDs {
		if err := ValidateMerchantUID(m); err != nil {
			return err
		}
	}
	return nil
}

func validateStatus(field string, s PaymentStatus) error {
	switch s {
	case "", StatusReady, StatusPaid, StatusFailed, StatusCancelled:
		return nil
	}
	return invalid(field, "unknown payment status")
}

// Validate checks the request the way FindAllPayments does before sending it.
func (r *FindAllRequest) Validate() error {
	if r == nil {
		return invalid("request", "nil")
	}
	if err := ValidateMerchantUID(r.MerchantUID); err != nil {
		return err
	}
	if err := validateStatus("payment_status", r.Status); err != nil {
		return err
	}
	if r.Page < 0 {
		return invalid("page", "negative")
	}
	if r.Limit < 0 || r.Limit > 1000 {
		return invalid("limit", "must be 0 (server default) or 1..1000")
	}
	return validateSorting(r.Sorting)
}

func validateSorting(s string) error {
	switch s {
	case "", "-started", "started", "-paid", "paid", "-updated", "updated":
		return nil
	}
	return invalid("sorting", "unknown sort order")
}
