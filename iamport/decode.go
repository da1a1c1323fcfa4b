package iamport

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Tolerant decoding. iamport and the programs imitating it disagree on a few JSON types:
// amounts arrive as 1000, 1000.0 or "1000"; card_type as 0, "0" or null; timestamps as
// 0, null, 1700000000.5 or "1700000000"; custom_data as a string or as the object it
// encodes; a string field may hold a number. The field types below read one JSON value
// each, from the bytes encoding/json hands them, without calling back into encoding/json
// on the common path, so an answer is decoded in one pass (see decodeAnswer).

var (
	errNotNumber   = errors.New("not a number")
	errOutOfRange  = errors.New("number out of range")
	errFraction    = errors.New("number has a fractional part")
	errNotBoolean  = errors.New("not a boolean")
	errEmptyValue  = errors.New("empty value")
	errInvalidJSON = errors.New("invalid JSON value")
)

// number is a JSON number (or the text of a numeric string) read as whole units.
type number struct {
	v    int64 // the value, or its integer part when frac
	null bool  // null, "" or "null"
	frac bool  // a non-zero fractional part
	huge bool  // beyond int64; v is 0
}

func (n number) whole() bool { return !n.frac && !n.huge }

// readNumber reads a JSON value holding a number written as a number or a string. It
// fails only for values that are not numbers at all.
func readNumber(data []byte) (number, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return number{}, errEmptyValue
	}
	switch c := data[0]; {
	case c == 'n':
		if string(data) == "null" {
			return number{null: true}, nil
		}
		return number{}, errNotNumber
	case c == '"':
		s, err := unquote(data)
		if err != nil {
			return number{}, err
		}
		s = bytes.TrimSpace(s)
		if len(s) == 0 || string(s) == "null" {
			return number{null: true}, nil
		}
		return parseNumber(s)
	case c == '-' || c == '.' || '0' <= c && c <= '9':
		return parseNumber(data)
	}
	return number{}, errNotNumber
}

// parseNumber parses decimal text exactly, without going through float64: an integer,
// a decimal fraction, either with an exponent (1.5e3). A number whose value is not an
// integer is frac, with v its integer part; one beyond int64 is huge. So 1000.0 and 1e3
// are whole, and 1000.0000000000000001 is not.
func parseNumber(s []byte) (number, error) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, s := leadingDigits(s)
	if len(s) == 0 && len(intPart) > 0 {
		return parseInteger(intPart, neg), nil // the common case: a plain integer
	}
	var fracPart []byte
	if len(s) > 0 && s[0] == '.' {
		fracPart, s = leadingDigits(s[1:])
	}
	if len(intPart)+len(fracPart) == 0 {
		return number{}, errNotNumber
	}
	exp := 0
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		var ok bool
		if exp, s, ok = readExponent(s[1:]); !ok {
			return number{}, errNotNumber
		}
	}
	if len(s) > 0 {
		return number{}, errNotNumber
	}
	// The value is digits × 10^exp with no trailing zeros in digits (and none leading).
	var buf [48]byte
	digits := append(append(buf[:0], intPart...), fracPart...)
	exp -= len(fracPart)
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	if len(digits) == 0 {
		return number{}, nil
	}
	if exp >= 0 {
		if len(digits)+exp > 19 {
			return number{huge: true}, nil
		}
		n := parseInteger(append(digits, zeros[:exp]...), neg)
		return n, nil
	}
	// A negative exponent after trailing zeros were stripped: never an integer.
	whole := len(digits) + exp
	if whole <= 0 {
		return number{frac: true}, nil
	}
	if whole > 19 {
		return number{huge: true}, nil
	}
	n := parseInteger(digits[:whole], neg)
	n.frac = !n.huge
	return n, nil
}

// parseInteger reads decimal digits exactly; beyond int64 the number is huge.
func parseInteger(digits []byte, neg bool) number {
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var v uint64
	for _, c := range digits {
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return number{huge: true}
		}
		v = v*10 + d
	}
	if neg {
		return number{v: int64(-v)}
	}
	return number{v: int64(v)}
}

// zeros pads digits with up to 19 zeros.
var zeros = []byte("0000000000000000000")

func leadingDigits(s []byte) (digits, rest []byte) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// readExponent reads [+-]digits; exponents beyond what any amount needs are clamped (the
// value is then huge or a tiny fraction either way).
func readExponent(s []byte) (int, []byte, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	d, rest := leadingDigits(s)
	if len(d) == 0 {
		return 0, nil, false
	}
	e := 0
	for _, c := range d {
		if e < 1<<20 {
			e = e*10 + int(c-'0')
		}
	}
	if neg {
		e = -e
	}
	return e, rest, true
}

// parseFlexInt reads a JSON value holding an integer written as a number or a string.
// null and "" give (0, true, nil). With truncate, a fractional part is dropped (for
// timestamps); without it, a fractional part is an error.
func parseFlexInt(data []byte, truncate bool) (v int64, null bool, err error) {
	n, err := readNumber(data)
	switch {
	case err != nil:
		return 0, false, err
	case n.null:
		return 0, true, nil
	case n.huge:
		return 0, false, errOutOfRange
	case n.frac && !truncate:
		return 0, false, errFraction
	}
	return n.v, false, nil
}

// flexAmount decodes an amount of won. A number that is not whole decodes, and says so:
// a paid charge must never turn into an unreadable answer.
type flexAmount struct {
	v        int64
	notWhole bool
}

func (f *flexAmount) UnmarshalJSON(data []byte) error {
	n, err := readNumber(data)
	if err != nil {
		return err
	}
	*f = flexAmount{v: n.v}
	if !n.whole() {
		*f = flexAmount{v: NotWholeAmount, notWhole: true}
	}
	return nil
}

// flexInt decodes a small integer (card_quota, page numbers, code) written as a number or a
// string.
type flexInt int

func (f *flexInt) UnmarshalJSON(data []byte) error {
	v, _, err := parseFlexInt(data, false)
	if err != nil {
		return err
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return errOutOfRange
	}
	*f = flexInt(v)
	return nil
}

// flexCardType decodes card_type: 0/1 as number or string, "credit"/"check", or null.
// An unknown value decodes as unknown rather than failing the whole object.
type flexCardType struct {
	v   int
	set bool
}

func (f *flexCardType) UnmarshalJSON(data []byte) error {
	*f = flexCardType{}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		if s, err := unquote(data); err == nil {
			switch strings.ToLower(string(bytes.TrimSpace(s))) {
			case "credit":
				*f = flexCardType{v: 0, set: true}
				return nil
			case "check", "debit":
				*f = flexCardType{v: 1, set: true}
				return nil
			}
		}
	}
	v, null, err := parseFlexInt(data, false)
	if err != nil || null || v < 0 || v > 9 {
		return nil // unknown kind of card: not a reason to reject the payment
	}
	*f = flexCardType{v: int(v), set: true}
	return nil
}

func (f flexCardType) ptr() *int {
	if !f.set {
		return nil
	}
	v := f.v
	return &v
}

func intPtr(v int) *int { return &v }

// flexBool decodes true/false written as a boolean, 0/1, or "true"/"false"/"1"/"0"/"Y"/"N".
// null decodes as false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(data []byte) error {
	v, _, err := readBool(data)
	*f = flexBool(v)
	return err
}

// readBool reads a boolean in any of flexBool's forms; null reports null.
func readBool(data []byte) (v, null bool, err error) {
	data = bytes.TrimSpace(data)
	s := data
	if len(data) > 0 && data[0] == '"' {
		if s, err = unquote(data); err != nil {
			return false, false, err
		}
		s = bytes.TrimSpace(s)
	}
	for _, w := range boolWords {
		if bytes.EqualFold(s, []byte(w.text)) {
			return w.v, w.null, nil
		}
	}
	return false, false, errNotBoolean
}

// boolWords are the spellings readBool accepts, compared without regard to case.
var boolWords = []struct {
	text    string
	v, null bool
}{
	{"true", true, false}, {"false", false, false},
	{"1", true, false}, {"0", false, false},
	{"y", true, false}, {"n", false, false},
	{"", false, true}, {"null", false, true},
}

// optBool decodes a boolean that may be absent: set is false when the key was missing or
// null, which says nothing (as opposed to false).
type optBool struct {
	v, set bool
}

func (o *optBool) UnmarshalJSON(data []byte) error {
	v, null, err := readBool(data)
	if err != nil {
		return err
	}
	*o = optBool{v: v, set: !null}
	return nil
}

func (o optBool) ptr() *bool {
	if !o.set {
		return nil
	}
	v := o.v
	return &v
}

// flexString decodes a string, keeping null as "" and other JSON values (numbers,
// booleans, objects, arrays) as their compact JSON text: custom_data sometimes arrives as
// the object it encodes, and a code may arrive as a number.
type flexString string

func (f *flexString) UnmarshalJSON(data []byte) error {
	s, err := readString(data)
	*f = flexString(s)
	return err
}

// readString reads any JSON value as flexString does.
func readString(data []byte) (string, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return "", errEmptyValue
	}
	switch data[0] {
	case '"':
		s, err := unquote(data)
		if v, ok := commonStrings[string(s)]; ok {
			return v, err // no allocation for the values nearly every answer repeats
		}
		return string(s), err
	case 'n':
		if string(data) == "null" {
			return "", nil
		}
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return "", errInvalidJSON
		}
		return buf.String(), nil
	}
	if !json.Valid(data) {
		return "", errInvalidJSON
	}
	return string(data), nil
}

// commonStrings are values that recur in almost every answer.
var commonStrings = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"", "card", "api", "pc", "mobile", "KRW", "kcp_billing", "kcp",
		"ready", "paid", "failed", "cancelled", "scheduled", "executed", "revoked",
		"issue", "payment", "payment.scheduled", "sorry_not_supported_anymore",
	} {
		m[s] = s
	}
	return m
}()

// unquote returns the contents of the JSON string literal q: a subslice of q when it has
// no escapes, otherwise a new slice. Invalid UTF-8 becomes U+FFFD, as encoding/json does.
func unquote(q []byte) ([]byte, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return nil, errInvalidJSON
	}
	s := q[1 : len(q)-1]
	ascii := true
	for _, c := range s {
		switch {
		case c == '\\' || c == '"' || c < ' ':
			return unescape(s)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if ascii || utf8.Valid(s) {
		return s, nil
	}
	return unescape(s)
}

// unescape decodes the escapes of a JSON string body.
func unescape(s []byte) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errInvalidJSON
			}
			e := s[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, n := readUnicodeEscape(s[i-2:])
				if n == 0 {
					return nil, errInvalidJSON
				}
				out = utf8.AppendRune(out, r)
				i += n - 2
			default:
				return nil, errInvalidJSON
			}
		case c == '"' || c < ' ':
			return nil, errInvalidJSON
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
			i += size
		}
	}
	return out, nil
}

// readUnicodeEscape reads \uXXXX (and a following low surrogate) at the start of s and
// returns the rune and the bytes consumed (0 if malformed). A lone surrogate is U+FFFD.
func readUnicodeEscape(s []byte) (rune, int) {
	r := hex4(s)
	if r < 0 {
		return 0, 0
	}
	if 0xD800 <= r && r < 0xDC00 {
		if lo := hex4(s[6:]); len(s) >= 12 && 0xDC00 <= lo && lo < 0xE000 {
			return (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000, 12
		}
		return utf8.RuneError, 6
	}
	if 0xDC00 <= r && r < 0xE000 {
		return utf8.RuneError, 6
	}
	return r, 6
}

// hex4 reads `\uXXXX` at the start of s, or -1.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// UnmarshalJSON accepts a unix time in seconds as an integer, a float (fraction dropped),
// a numeric string or an RFC 3339 string; 0, null and "" mean "not set".
func (t *Timestamp) UnmarshalJSON(data []byte) error {
	v, _, err := parseFlexInt(data, true)
	if err != nil {
		data = bytes.TrimSpace(data)
		if len(data) > 2 && data[0] == '"' {
			if s, uerr := unquote(data); uerr == nil {
				if tm, perr := time.Parse(time.RFC3339, strings.TrimSpace(string(s))); perr == nil {
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
