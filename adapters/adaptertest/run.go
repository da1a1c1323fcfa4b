package adaptertest

import (
	"net/http"
	"testing"

	"github.com/billkey/billkey/internal/httpapi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run drives every scenario through the row a: each on a fresh Harness, each answer
// checked, and each transcript compared with what the Reference row answers to the same
// requests (random ids and timestamps normalised; Date and Content-Length left out, the
// latter checked against the body instead).
func Run(t *testing.T, a Adapter) {
	t.Helper()
	require.NotNil(t, a.New, "Adapter.New")
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := runScenario(t, a, sc)
			if !sc.compare || t.Failed() {
				return
			}
			want := runScenario(t, Reference, sc)
			if t.Failed() {
				return
			}
			compare(t, Reference.Name, a.Name, want, got)
		})
	}
}

func runScenario(t *testing.T, a Adapter, sc scenario) []Exchange {
	t.Helper()
	h := NewHarness(t)
	handler := a.New(t, h)
	require.NotNil(t, handler, "%s: New returned nil", a.Name)
	cl := newClient(t, a.Name, h, handler)
	sc.run(t, cl)
	checkLengths(t, a.Name, cl.log)
	return cl.log
}

// WriteFailure checks, for rows whose framework writes to the http.ResponseWriter it is
// given while the handler runs (net/http, Gin), that a failing write reaches the error
// hook. Fiber buffers the response and writes after its handler, so it has no such row.
func WriteFailure(t *testing.T, a Adapter) {
	t.Helper()
	h := NewHarness(t)
	handler := a.New(t, h)
	req, err := http.NewRequest(http.MethodGet, Prefix+"/billing-key/request", nil)
	require.NoError(t, err)
	req.Host = Host
	req.Header.Set(UserHeader, "judy")
	w := &failingWriter{header: http.Header{}}
	handler.ServeHTTP(w, req)
	assert.Equal(t, http.StatusOK, w.status)
	errs := h.Errors()
	require.Len(t, errs, 1, "the failed write reaches the error hook once")
	assert.ErrorIs(t, errs[0], errWriteFailed)
	assert.Equal(t, httpapi.JSONContentType, w.header.Get("Content-Type"))
}

type failingWriter struct {
	header http.Header
	status int
}

var errWriteFailed = &writeError{}

type writeError struct{}

func (*writeError) Error() string { return "adaptertest: connection reset by peer" }

func (w *failingWriter) Header() http.Header { return w.header }
func (w *failingWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *failingWriter) Write([]byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return 0, errWriteFailed
}
