package adaptertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/billkey/billkey/codes"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Exchange is one answer a scenario recorded: the step that asked, and what came back.
type Exchange struct {
	Step   string
	Status int
	Header http.Header
	Body   []byte
}

// call is one request a scenario sends.
type call struct {
	Method   string
	Path     string // below the server root, with query
	User     string // sent in UserHeader when not empty
	Operator string // sent in OperatorHeader when not empty
	Body     []byte
	Type     string            // Content-Type; application/json when Body is set and Type is ""
	Header   map[string]string // extra headers
	Chunked  bool              // send the body without Content-Length
}

// client sends a scenario's requests to one row's handler on a loopback server and
// records what came back.
type client struct {
	t      *testing.T
	row    string
	h      *Harness
	srv    *httptest.Server
	hc     *http.Client
	record bool
	log    []Exchange
}

func newClient(t *testing.T, row string, h *Harness, handler http.Handler) *client {
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, row: row, h: h, srv: srv, hc: hc, record: true}
}

// do sends c and returns the answer, recording it under step. Transport failures fail the
// test.
func (cl *client) do(step string, c call) *Exchange {
	cl.t.Helper()
	ex, err := cl.send(step, c)
	require.NoError(cl.t, err, "[%s] %s", cl.row, step)
	if cl.record {
		cl.log = append(cl.log, *ex)
	}
	return ex
}

// send is do without recording or failing; safe from several goroutines.
func (cl *client) send(step string, c call) (*Exchange, error) {
	var body io.Reader = http.NoBody
	if c.Body != nil {
		body = bytes.NewReader(c.Body)
		if c.Chunked {
			body = io.MultiReader(bytes.NewReader(c.Body)) // hides the length
		}
	}
	req, err := http.NewRequest(c.Method, cl.srv.URL+c.Path, body)
	if err != nil {
		return nil, err
	}
	req.Host = Host
	if c.Body != nil {
		typ := c.Type
		if typ == "" {
			typ = "application/json"
		}
		req.Header.Set("Content-Type", typ)
	}
	if c.User != "" {
		req.Header.Set(UserHeader, c.User)
	}
	if c.Operator != "" {
		req.Header.Set(OperatorHeader, c.Operator)
	}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	resp, err := cl.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Exchange{Step: step, Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// jsonBody decodes ex's body into v, failing the test when it is not JSON.
func (cl *client) jsonBody(ex *Exchange, v any) {
	cl.t.Helper()
	require.NoError(cl.t, json.Unmarshal(ex.Body, v), "[%s] %s: body %s", cl.row, ex.Step, ex.Body)
}

// problem checks that ex is a problem+json answer with status and code, and that status
// is the one the code table gives code.
func (cl *client) problem(ex *Exchange, status int, code string) {
	cl.t.Helper()
	assert.Equal(cl.t, codes.Status(code), status, "[%s] %s: the code table's status for %s", cl.row, ex.Step, code)
	require.Equal(cl.t, status, ex.Status, "[%s] %s: body %s", cl.row, ex.Step, ex.Body)
	assert.Equal(cl.t, "application/problem+json", ex.Header.Get("Content-Type"), "[%s] %s", cl.row, ex.Step)
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	cl.jsonBody(ex, &p)
	assert.Equal(cl.t, code, p.Code, "[%s] %s", cl.row, ex.Step)
	assert.Equal(cl.t, status, p.Status, "[%s] %s", cl.row, ex.Step)
}

// ok checks a 2xx JSON answer and decodes it into v (when v is not nil).
func (cl *client) ok(ex *Exchange, status int, v any) {
	cl.t.Helper()
	require.Equal(cl.t, status, ex.Status, "[%s] %s: body %s", cl.row, ex.Step, ex.Body)
	if v != nil {
		assert.Equal(cl.t, "application/json; charset=utf-8", ex.Header.Get("Content-Type"), "[%s] %s", cl.row, ex.Step)
		cl.jsonBody(ex, v)
	}
}

// ---------------------------------------------------------------------------------------
// Comparing transcripts.

// idKeys are the JSON members and query parameters whose values are random per run.
var idKeys = map[string]bool{"merchant_uid": true, "customer_uid": true, "imp_uid": true, "id": true,
	"subscription_id": true, "next_cursor": true, "cancellation_id": true}

// fakeReceipt matches the fake's receipt URLs: its port differs per run, and the imp_uid
// in them is not always named elsewhere in the transcript.
var fakeReceipt = regexp.MustCompile(`http://127\.0\.0\.1:\d+/receipts/[^"]*`)

var timePattern = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)

// ignoredHeaders differ by transport, not by adapter: Date is the clock's, and
// Content-Length follows the (normalised) body, which is compared itself.
var ignoredHeaders = map[string]bool{"Date": true, "Content-Length": true}

// normalize replaces, across a transcript, every random id by a placeholder numbered in
// order of first appearance, and every timestamp by <time>, so that two runs of one
// scenario can be compared byte for byte.
func normalize(log []Exchange) []Exchange {
	names := map[string]string{}
	next := 0
	name := func(found []string, text string) {
		sort.SliceStable(found, func(i, j int) bool { return strings.Index(text, found[i]) < strings.Index(text, found[j]) })
		for _, id := range found {
			if _, ok := names[id]; !ok && id != "" {
				next++
				names[id] = "<id" + strconv.Itoa(next) + ">"
			}
		}
	}
	out := make([]Exchange, len(log))
	for i, ex := range log {
		var found []string
		var v any
		if json.Unmarshal(ex.Body, &v) == nil {
			collectIDs(v, &found)
		}
		name(found, string(ex.Body))
		loc := ex.Header.Get("Location")
		if u, err := url.Parse(loc); err == nil && loc != "" {
			found = found[:0]
			for k, vs := range u.Query() {
				if idKeys[k] {
					found = append(found, vs...)
				}
			}
			name(found, loc)
		}
		n := Exchange{Step: ex.Step, Status: ex.Status, Header: http.Header{}}
		for k, vs := range ex.Header {
			if ignoredHeaders[k] {
				continue
			}
			for _, v := range vs {
				n.Header[k] = append(n.Header[k], replaceIDs(v, names))
			}
		}
		n.Body = []byte(replaceIDs(string(ex.Body), names))
		out[i] = n
	}
	return out
}

func collectIDs(v any, found *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, m := range v {
			if s, ok := m.(string); ok && idKeys[k] {
				*found = append(*found, s)
				continue
			}
			collectIDs(m, found)
		}
	case []any:
		for _, m := range v {
			collectIDs(m, found)
		}
	}
}

func replaceIDs(s string, names map[string]string) string {
	ids := make([]string, 0, len(names))
	for id := range names {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return len(ids[i]) > len(ids[j]) || len(ids[i]) == len(ids[j]) && ids[i] < ids[j] })
	for _, id := range ids {
		s = strings.ReplaceAll(s, id, names[id])
		if q := url.QueryEscape(id); q != id {
			s = strings.ReplaceAll(s, q, names[id])
		}
	}
	s = fakeReceipt.ReplaceAllString(s, "<receipt>")
	return timePattern.ReplaceAllString(s, "<time>")
}

// checkLengths verifies, per answer, that a Content-Length header (when the transport
// sent one) matches the body.
func checkLengths(t *testing.T, row string, log []Exchange) {
	t.Helper()
	for _, ex := range log {
		if cl := ex.Header.Get("Content-Length"); cl != "" {
			assert.Equal(t, strconv.Itoa(len(ex.Body)), cl, "[%s] %s: Content-Length", row, ex.Step)
		}
	}
}

// compare checks that got answered what want answered, step by step.
func compare(t *testing.T, wantRow, gotRow string, want, got []Exchange) {
	t.Helper()
	want, got = normalize(want), normalize(got)
	require.Equal(t, steps(want), steps(got), "%s and %s ran different steps", wantRow, gotRow)
	for i := range want {
		w, g := want[i], got[i]
		assert.Equal(t, w.Status, g.Status, "%s: status (%s vs %s)", w.Step, wantRow, gotRow)
		assert.Equal(t, w.Header, g.Header, "%s: headers (%s vs %s)", w.Step, wantRow, gotRow)
		assert.Equal(t, string(w.Body), string(g.Body), "%s: body (%s vs %s)", w.Step, wantRow, gotRow)
	}
}

func steps(log []Exchange) []string {
	s := make([]string, len(log))
	for i, ex := range log {
		s[i] = ex.Step
	}
	return s
}
