package iamport

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Tolerant decoding. iamport and the programs imitating it disagree on a few JSON types:
// amounts arrive as 1000, 1000.0 or "1000"; card_type as 0, "0" or null; timestamps as
// 0, null, 1700000000.5 or "1700000000"; custom_data as a string or as the object it
// encodes. Everything funnels through parseFlexInt so each conversion exists once.

// errFraction rejects amounts with a fractional part: KRW has no minor unit.
var errFraction = errors.New("number has a fractional part")

// maxExactFloat is the largest integer a float64 holds exactly (2^53).
const maxExactFloat = 1 << 53

// parseFlexInt reads a JSON value holding an integer written as a number or a string.
// null and "" give (0, true, nil). With truncate, a fractional part is dropped (for
// timestamps); without it, a fractional part is an error.
func parseFlexInt(data []byte, truncate bool) (v int64, null bool, err error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return 0, false, errors.New("empty value")
	}
	switch data[0] {
	case 'n':
		if string(data) == "null" {
			return 0, true, nil
		}
		return 0, false, errors.New("invalid literal")
	case '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return 0, false, err
		}
		s = strings.TrimSpace(s)
		if s == "" || s == "null" {
			return 0, true, nil
		}
		v, err := parseIntText(s, truncate)
		return v, false, err
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		v, err := parseIntText(string(data), truncate)
		return v, false, err
	}
	return 0, false, errors.New("not a number")
}

// parseIntText parses decimal text: an integer, an integer with a ".000" tail, or (with
// an exponent or other fraction) a float that is integral and exactly representable.
func parseIntText(s string, truncate bool) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	// "1000.0", "1000.00": integer part plus a zero fraction, exact at any size.
	if i := strings.IndexByte(s, '.'); i > 0 && strings.IndexAny(s, "eE") < 0 {
		intPart, frac := s[:i], s[i+1:]
		if frac != "" && isDigits(frac) && (intPart != "-") {
			if strings.Trim(frac, "0") == "" || truncate {
				if v, err := strconv.ParseInt(intPart, 10, 64); err == nil {
					return v, nil
				}
			}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("not a number")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxExactFloat {
		return 0, errors.New("number out of range")
	}
	if t := math.Trunc(f); t != f {
		if !truncate {
			return 0, errFraction
		}
		f = t
	}
	return int64(f), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// flexInt64 decodes an integral amount written as a number or a string.
type flexInt64 int64

func (f *flexInt64) UnmarshalJSON(data []byte) error {
	v, _, err := parseFlexInt(data, false)
	if err != nil {
		return err
	}
	*f = flexInt64(v)
	return nil
}

// flexInt decodes a small integer (card_quota, page numbers) written as a number or a string.
type flexInt int

func (f *flexInt) UnmarshalJSON(data []byte) error {
	v, _, err := parseFlexInt(data, false)
	if err != nil {
		return err
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return errors.New("number out of range")
	}
	*f = flexInt(v)
	return nil
}

// flexCardType decodes card_type: 0/1 as number or string, "credit"/"check", or null.
// An unknown value decodes as nil (unknown) rather than failing the whole object.
type flexCardType struct{ v *int }

func (f *flexCardType) UnmarshalJSON(data []byte) error {
	f.v = nil
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "credit":
			f.v = intPtr(0)
			return nil
		case "check", "debit":
			f.v = intPtr(1)
			return nil
		}
	}
	v, null, err := parseFlexInt(data, false)
	if err != nil || null || v < 0 || v > 9 {
		return nil // unknown kind of card: not a reason to reject the payment
	}
	f.v = intPtr(int(v))
	return nil
}

func intPtr(v int) *int { return &v }

// flexBool decodes true/false written as a boolean, 0/1, or "true"/"false"/"1"/"0"/"Y"/"N".
// null decodes as false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	s := string(data)
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		s = strings.ToLower(strings.TrimSpace(s))
	}
	switch s {
	case "true", "1", "y":
		*f = true
	case "false", "0", "n", "", "null":
		*f = false
	default:
		return errors.New("not a boolean")
	}
	return nil
}

// flexString decodes a string, keeping null as "" and other JSON values (numbers,
// objects, arrays) as their compact JSON text: custom_data sometimes arrives as the
// object it encodes.
type flexString string

func (f *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return errors.New("empty value")
	}
	switch data[0] {
	case '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	case 'n':
		if string(data) == "null" {
			*f = ""
			return nil
		}
	}
	if !json.Valid(data) {
		return errors.New("invalid JSON value")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return err
	}
	*f = flexString(buf.String())
	return nil
}

// UnmarshalJSON accepts a unix time in seconds as an integer, a float (fraction dropped),
// a numeric string or an RFC 3339 string; 0, null and "" mean "not set".
func (t *Timestamp) UnmarshalJSON(data []byte) error {
	v, _, err := parseFlexInt(data, true)
	if err != nil {
		data = bytes.TrimSpace(data)
		if len(data) > 2 && data[0] == '"' && utf8.Valid(data) {
			var s string
			if json.Unmarshal(data, &s) == nil {
				if tm, perr := time.Parse(time.RFC3339, strings.TrimSpace(s)); perr == nil {
					*t = Timestamp(tm.Unix())
					return nil
				}
			}
		}
		return err
	}
	*t = Timestamp(v)
	return nil
}

// Time returns the timestamp as a time.Time, or the zero time.Time when not set.
func (t Timestamp) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0)
}

// IsZero reports whether the timestamp is not set (0).
func (t Timestamp) IsZero() bool { return t == 0 }

// UnmarshalJSON decodes a payment tolerantly (see the package documentation).
func (p *Payment) UnmarshalJSON(data []byte) error {
	type plain Payment
	aux := struct {
		*plain
		Sandbox           flexBool     `json:"sandbox"`
		Escrow            flexBool     `json:"escrow"`
		CardQuota         flexInt      `json:"card_quota"`
		CardType          flexCardType `json:"card_type"`
		Amount            flexInt64    `json:"amount"`
		CancelAmount      flexInt64    `json:"cancel_amount"`
		CustomData        flexString   `json:"custom_data"`
		CashReceiptIssued flexBool     `json:"cash_receipt_issued"`
	}{plain: (*plain)(p)}
	*p = Payment{}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	p.Sandbox = bool(aux.Sandbox)
	p.Escrow = bool(aux.Escrow)
	p.CardQuota = int(aux.CardQuota)
	p.CardType = aux.CardType.v
	p.Amount = int64(aux.Amount)
	p.CancelAmount = int64(aux.CancelAmount)
	p.CustomData = string(aux.CustomData)
	p.CashReceiptIssued = bool(aux.CashReceiptIssued)
	return nil
}

// UnmarshalJSON decodes one cancel-history entry tolerantly.
func (c *Cancel) UnmarshalJSON(data []byte) error {
	type plain Cancel
	aux := struct {
		*plain
		Amount flexInt64 `json:"amount"`
	}{plain: (*plain)(c)}
	*c = Cancel{}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	c.Amount = int64(aux.Amount)
	return nil
}

// UnmarshalJSON decodes a customer (billing key) tolerantly.
func (c *Customer) UnmarshalJSON(data []byte) error {
	type plain Customer
	aux := struct {
		*plain
		Sandbox  flexBool     `json:"sandbox"`
		CardType flexCardType `json:"card_type"`
	}{plain: (*plain)(c)}
	*c = Customer{}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	c.Sandbox = bool(aux.Sandbox)
	c.CardType = aux.CardType.v
	return nil
}

// UnmarshalJSON decodes a scheduled payment tolerantly.
func (s *ScheduleResult) UnmarshalJSON(data []byte) error {
	type plain ScheduleResult
	aux := struct {
		*plain
		Amount     flexInt64  `json:"amount"`
		CustomData flexString `json:"custom_data"`
	}{plain: (*plain)(s)}
	*s = ScheduleResult{}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	s.Amount = int64(aux.Amount)
	s.CustomData = string(aux.CustomData)
	return nil
}

// UnmarshalJSON decodes a getToken answer; its timestamps go through Timestamp.
func (t *Token) UnmarshalJSON(data []byte) error {
	type plain Token
	*t = Token{}
	return json.Unmarshal(data, (*plain)(t))
}

// UnmarshalJSON decodes a page of payments, tolerating numbers written as strings.
func (pp *PaymentPage) UnmarshalJSON(data []byte) error {
	type plain PaymentPage
	aux := struct {
		*plain
		Total    flexInt `json:"total"`
		Previous flexInt `json:"previous"`
		Next     flexInt `json:"next"`
	}{plain: (*plain)(pp)}
	*pp = PaymentPage{}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	pp.Total = int(aux.Total)
	pp.Previous = int(aux.Previous)
	pp.Next = int(aux.Next)
	return nil
}

// UnmarshalJSON decodes the envelope, tolerating a code written as a string and a
// message that is not a string.
func (e *Envelope) UnmarshalJSON(data []byte) error {
	aux := struct {
		Code     flexInt         `json:"code"`
		Message  *flexString     `json:"message"`
		Response json.RawMessage `json:"response"`
	}{}
	*e = Envelope{}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	e.Code = int(aux.Code)
	if aux.Message != nil {
		m := string(*aux.Message)
		e.Message = &m
	}
	e.Response = aux.Response
	return nil
}
