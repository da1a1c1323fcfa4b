package core

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// Limits on the identifiers and hints the routes accept (R14).
const (
	MaxMerchantUIDLen    = 40  // iamport's limit for merchant_uid
	MaxImpUIDLen         = 32  // imp_uid is "imp_" + 12 digits; room to spare
	MaxPlanIDLen         = 64  // plan ids: A-Z a-z 0-9 . _ -
	MaxIdempotencyKeyLen = 128 // Idempotency-Key: printable ASCII, no spaces
	maxErrorCodeLen      = 64  // error_code hints are truncated to this many runes
	maxErrorMsgLen       = 500 // error_msg hints are truncated to this many runes
	maxStatusLen         = 32
	// A webhook may name a payment the merchant made outside billkey with the same iamport
	// account; its merchant_uid (and a cancellation_id) is only bounded: 1 to 80
	// printable ASCII characters.
	maxForeignMerchantUIDLen = 80
)

// FieldError names one request field that failed validation and why. Reason is one of
// "required", "invalid", "too_long", "duplicate". It never carries the rejected value.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// InputError lists the fields of a request that failed validation. Routes wrap it in an
// *Error with CodeInvalidRequest; the problem body shows Fields as its "errors" member.
type InputError struct {
	Fields []FieldError
}

// Error renders "invalid request: field (reason), ...". No value is included.
func (e *InputError) Error() string {
	if e == nil || len(e.Fields) == 0 {
		return "invalid request"
	}
	var b strings.Builder
	b.WriteString("invalid request: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Field)
		b.WriteString(" (")
		b.WriteString(f.Reason)
		b.WriteString(")")
	}
	return b.String()
}

// invalidInput wraps field errors in an *Error with CodeInvalidRequest and the given status.
func invalidInput(status int, detail string, fields ...FieldError) *Error {
	return &Error{Code: CodeInvalidRequest, Status: status, Detail: detail, Err: &InputError{Fields: fields}}
}

// malformedInput reports a body or query that could not be decoded at all (400).
func malformedInput(detail string) *Error {
	return &Error{Code: CodeInvalidRequest, Status: http.StatusBadRequest, Detail: detail}
}

// ---------------------------------------------------------------------------------------
// Validation with validator/v10.

// requestValidator checks request fields; its tag names are the JSON names, so field
// errors name what the client sent.
var requestValidator = newRequestValidator()

func newRequestValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			return f.Name
		}
		return name
	})
	must := func(tag string, ok func(string) bool) {
		if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
			return ok(fl.Field().String())
		}); err != nil {
			panic("billkey: registering validation " + tag + ": " + err.Error())
		}
	}
	must("merchantuid", ValidMerchantUID)
	must("impuid", ValidImpUID)
	must("planid", ValidPlanID)
	must("statusword", func(s string) bool { return inCharset(s, maxStatusLen, isStatusByte) })
	must("anyuid", func(s string) bool {
		return inCharset(s, maxForeignMerchantUIDLen, func(c byte) bool { return c > 0x20 && c < 0x7f })
	})
	return v
}

// validateStruct runs the struct tags of v and turns failures into field errors.
func validateStruct(v any, status int) error {
	err := requestValidator.Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return &Error{Code: CodeInternal, Status: http.StatusInternalServerError, Err: err}
	}
	fields := make([]FieldError, 0, len(verrs))
	for _, fe := range verrs {
		reason := "invalid"
		switch fe.Tag() {
		case "required":
			reason = "required"
		case "max":
			reason = "too_long"
		}
		fields = append(fields, FieldError{Field: fe.Field(), Reason: reason})
	}
	return invalidInput(status, "One or more fields are invalid.", fields...)
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func isStatusByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func inCharset(s string, max int, ok func(byte) bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// ValidMerchantUID reports whether s has the shape of a merchant_uid billkey accepts:
// 1 to 40 characters from A-Z a-z 0-9 _ -.
func ValidMerchantUID(s string) bool { return inCharset(s, MaxMerchantUIDLen, isIDByte) }

// ValidImpUID reports whether s has the shape of an imp_uid ("imp_123456789012"): 1 to 32
// characters from A-Z a-z 0-9 _ -.
func ValidImpUID(s string) bool { return inCharset(s, MaxImpUIDLen, isIDByte) }

// ValidPlanID reports whether s can name a plan in a request: 1 to 64 characters from
// A-Z a-z 0-9 . _ -.
func ValidPlanID(s string) bool {
	return inCharset(s, MaxPlanIDLen, func(c byte) bool { return c == '.' || isIDByte(c) })
}

// ValidIdempotencyKey reports whether s can be an idempotency key: 1 to 128 printable
// ASCII characters without spaces.
func ValidIdempotencyKey(s string) bool {
	return inCharset(s, MaxIdempotencyKeyLen, func(c byte) bool { return c > 0x20 && c < 0x7f })
}

// ---------------------------------------------------------------------------------------
// Hints: success flags and error texts from the browser (R2: hints only).

// parseFlag reads a success flag: true, false, or absent (nil) for anything else.
func parseFlag(s string) *bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		t := true
		return &t
	case "false":
		f := false
		return &f
	}
	return nil
}

// parseJSONFlag reads a JSON success flag: true/false literals or the strings "true" and
// "false"; anything else (null, numbers, objects, garbage) is absent.
func parseJSONFlag(raw json.RawMessage) *bool {
	if len(raw) == 0 {
		return nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return &b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return parseFlag(s)
	}
	return nil
}

// jsonText reads an error_code / error_msg hint: a string or a number as written; null and
// other types give "".
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// cleanHint makes a browser-supplied text safe to store and show: valid UTF-8, control
// characters replaced by spaces, trimmed, at most max runes.
func cleanHint(s string, max int) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= max {
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// cleanImpUID drops the texts a page produces from a missing imp_uid (String(null) etc.).
func cleanImpUID(s string) string {
	switch s {
	case "null", "undefined", "None", "nil":
		return ""
	}
	return s
}

// ---------------------------------------------------------------------------------------
// POST /billing-key/complete body.

// completeBody is the PC callback body: IMP.request_pay's rsp or the part the page sends.
// Other rsp fields (paid_amount, customer_uid, custom_data, ...) are ignored: they change
// nothing (R1).
type completeBody struct {
	ImpUID      string          `json:"imp_uid"`
	MerchantUID string          `json:"merchant_uid"`
	Success     json.RawMessage `json:"success"`
	ImpSuccess  json.RawMessage `json:"imp_success"`
	ErrorCode   json.RawMessage `json:"error_code"`
	ErrorMsg    json.RawMessage `json:"error_msg"`
}

// completeFields is what gets validated for the callback and the redirect.
type completeFields struct {
	ImpUID      string `json:"imp_uid" validate:"omitempty,max=32,impuid"`
	MerchantUID string `json:"merchant_uid" validate:"required,max=40,merchantuid"`
}

// ParseCompleteBody parses the JSON body of POST /billing-key/complete: imp_uid (may be
// null or absent), merchant_uid (required), success / imp_success (true, false or absent;
// anything else counts as absent), error_code and error_msg (hints, cleaned and
// truncated). Unknown fields are ignored. Errors are *Error with CodeInvalidRequest: 400
// when the body is not a JSON object, 422 with a field list when a field is invalid.
func ParseCompleteBody(body []byte) (CompleteInput, error) {
	var cb completeBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return CompleteInput{}, malformedInput("The body must be a JSON object.")
	}
	in := CompleteInput{
		MerchantUID: cb.MerchantUID,
		ImpUID:      cleanImpUID(cb.ImpUID),
		Source:      SourceCallback,
		Success:     parseJSONFlag(cb.ImpSuccess),
		ErrorCode:   cleanHint(jsonText(cb.ErrorCode), maxErrorCodeLen),
		ErrorMsg:    cleanHint(jsonText(cb.ErrorMsg), maxErrorMsgLen),
	}
	if in.Success == nil {
		in.Success = parseJSONFlag(cb.Success)
	}
	if err := validateStruct(completeFields{ImpUID: in.ImpUID, MerchantUID: in.MerchantUID}, http.StatusUnprocessableEntity); err != nil {
		return CompleteInput{}, err
	}
	return in, nil
}

// ParseRedirectQuery parses the query iamport appends to m_redirect_url: imp_uid (may be
// empty), merchant_uid (required), imp_success or success (true, false or absent),
// error_code and error_msg (hints). imp_uid and merchant_uid must appear at most once.
// Errors are *Error with CodeInvalidRequest (422) and a field list.
func ParseRedirectQuery(q url.Values) (CompleteInput, error) {
	var dup []FieldError
	single := func(name string) string {
		vs := q[name]
		if len(vs) > 1 {
			dup = append(dup, FieldError{Field: name, Reason: "duplicate"})
			return ""
		}
		if len(vs) == 1 {
			return vs[0]
		}
		return ""
	}
	in := CompleteInput{
		ImpUID:      cleanImpUID(single("imp_uid")),
		MerchantUID: single("merchant_uid"),
		Source:      SourceRedirect,
		ErrorCode:   cleanHint(q.Get("error_code"), maxErrorCodeLen),
		ErrorMsg:    cleanHint(q.Get("error_msg"), maxErrorMsgLen),
	}
	if len(dup) > 0 {
		return CompleteInput{}, invalidInput(http.StatusUnprocessableEntity, "A parameter appears more than once.", dup...)
	}
	if vs := q["imp_success"]; len(vs) == 1 {
		in.Success = parseFlag(vs[0])
	}
	if vs := q["success"]; in.Success == nil && len(vs) == 1 {
		in.Success = parseFlag(vs[0])
	}
	if err := validateStruct(completeFields{ImpUID: in.ImpUID, MerchantUID: in.MerchantUID}, http.StatusUnprocessableEntity); err != nil {
		return CompleteInput{}, err
	}
	return in, nil
}

// ---------------------------------------------------------------------------------------
// POST /webhook body.

// notificationFields validates a parsed notification. imp_uid is what gets re-fetched;
// the other fields are checked for shape only (R8: the body is a trigger, not the truth).
type notificationFields struct {
	ImpUID         string `json:"imp_uid" validate:"required,max=32,impuid"`
	MerchantUID    string `json:"merchant_uid" validate:"omitempty,max=80,anyuid"`
	Status         string `json:"status" validate:"omitempty,max=32,statusword"`
	CancellationID string `json:"cancellation_id" validate:"omitempty,max=80,anyuid"`
}

// Media types the routes read.
const (
	mediaJSON = "application/json"
	mediaForm = "application/x-www-form-urlencoded"
)

// bodyMediaType returns the lower-cased media type of a Content-Type value, "" if absent or
// unparsable.
func bodyMediaType(contentType string) string {
	if strings.TrimSpace(contentType) == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

func unsupportedMedia(detail string) *Error {
	return &Error{Code: CodeUnsupportedMediaType, Status: http.StatusUnsupportedMediaType, Detail: detail}
}

// ParseNotification parses an iamport webhook body, JSON or
// application/x-www-form-urlencoded as the console is set (FACTS §9): imp_uid (required),
// merchant_uid, status, cancellation_id. Unknown fields are ignored. Errors are *Error:
// CodeUnsupportedMediaType (415) for any other content type, CodeInvalidRequest (400) for
// a body that does not decode or whose fields have the wrong shape.
func ParseNotification(contentType string, body []byte) (Notification, error) {
	var n Notification
	switch bodyMediaType(contentType) {
	case mediaJSON:
		if err := json.Unmarshal(body, &n); err != nil {
			return Notification{}, malformedInput("The body must be a JSON object.")
		}
	case mediaForm:
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return Notification{}, malformedInput("The body is not valid form data.")
		}
		var dup []FieldError
		get := func(name string) string {
			vs := q[name]
			if len(vs) > 1 {
				dup = append(dup, FieldError{Field: name, Reason: "duplicate"})
			}
			if len(vs) == 0 {
				return ""
			}
			return vs[0]
		}
		n = Notification{
			ImpUID:         get("imp_uid"),
			MerchantUID:    get("merchant_uid"),
			Status:         get("status"),
			CancellationID: get("cancellation_id"),
		}
		if len(dup) > 0 {
			return Notification{}, invalidInput(http.StatusBadRequest, "A field appears more than once.", dup...)
		}
	default:
		return Notification{}, unsupportedMedia("Send application/json or application/x-www-form-urlencoded.")
	}
	if err := validateStruct(notificationFields(n), http.StatusBadRequest); err != nil {
		return Notification{}, err
	}
	return n, nil
}

// ---------------------------------------------------------------------------------------
// POST /charges body and the Idempotency-Key header.

// chargeBody is the body of POST /charges. Only plan is read: amount, name or customer_uid
// fields are ignored and change nothing (R1).
type chargeBody struct {
	Plan string `json:"plan" validate:"required,max=64,planid"`
}

// parseChargeBody decodes and validates a POST /charges body.
func parseChargeBody(body []byte) (string, error) {
	var cb chargeBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return "", malformedInput("The body must be a JSON object.")
	}
	if err := validateStruct(cb, http.StatusUnprocessableEntity); err != nil {
		return "", err
	}
	return cb.Plan, nil
}

// IdempotencyKeyHeader is the request header POST /charges requires.
const IdempotencyKeyHeader = "Idempotency-Key"

// parseIdempotencyKey reads the Idempotency-Key header: exactly one value, optionally a
// quoted string (the structured-field form), 1-128 printable ASCII characters.
func parseIdempotencyKey(h http.Header) (string, error) {
	vs := h.Values(IdempotencyKeyHeader)
	if len(vs) == 0 || (len(vs) == 1 && strings.TrimSpace(vs[0]) == "") {
		return "", &Error{Code: CodeIdempotencyKeyRequired, Status: http.StatusBadRequest,
			Detail: "Send an Idempotency-Key header; repeating it returns the same charge."}
	}
	if len(vs) > 1 {
		return "", invalidInput(http.StatusBadRequest, "Send one Idempotency-Key header.",
			FieldError{Field: IdempotencyKeyHeader, Reason: "duplicate"})
	}
	k := strings.TrimSpace(vs[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if !ValidIdempotencyKey(k) {
		reason := "invalid"
		if len(k) > MaxIdempotencyKeyLen {
			reason = "too_long"
		}
		return "", invalidInput(http.StatusBadRequest, "The Idempotency-Key header is invalid.",
			FieldError{Field: IdempotencyKeyHeader, Reason: reason})
	}
	return k, nil
}

// ---------------------------------------------------------------------------------------
// Reading bodies.

// requireJSON refuses a request whose Content-Type is not application/json (parameters
// such as charset=utf-8 allowed; another charset is refused).
func requireJSON(h http.Header) error {
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.EqualFold(mt, mediaJSON) {
		return unsupportedMedia("Send the body as application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupportedMedia("Send the body as UTF-8 JSON.")
	}
	return nil
}

// readCappedBody reads at most max bytes of the request body; a longer body (or a declared
// Content-Length above max) is CodeBodyTooLarge (413).
func readCappedBody(r Request, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	tooLarge := &Error{Code: CodeBodyTooLarge, Status: http.StatusRequestEntityTooLarge,
		Detail: "The request body is larger than " + strconv.FormatInt(max, 10) + " bytes."}
	if cl := r.Header().Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n > max {
			return nil, tooLarge
		}
	}
	body := r.Body()
	if body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if int64(len(b)) > max {
		return nil, tooLarge
	}
	if err != nil {
		return nil, malformedInput("The request body could not be read.")
	}
	return b, nil
}
