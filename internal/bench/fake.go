package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// fakeStats is what the fake's control endpoint reports: calls per endpoint and TCP
// connections opened to the API listener, since the fake started.
type fakeStats struct {
	GetToken int   `json:"get_token"`
	Again    int   `json:"again"`
	Conns    int64 `json:"conns"`
}

// issueAnswer is the control endpoint's answer to a billing-key issuance.
type issueAnswer struct {
	ImpUID string `json:"imp_uid"`
	Error  string `json:"error,omitempty"`
}

// serveFake is the fake process: iamporttest on one loopback listener, every request
// delayed by latency, and the control endpoints (issue a billing key, read counters)
// on another, so that the benchmark's own calls never count as API traffic. It prints
// both addresses as one JSON line on stdout and serves until stdin reaches EOF.
func serveFake(stdin io.Reader, stdout io.Writer, latency string) error {
	d, err := time.ParseDuration(latency)
	if err != nil || d < 0 {
		return fmt.Errorf("fake: bad latency %q", latency)
	}
	fake := iamporttest.New()
	defer fake.Close()

	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctlLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = apiLn.Close()
		return err
	}
	var conns atomic.Int64
	quiet := log.New(io.Discard, "", 0)
	api := &http.Server{
		Handler:           withLatency(fake.Handler(), d),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quiet,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		},
	}
	ctl := &http.Server{Handler: controlHandler(fake, &conns), ReadHeaderTimeout: 10 * time.Second, ErrorLog: quiet}
	go func() { _ = api.Serve(apiLn) }()
	go func() { _ = ctl.Serve(ctlLn) }()

	addrs := fakeAddrs{API: "http://" + apiLn.Addr().String(), Control: "http://" + ctlLn.Addr().String()}
	if err := json.NewEncoder(stdout).Encode(addrs); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, stdin)

	fake.Close() // releases delayed requests
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return errors.Join(shutdown(ctx, api), shutdown(ctx, ctl))
}

func shutdown(ctx context.Context, s *http.Server) error {
	if err := s.Shutdown(ctx); err != nil {
		return s.Close()
	}
	return nil
}

// withLatency delays every request by d before next serves it, as a distant iamport
// would; a request whose client goes away meanwhile is dropped.
func withLatency(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			next.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	})
}

// controlHandler serves POST /issue (an iamporttest.IssueRequest as JSON: the payment
// window's work, without a browser) and GET /stats.
func controlHandler(fake *iamporttest.Fake, conns *atomic.Int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /issue", func(w http.ResponseWriter, r *http.Request) {
		var req iamporttest.IssueRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, "bad issue request", http.StatusBadRequest)
			return
		}
		var ans issueAnswer
		res, err := fake.IssueBillingKey(req)
		switch {
		case err != nil:
			ans.Error = err.Error()
		case res.Rsp["success"] != true:
			ans.Error = fmt.Sprintf("issuance refused: %v %v", res.Rsp["error_code"], res.Rsp["error_msg"])
		default:
			ans.ImpUID, _ = res.Rsp["imp_uid"].(string)
		}
		writeJSON(w, ans)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, fakeStats{
			GetToken: fake.Count(iamporttest.EPGetToken),
			Again:    fake.Count(iamporttest.EPAgain),
			Conns:    conns.Load(),
		})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// control is a cell's client of the fake's control endpoints.
type control struct {
	base string
	hc   *http.Client
}

func newControl(base string) *control {
	return &control{base: base, hc: &http.Client{Timeout: 30 * time.Second}}
}

// issue stores a billing key at the fake as the payment window would and returns the
// issuance payment's imp_uid.
func (c *control) issue(ctx context.Context, req iamporttest.IssueRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	var ans issueAnswer
	if err := c.do(ctx, http.MethodPost, "/issue", body, &ans); err != nil {
		return "", err
	}
	if ans.Error != "" {
		return "", errors.New("fake: " + ans.Error)
	}
	return ans.ImpUID, nil
}

func (c *control) stats(ctx context.Context) (fakeStats, error) {
	var s fakeStats
	err := c.do(ctx, http.MethodGet, "/stats", nil, &s)
	return s, err
}

func (c *control) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("fake control %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fake control %s: HTTP %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
