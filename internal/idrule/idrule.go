// Package idrule is the one table of billkey's input rules: for every kind of identifier
// and text field, its length and character set. core.New, the Go API, the request
// parsers and the iamport client all check their input against these rules, directly
// (Rule.Check) or through Validate, the one validator/v10 instance whose tags are the
// rules' names.
package idrule

import (
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// Charset is the set of characters a rule admits.
type Charset uint8

// Character sets.
const (
	// Alnum is A-Z a-z 0-9.
	Alnum Charset = iota + 1
	// Token is A-Z a-z 0-9 _ -.
	Token
	// Dotted is A-Z a-z 0-9 . _ -, starting with a letter or a digit.
	Dotted
	// Word is A-Z a-z and _ (a status word such as "paid").
	Word
	// Visible is printable ASCII without spaces.
	Visible
	// Printable is printable ASCII; spaces are allowed inside, not at either end.
	Printable
	// Segment is UTF-8 that can travel as one URL path segment: no '/', '?', '#', '%',
	// '\', spaces or control characters, and not "." or "..".
	Segment
	// Text is UTF-8 without control or format characters; Max counts characters.
	Text
)

// Rule is one kind of input: its name on the wire (also its validator tag), its longest
// length and its characters. Max counts bytes, except for Segment and Text, which count
// characters. Prefix, when set, must start the value (and counts toward Max).
type Rule struct {
	Name    string
	Max     int
	Charset Charset
	Prefix  string
}

// The rules. Identifiers billkey generates (merchant_uid, customer_uid, subscription and
// refund ids) are alphanumeric, a subset of what their rule admits; a rule describes
// every value iamport or a merchant may legitimately send.
var (
	// Identifiers iamport defines (lengths from its V1 specification).
	MerchantUID = Rule{Name: "merchant_uid", Max: 40, Charset: Segment}
	CustomerUID = Rule{Name: "customer_uid", Max: 80, Charset: Segment}
	ImpUID      = Rule{Name: "imp_uid", Max: 32, Charset: Token}
	// CancellationID names one cancellation in a webhook; iamport gives no length.
	CancellationID = Rule{Name: "cancellation_id", Max: 128, Charset: Visible}
	// PaymentStatus is the status word a webhook carries.
	PaymentStatus = Rule{Name: "status", Max: 32, Charset: Word}
	// MerchantCode is the merchant identification code passed to IMP.init.
	MerchantCode = Rule{Name: "merchant_code", Max: 35, Charset: Alnum, Prefix: "imp"}

	// Identifiers the merchant chooses.
	IdempotencyKey = Rule{Name: "idempotency_key", Max: 128, Charset: Printable}
	PlanID         = Rule{Name: "plan_id", Max: 64, Charset: Dotted}
	UserID         = Rule{Name: "user_id", Max: 128, Charset: Text}
	InstanceID     = Rule{Name: "instance_id", Max: 64, Charset: Visible}

	// Identifiers billkey generates, as the routes accept them back.
	SubscriptionID = Rule{Name: "subscription_id", Max: 40, Charset: Alnum}
	RefundID       = Rule{Name: "refund_id", Max: 40, Charset: Alnum}
	NotificationID = Rule{Name: "notification_id", Max: 40, Charset: Alnum}

	// Text fields iamport bounds (characters).
	OrderName     = Rule{Name: "name", Max: 40, Charset: Text}
	BuyerName     = Rule{Name: "buyer_name", Max: 16, Charset: Text}
	BuyerEmail    = Rule{Name: "buyer_email", Max: 64, Charset: Text}
	BuyerTel      = Rule{Name: "buyer_tel", Max: 16, Charset: Text}
	BuyerAddr     = Rule{Name: "buyer_addr", Max: 128, Charset: Text}
	BuyerPostcode = Rule{Name: "buyer_postcode", Max: 8, Charset: Text}
	Reason        = Rule{Name: "reason", Max: 1000, Charset: Text}
	// Company is the merchant name shown in the KCP window.
	Company = Rule{Name: "company", Max: 64, Charset: Text}
)

// rules lists every rule, for the validator.
var rules = []Rule{
	MerchantUID, CustomerUID, ImpUID, CancellationID, PaymentStatus, MerchantCode,
	IdempotencyKey, PlanID, UserID, InstanceID, SubscriptionID, RefundID, NotificationID,
	OrderName, BuyerName, BuyerEmail, BuyerTel, BuyerAddr, BuyerPostcode, Reason, Company,
}

// Problem says why a value breaks its rule: "required", "too_long" or "invalid". It
// never carries the value.
type Problem string

// Problems.
const (
	Required Problem = "required"
	TooLong  Problem = "too_long"
	Invalid  Problem = "invalid"
)

// Check returns "" when s keeps the rule, else why not. The empty string is Required:
// callers skip optional fields that are absent.
func (r Rule) Check(s string) Problem {
	if s == "" {
		return Required
	}
	n := len(s)
	if r.Charset == Segment || r.Charset == Text {
		if !utf8.ValidString(s) {
			return Invalid
		}
		n = utf8.RuneCountInString(s)
	}
	if n > r.Max {
		return TooLong
	}
	if !strings.HasPrefix(s, r.Prefix) || len(s) == len(r.Prefix) && r.Prefix != "" {
		return Invalid
	}
	if !r.Charset.Admits(strings.TrimPrefix(s, r.Prefix)) {
		return Invalid
	}
	return ""
}

// Valid reports whether s keeps the rule.
func (r Rule) Valid(s string) bool { return r.Check(s) == "" }

// Describe says in words what the rule admits, for error messages: "1 to 40 ...".
func (r Rule) Describe() string {
	var what string
	switch r.Charset {
	case Alnum:
		what = "letters and digits"
	case Token:
		what = "letters, digits, '_' and '-'"
	case Dotted:
		what = "letters, digits, '.', '_' and '-', starting with a letter or digit"
	case Word:
		what = "letters and '_'"
	case Visible:
		what = "printable ASCII characters without spaces"
	case Printable:
		what = "printable ASCII characters (no space at either end)"
	case Segment:
		what = "characters other than '/', '?', '#', '%', '\\', spaces and control characters"
	case Text:
		what = "characters other than control characters"
	}
	s := "1 to " + strconv.Itoa(r.Max) + " " + what
	if r.Prefix != "" {
		s += `, starting with "` + r.Prefix + `"`
	}
	return s
}

// Admits reports whether every character of s (non-empty) is in the set c.
func (c Charset) Admits(s string) bool {
	if s == "" {
		return false
	}
	switch c {
	case Segment:
		if s == "." || s == ".." {
			return false
		}
		for _, r := range s {
			if r == '/' || r == '?' || r == '#' || r == '%' || r == '\\' || unicode.IsSpace(r) ||
				unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				return false
			}
		}
		return true
	case Text:
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				return false
			}
		}
		return true
	case Printable:
		if s[0] == ' ' || s[len(s)-1] == ' ' {
			return false
		}
	case Dotted:
		if !isAlnum(s[0]) {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		if !c.admitsByte(s[i]) {
			return false
		}
	}
	return true
}

func (c Charset) admitsByte(b byte) bool {
	switch c {
	case Alnum:
		return isAlnum(b)
	case Token:
		return isAlnum(b) || b == '_' || b == '-'
	case Dotted:
		return isAlnum(b) || b == '.' || b == '_' || b == '-'
	case Word:
		return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '_'
	case Visible:
		return b > ' ' && b < 0x7f
	case Printable:
		return b >= ' ' && b < 0x7f
	}
	return false
}

func isAlnum(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// Validate is the validator/v10 instance every billkey package uses. Besides the
// built-in tags it knows one tag per rule, named as the rule ("merchant_uid",
// "plan_id", ...), and "pg" for the PG code of request_pay. Field errors are named by
// the field's json tag.
var Validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflectField) string { return jsonName(f) })
	for _, r := range rules {
		register(v, r.Name, r.Valid)
	}
	register(v, "pg", ValidPG)
	return v
}

func register(v *validator.Validate, tag string, ok func(string) bool) {
	if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return ok(fl.Field().String()) }); err != nil {
		panic("idrule: registering " + tag + ": " + err.Error()) // constant tags: only at init
	}
}

// DefaultPG is the PG code of NHN KCP's billing window.
const DefaultPG = "kcp_billing"

// ValidPG reports whether s is "kcp_billing" or "kcp_billing.{site code}" (the site code
// being 1 to 40 letters, digits, '_' or '-').
func ValidPG(s string) bool {
	if s == DefaultPG {
		return true
	}
	site, ok := strings.CutPrefix(s, DefaultPG+".")
	return ok && site != "" && len(site) <= 40 && Token.Admits(site)
}

type reflectField = reflect.StructField

// jsonName is a struct field's json name, or its Go name without one.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		return f.Name
	}
	return name
}
