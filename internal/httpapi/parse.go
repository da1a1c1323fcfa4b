package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/internal/idrule"
)

// Limits on the hints the routes accept from a browser; they are truncated, not refused.
const (
	maxErrorCodeLen = 64  // error_code hints, in characters
	maxErrorMsgLen  = 500 // error_msg hints, in characters
)

// FieldError names one request field that failed validation and why. Reason is one of
// "required", "invalid", "too_long", "duplicate". It never carries the rejected value.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// InputError lists the fields of a request that failed validation. Routes wrap it in a
// *core.Error with code invalid_request; the problem body shows Fields as its "errors"
// member.
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

// invalidInput wraps field errors in an invalid_request error.
func invalidInput(detail string, fields ...FieldError) *core.Error {
	return &core.Error{Code: codes.InvalidRequest, Detail: detail, Err: &InputError{Fields: fields}}
}

// malformedInput reports a body or query that could not be decoded at all.
func malformedInput(detail string) *core.Error {
	return &core.Error{Code: codes.InvalidRequest, Detail: detail}
}

// validateStruct runs the struct tags of v (rules of internal/idrule) and turns failures
// into field errors.
func validateStruct(v any) error {
	err := idrule.Validate.Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return &core.Error{Code: codes.Internal, Err: err}
	}
	fields := make([]FieldError, 0, len(verrs))
	for _, fe := range verrs {
		fields = append(fields, FieldError{Field: fe.Field(), Reason: fieldReason(fe)})
	}
	return invalidInput("One or more fields are invalid.", fields...)
}

// fieldReason words a failed tag: required, too_long (a rule's length) or invalid.
func fieldReason(fe validator.FieldError) string {
	if fe.Tag() == "required" {
		return string(idrule.Required)
	}
	if s, ok := fe.Value().(string); ok {
		for _, r := range []idrule.Rule{idrule.MerchantUID, idrule.ImpUID, idrule.PlanID, idrule.PaymentStatus, idrule.CancellationID} {
			if r.Name == fe.Tag() {
				return string(r.Check(s))
			}
		}
	}
	return string(idrule.Invalid)
}

// Hints: success flags and error texts from the browser (hints only: docs/guarantees.md, R2).

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
// nothing (docs/guarantees.md, R1).
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
	ImpUID      string `json:"imp_uid" validate:"omitempty,imp_uid"`
	MerchantUID string `json:"merchant_uid" validate:"required,merchant_uid"`
}

// ParseCompleteBody parses the JSON body of POST /billing-key/complete: imp_uid (may be
// null or absent), merchant_uid (required), success / imp_success (true, false or absent;
// anything else counts as absent), error_code and error_msg (hints, cleaned and
// truncated). Unknown fields are ignored. Errors are *Error with codes.InvalidRequest: 400
// when the body is not a JSON object, 422 with a field list when a field is invalid.
func ParseCompleteBody(body []byte) (core.CompleteInput, error) {
	var cb completeBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return core.CompleteInput{}, malformedInput("The body must be a JSON object.")
	}
	in := core.CompleteInput{
		MerchantUID: cb.MerchantUID,
		ImpUID:      cleanImpUID(cb.ImpUID),
		Source:      core.SourceCallback,
		Success:     parseJSONFlag(cb.ImpSuccess),
		ErrorCode:   cleanHint(jsonText(cb.ErrorCode), maxErrorCodeLen),
		ErrorMsg:    cleanHint(jsonText(cb.ErrorMsg), maxErrorMsgLen),
	}
	if in.Success == nil {
		in.Success = parseJSONFlag(cb.Success)
	}
	if err := validateStruct(completeFields{ImpUID: in.ImpUID, MerchantUID: in.MerchantUID}); err != nil {
		return core.CompleteInput{}, err
	}
	return in, nil
}

// ParseRedirectQuery parses the query iamport appends to m_redirect_url: imp_uid (may be
// empty), merchant_uid (required), imp_success or success (true, false or absent),
// error_code and error_msg (hints). imp_uid and merchant_uid must appear at most once.
// Errors are *Error with codes.InvalidRequest (422) and a field list.
func ParseRedirectQuery(q url.Values) (core.CompleteInput, error) {
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
	in := core.CompleteInput{
		ImpUID:      cleanImpUID(single("imp_uid")),
		MerchantUID: single("merchant_uid"),
		Source:      core.SourceRedirect,
		ErrorCode:   cleanHint(q.Get("error_code"), maxErrorCodeLen),
		ErrorMsg:    cleanHint(q.Get("error_msg"), maxErrorMsgLen),
	}
	if len(dup) > 0 {
		return core.CompleteInput{}, invalidInput("A parameter appears more than once.", dup...)
	}
	if vs := q["imp_success"]; len(vs) == 1 {
		in.Success = parseFlag(vs[0])
	}
	if vs := q["success"]; in.Success == nil && len(vs) == 1 {
		in.Success = parseFlag(vs[0])
	}
	if err := validateStruct(completeFields{ImpUID: in.ImpUID, MerchantUID: in.MerchantUID}); err != nil {
		return core.CompleteInput{}, err
	}
	return in, nil
}

// ---------------------------------------------------------------------------------------
// POST /webhook body.

// notificationFields validates a parsed notification. imp_uid is what gets re-fetched;
// the other fields are checked for shape only (R8: the body is a trigger, not the truth).
type notificationFields struct {
	ImpUID         string `json:"imp_uid" validate:"required,imp_uid"`
	MerchantUID    string `json:"merchant_uid" validate:"omitempty,merchant_uid"`
	Status         string `json:"status" validate:"omitempty,status"`
	CancellationID string `json:"cancellation_id" validate:"omitempty,cancellation_id"`
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

func unsupportedMedia(detail string) *core.Error {
	return &core.Error{Code: codes.UnsupportedMediaType, Detail: detail}
}

// ParseNotification parses an iamport webhook body, JSON or
// application/x-www-form-urlencoded (the iamport console sets which, per account):
// imp_uid (required), merchant_uid, status, cancellation_id. Unknown fields are ignored,
// and so is a merchant_uid outside the rule (not one billkey made). Errors are
// *core.Error: unsupported_media_type for any other content type, invalid_request for a
// body that does not decode or whose fields have the wrong shape.
func ParseNotification(contentType string, body []byte) (core.Notification, error) {
	var n core.Notification
	switch bodyMediaType(contentType) {
	case mediaJSON:
		if err := json.Unmarshal(body, &n); err != nil {
			return core.Notification{}, malformedInput("The body must be a JSON object.")
		}
	case mediaForm:
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return core.Notification{}, malformedInput("The body is not valid form data.")
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
		n = core.Notification{
			ImpUID:         get("imp_uid"),
			MerchantUID:    get("merchant_uid"),
			Status:         get("status"),
			CancellationID: get("cancellation_id"),
		}
		if len(dup) > 0 {
			return core.Notification{}, invalidInput("A field appears more than once.", dup...)
		}
	default:
		return core.Notification{}, unsupportedMedia("Send application/json or application/x-www-form-urlencoded.")
	}
	if n.MerchantUID != "" && !idrule.MerchantUID.Valid(n.MerchantUID) {
		// Not a merchant_uid billkey could have made or could look up: it names a payment
		// that is not ours. The imp_uid alone decides what is re-fetched.
		n.MerchantUID = ""
	}
	if err := validateStruct(notificationFields{ImpUID: n.ImpUID, MerchantUID: n.MerchantUID,
		Status: n.Status, CancellationID: n.CancellationID}); err != nil {
		return core.Notification{}, err
	}
	return n, nil
}

// ---------------------------------------------------------------------------------------
// POST /charges body and the Idempotency-Key header.

// chargeBody is the body of POST /charges. Only plan is read: amount, name or customer_uid
// fields are ignored and change nothing (docs/guarantees.md, R1).
type chargeBody struct {
	Plan string `json:"plan" validate:"required,plan_id"`
}

// parseChargeBody decodes and validates a POST /charges body.
func parseChargeBody(body []byte) (string, error) {
	var cb chargeBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return "", malformedInput("The body must be a JSON object.")
	}
	if err := validateStruct(cb); err != nil {
		return "", err
	}
	return cb.Plan, nil
}

// IdempotencyKeyHeader is the request header POST /charges requires.
const IdempotencyKeyHeader = "Idempotency-Key"

// parseIdempotencyKey reads the Idempotency-Key header: exactly one value, optionally a
// quoted string (the structured-field form), kept to the rule of internal/idrule that
// Service.Charge applies too.
func parseIdempotencyKey(h http.Header) (string, error) {
	vs := h.Values(IdempotencyKeyHeader)
	if len(vs) == 0 || (len(vs) == 1 && strings.TrimSpace(vs[0]) == "") {
		return "", &core.Error{Code: codes.IdempotencyKeyRequired,
			Detail: "Send an Idempotency-Key header; repeating it returns the same charge."}
	}
	if len(vs) > 1 {
		return "", invalidInput("Send one Idempotency-Key header.",
			FieldError{Field: IdempotencyKeyHeader, Reason: "duplicate"})
	}
	k := strings.TrimSpace(vs[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if p := idrule.IdempotencyKey.Check(k); p != "" {
		return "", invalidInput("The Idempotency-Key header must be "+idrule.IdempotencyKey.Describe()+".",
			FieldError{Field: IdempotencyKeyHeader, Reason: string(p)})
	}
	return k, nil
}

// parsePlanQuery reads the optional ?plan= of GET /billing-key/request.
func parsePlanQuery(q url.Values) (string, error) {
	vs := q["plan"]
	switch {
	case len(vs) > 1:
		return "", invalidInput("Give one plan.", FieldError{Field: "plan", Reason: "duplicate"})
	case len(vs) == 0 || vs[0] == "":
		return "", nil
	}
	if p := idrule.PlanID.Check(vs[0]); p != "" {
		return "", invalidInput("The plan id must be "+idrule.PlanID.Describe()+".", FieldError{Field: "plan", Reason: string(p)})
	}
	return vs[0], nil
}

// parsePageQuery reads the ?cursor= and ?limit= of a paged listing (limit 1 to max,
// default max).
func parsePageQuery(q url.Values, max int) (string, int, error) {
	for _, name := range []string{"cursor", "limit"} {
		if len(q[name]) > 1 {
			return "", 0, invalidInput("Give one "+name+".", FieldError{Field: name, Reason: "duplicate"})
		}
	}
	cursor := q.Get("cursor")
	if len(cursor) > 200 {
		return "", 0, invalidInput("The cursor is not one a listing gave.", FieldError{Field: "cursor", Reason: "invalid"})
	}
	limit := max
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return "", 0, invalidInput(fmt.Sprintf("The limit must be 1 to %d.", max), FieldError{Field: "limit", Reason: "invalid"})
		}
		limit = n
	}
	return cursor, limit, nil
}
