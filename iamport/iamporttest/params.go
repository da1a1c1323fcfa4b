package iamporttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxAPIBody caps every request body the fake reads.
const maxAPIBody = 1 << 20

// bodyParams is a request body read as JSON or as a form, with uniform typed accessors.
// Exactly one of obj and form is used.
type bodyParams struct {
	obj  map[string]json.RawMessage
	form url.Values
}

// errBadBody and errTooLarge classify bodies that cannot be read.
var (
	errBadBody  = errors.New("bad body")
	errTooLarge = errors.New("body too large")
)

// readParams reads r's body as JSON or form data (urlencoded or multipart). An empty body
// gives empty params.
func readParams(w http.ResponseWriter, r *http.Request) (bodyParams, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyParams{}, errTooLarge
		}
		return bodyParams{}, errBadBody
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return bodyParams{form: url.Values{}}, nil
	}
	mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return parseJSONParams(body)
	case mt == "application/x-www-form-urlencoded":
		return parseFormParams(body)
	case mt == "multipart/form-data":
		return parseMultipartParams(body, mp["boundary"])
	case mt == "" || mt == "text/plain":
		if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '{' {
			return parseJSONParams(body)
		}
		return parseFormParams(body)
	}
	return bodyParams{}, errBadBody
}

func parseJSONParams(body []byte) (bodyParams, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return bodyParams{}, errBadBody
	}
	return bodyParams{obj: obj}, nil
}

func parseFormParams(body []byte) (bodyParams, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return bodyParams{}, errBadBody
	}
	return bodyParams{form: v}, nil
}

func parseMultipartParams(body []byte, boundary string) (bodyParams, error) {
	if boundary == "" {
		return bodyParams{}, errBadBody
	}
	mf, err := multipart.NewReader(bytes.NewReader(body), boundary).ReadForm(maxAPIBody)
	if err != nil {
		return bodyParams{}, errBadBody
	}
	defer func() { _ = mf.RemoveAll() }()
	v := url.Values{}
	for k, vs := range mf.Value {
		v[k] = vs
	}
	return bodyParams{form: v}, nil
}

// fieldError is a parameter that failed validation; it becomes a code-1 answer.
type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }

func errRequired(name string) error {
	return &fieldError{fmt.Sprintf("필수 파라미터 %s 이(가) 누락되었습니다.", name)}
}

func errFormat(name string) error {
	return &fieldError{fmt.Sprintf("%s 의 형식이 올바르지 않습니다.", name)}
}

func errTooLong(name string, max int) error {
	return &fieldError{fmt.Sprintf("%s 는 최대 %d자까지 입력할 수 있습니다.", name, max)}
}

// raw returns the JSON value of name, or nil when absent or null.
func (p bodyParams) raw(name string) json.RawMessage {
	v, ok := p.obj[name]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil
	}
	return v
}

// str returns name as a string. JSON numbers and booleans are taken as their text; a JSON
// array gives its first string element; objects are an error.
func (p bodyParams) str(name string) (string, error) {
	if p.obj == nil {
		return p.form.Get(name), nil
	}
	v := p.raw(name)
	if v == nil {
		return "", nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), nil
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return strconv.FormatBool(b), nil
	}
	var list []string
	if json.Unmarshal(v, &list) == nil {
		if len(list) == 0 {
			return "", nil
		}
		return list[0], nil
	}
	return "", errFormat(name)
}

// text returns name as free text: a string as is, any other JSON value as its JSON text
// (custom_data sent as an object is stored as its JSON string, as iamport does).
func (p bodyParams) text(name string) string {
	if p.obj == nil {
		return p.form.Get(name)
	}
	v := p.raw(name)
	if v == nil {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}

// limited returns name as a string of at most max characters (max 0 = no limit), required
// or not.
func (p bodyParams) limited(name string, max int, required bool) (string, error) {
	s, err := p.str(name)
	if err != nil {
		return "", err
	}
	if s == "" && required {
		return "", errRequired(name)
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		return "", errTooLong(name, max)
	}
	return s, nil
}

// int64 returns name as a whole number: a JSON number (1000 or 1000.0) or a numeric
// string. present is false when the field is absent, null or an empty string.
func (p bodyParams) int64(name string) (v int64, present bool, err error) {
	var text string
	if p.obj == nil {
		if _, ok := p.form[name]; !ok {
			return 0, false, nil
		}
		text = strings.TrimSpace(p.form.Get(name))
	} else {
		raw := p.raw(name)
		if raw == nil {
			return 0, false, nil
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			text = n.String()
		} else if json.Unmarshal(raw, &text) != nil {
			return 0, true, errFormat(name)
		}
		text = strings.TrimSpace(text)
	}
	if text == "" {
		return 0, false, nil
	}
	v, err = parseWhole(text)
	if err != nil {
		return 0, true, errFormat(name)
	}
	return v, true, nil
}

// parseWhole parses an integer written as "1000", "1000.0" or "1e3".
func parseWhole(s string) (int64, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	fv, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(fv) || math.IsInf(fv, 0) || fv != math.Trunc(fv) || math.Abs(fv) > 1<<53 {
		return 0, errors.New("not a whole number")
	}
	return int64(fv), nil
}

// boolean returns name as a bool: JSON true/false, or "true"/"false"/"1"/"0".
func (p bodyParams) boolean(name string) (bool, error) {
	var text string
	if p.obj == nil {
		text = p.form.Get(name)
	} else {
		raw := p.raw(name)
		if raw == nil {
			return false, nil
		}
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return b, nil
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			text = n.String()
		} else if json.Unmarshal(raw, &text) != nil {
			return false, errFormat(name)
		}
	}
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, errFormat(name)
}

// strings returns name as a list: a JSON array of strings or a single string; in a form,
// the values of name[] and name.
func (p bodyParams) strings(name string) ([]string, error) {
	var out []string
	if p.obj == nil {
		out = append(out, p.form[name+"[]"]...)
		out = append(out, p.form[name]...)
	} else {
		raw := p.raw(name)
		if raw == nil {
			raw = p.raw(name + "[]")
		}
		if raw == nil {
			return nil, nil
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = []string{s}
		} else if json.Unmarshal(raw, &out) != nil {
			return nil, errFormat(name)
		}
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" }), nil
}

// objectList wraps the decoded JSON objects of the list name; a null entry is a format
// error.
func objectList(name string, list []map[string]json.RawMessage) ([]bodyParams, error) {
	out := make([]bodyParams, 0, len(list))
	for _, m := range list {
		if m == nil {
			return nil, errFormat(name)
		}
		out = append(out, bodyParams{obj: m})
	}
	return out, nil
}

// objects returns name as a list of nested params: a JSON array of objects, or in a form
// the PHP-style keys name[0][field]=value.
func (p bodyParams) objects(name string) ([]bodyParams, error) {
	if p.obj != nil {
		raw := p.raw(name)
		if raw == nil {
			return nil, nil
		}
		var list []map[string]json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			// A JSON string holding the array, as some form-minded clients send it.
			var s string
			if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &list) != nil {
				return nil, errFormat(name)
			}
		}
		return objectList(name, list)
	}
	if s := p.form.Get(name); s != "" {
		var list []map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &list) != nil {
			return nil, errFormat(name)
		}
		return objectList(name, list)
	}
	byIndex := map[int]url.Values{}
	prefix := name + "["
	for k, vs := range p.form {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		idxText, field, ok := strings.Cut(rest, "][")
		if !ok || !strings.HasSuffix(field, "]") {
			return nil, errFormat(name)
		}
		idx, err := strconv.Atoi(idxText)
		if err != nil || idx < 0 || idx > 1000 {
			return nil, errFormat(name)
		}
		if byIndex[idx] == nil {
			byIndex[idx] = url.Values{}
		}
		byIndex[idx][strings.TrimSuffix(field, "]")] = vs
	}
	idxs := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idxs = append(idxs, i)
	}
	sort.Ints(idxs)
	out := make([]bodyParams, 0, len(idxs))
	for _, i := range idxs {
		out = append(out, bodyParams{form: byIndex[i]})
	}
	return out, nil
}
