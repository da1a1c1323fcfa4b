package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// server is a contestant's HTTP server on loopback.
type server struct {
	base  string
	close func()
}

func listenLoopback() (net.Listener, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	return ln, "http://" + ln.Addr().String(), nil
}

// serveHTTP serves h with net/http (the floor, the tutorial, billkey on net/http and Gin).
func serveHTTP(h http.Handler) (*server, error) {
	ln, base, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	return &server{base: base, close: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx, srv)
	}}, nil
}

// serveFiber serves app with Fiber's own (fasthttp) server.
func serveFiber(app *fiber.App) (*server, error) {
	ln, base, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	go func() { _ = app.Listener(ln) }()
	return &server{base: base, close: func() { _ = app.ShutdownWithTimeout(5 * time.Second) }}, nil
}

// httpLoad is the load generator's client: keep-alive connections, one per worker, each
// worker sending as its own user and every charge under a fresh Idempotency-Key.
type httpLoad struct {
	url  string
	hc   *http.Client
	user func(w int) string
	keys atomic.Int64
}

func newHTTPLoad(url string, user func(w int) string, conc int) *httpLoad {
	tr := &http.Transport{
		MaxIdleConns:        2 * conc,
		MaxIdleConnsPerHost: 2 * conc,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	// Longer than billkey's own cut-off of an `again` (ReconcileAfter/2), so the server
	// always answers first.
	return &httpLoad{url: url, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, user: user}
}

// charge posts one charge as worker w's user; only 201 (paid) counts as paid.
func (l *httpLoad) charge(ctx context.Context, w int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, strings.NewReader(chargeBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(userHeader, l.user(w))
	req.Header.Set("Idempotency-Key", "k"+strconv.FormatInt(l.keys.Add(1), 10))
	resp, err := l.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &p)
	return &failure{kind: fmt.Sprintf("HTTP %d %s", resp.StatusCode, p.Code)}
}

func (l *httpLoad) close() { l.hc.CloseIdleConnections() }
