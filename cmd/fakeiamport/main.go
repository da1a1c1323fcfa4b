// Command fakeiamport runs the in-process iamport (PortOne V1) fake of package iamporttest on
// a TCP port, for trying an integration by hand or from another language. Nothing it does is
// real: no card is stored and no money moves.
//
// Usage:
//
//	go run ./cmd/fakeiamport [-addr 127.0.0.1:8099] [-webhook URL] [-webhook-form] [-sandbox]
//		[-state FILE] [-frozen-clock] [-latency D] [-pg-id MID] [-no-sandbox-field] [-quiet]
//
// It prints its base URL (use it in place of https://api.iamport.kr), the fake credentials,
// the URL of the IMP shim (use it in place of https://cdn.iamport.kr/v1/iamport.js) and the
// test card numbers, then logs one line per request until SIGINT or SIGTERM. Its clock is
// the real time (scheduled payments run when they come due); with -state it keeps billing
// keys, payments and schedules in FILE across restarts.
//
// Other processes read and move its clock at {base URL}/__fake/clock: GET answers
// {"now":"<RFC3339Nano>","frozen":false}; POST with {"advance":"6h"} or
// {"set":"<RFC 3339>"} (application/json, forward only) moves it as the in-process
// Fake.Advance does; iamporttest.NewRemoteClock follows it from another process.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "fakeiamport:", err)
		os.Exit(1)
	}
}

// run serves the fake until ctx ends, writing the banner and the request log to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakeiamport", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8099", "address to listen on (port 0 picks a free port)")
	webhook := fs.String("webhook", "", "URL notified when a payment has no notice_url (default: none)")
	webhookForm := fs.Bool("webhook-form", false, "send notifications as application/x-www-form-urlencoded instead of JSON")
	sandbox := fs.Bool("sandbox", false, "mark payments and billing keys as sandbox (a test channel)")
	state := fs.String("state", "", "keep the fake's state (billing keys, payments, schedules) in this `file` across restarts")
	frozen := fs.Bool("frozen-clock", false, "freeze the fake's clock at the start instead of following the real time")
	latency := fs.Duration("latency", 0, "wait this long before answering every API call (e.g. 50ms)")
	pgID := fs.String("pg-id", "", "pg_id (KCP site code) of billing keys and payments (default: T0000 with -sandbox, else "+iamporttest.LiveSiteCode+")")
	noSandboxField := fs.Bool("no-sandbox-field", false, "leave the sandbox key out of answers, as real answers from 2022 to 2024 do")
	quiet := fs.Bool("quiet", false, "do not log requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *webhook != "" {
		u, err := url.Parse(*webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-webhook must be an absolute http(s) URL")
		}
	}

	if *latency < 0 {
		return fmt.Errorf("-latency must not be negative")
	}
	opts := []iamporttest.Option{iamporttest.WithSandbox(*sandbox), iamporttest.WithLatency(*latency)}
	if !*frozen {
		opts = append(opts, iamporttest.WithRealClock())
	}
	if *state != "" {
		opts = append(opts, iamporttest.WithStateFile(*state))
	}
	if *pgID != "" {
		opts = append(opts, iamporttest.WithPGID(*pgID))
	}
	if *noSandboxField {
		opts = append(opts, iamporttest.WithoutSandboxField())
	}
	format := iamporttest.WebhookJSON
	if *webhookForm {
		format = iamporttest.WebhookForm
	}
	if *webhook != "" {
		opts = append(opts, iamporttest.WithWebhook(iamporttest.WebhookConfig{URL: *webhook, Format: format}))
	}

	fake, err := iamporttest.NewWithState(opts...)
	if err != nil {
		return err
	}
	defer fake.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}

	logger := log.New(stdout, "", log.LstdFlags)
	var handler http.Handler = fake.Handler()
	if *state != "" {
		handler = reportStateErrors(handler, fake, logger)
	}
	if !*quiet {
		handler = logRequests(handler, logger)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}

	base := baseURL(ln.Addr())
	if _, err := stdout.Write(banner(base, *webhook, *webhookForm, *sandbox, *state)); err != nil {
		_ = ln.Close()
		return err
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Release requests held by latency or stall faults, then drain the rest.
	fake.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// baseURL is the URL a browser on this machine can reach: an unspecified listen address
// (0.0.0.0, ::) is shown as 127.0.0.1.
func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// banner is what the command prints once it listens.
func banner(base, webhook string, webhookForm, sandbox bool, state string) []byte {
	var b bytes.Buffer
	fmt.Fprintln(&b, "fakeiamport: TEST MODE, a fake of the iamport (PortOne V1) API and the KCP billing window. Nothing is real.")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "  base URL:      %s   (in place of https://api.iamport.kr)\n", base)
	fmt.Fprintf(&b, "  IMP shim:      %s/iamport.js   (in place of https://cdn.iamport.kr/v1/iamport.js)\n", base)
	fmt.Fprintf(&b, "  window:        %s/window/open?customer_uid=...&merchant_uid=...&name=...&amount=0\n", base)
	fmt.Fprintf(&b, "  clock:         %s%s   (GET reads it; POST {\"advance\":\"6h\"} or {\"set\":\"<RFC 3339>\"} moves it forward)\n", base, iamporttest.ClockPath)
	fmt.Fprintf(&b, "  imp_key:       %s\n", iamporttest.Key)
	fmt.Fprintf(&b, "  imp_secret:    %s   (fake)\n", iamporttest.Secret)
	fmt.Fprintf(&b, "  merchant code: %s   (IMP.init)\n", iamporttest.MerchantCode)
	switch {
	case webhook == "":
		fmt.Fprintln(&b, "  webhooks:      to each payment's notice_url only (-webhook URL for a default)")
	case webhookForm:
		fmt.Fprintf(&b, "  webhooks:      %s (form)\n", webhook)
	default:
		fmt.Fprintf(&b, "  webhooks:      %s (JSON)\n", webhook)
	}
	fmt.Fprintf(&b, "  sandbox:       %t\n", sandbox)
	if state != "" {
		fmt.Fprintf(&b, "  state file:    %s\n", state)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Test cards (any future expiry MM/YY, any birth date YYMMDD, any 2-digit PIN):")
	for _, c := range iamporttest.TestCards() {
		fmt.Fprintf(&b, "  %-22s %s\n", c.Number, c.Outcome)
	}
	fmt.Fprintf(&b, "  %-22s %s\n", "any other number", "refused at issuance, like an invalid card")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Press Ctrl+C to stop.")
	return b.Bytes()
}

// reportStateErrors logs a failure to write the state file once, when it first appears
// (and again when it changes), after the request that hit it.
func reportStateErrors(next http.Handler, fake *iamporttest.Fake, l *log.Logger) http.Handler {
	var mu sync.Mutex
	last := ""
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			msg := ""
			if err := fake.StateError(); err != nil {
				msg = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			if msg != last && msg != "" {
				l.Printf("%s", msg)
			}
			last = msg
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request: method, path (customer_uids masked, no query) and
// status. Bodies, headers and queries are never logged.
func logRequests(next http.Handler, l *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			status := strconvStatus(rec)
			p := recover()
			if p != nil {
				status = "dropped" // the fake aborts connections by panicking with http.ErrAbortHandler
			}
			l.Printf("%s %s %s %s", r.Method, maskPath(r.URL.Path), status, time.Since(start).Round(time.Microsecond))
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

func strconvStatus(rec *statusRecorder) string {
	switch {
	case rec.status != 0:
		return strconv.Itoa(rec.status)
	case rec.hijacked:
		return "hijacked"
	default:
		return "200"
	}
}

// maskPath hides the path segment after "customers" (a customer_uid) but its first and last
// characters.
func maskPath(p string) string {
	segs := strings.Split(p, "/")
	for i := 1; i < len(segs); i++ {
		if segs[i-1] == "customers" && segs[i] != "" {
			segs[i] = maskID(segs[i])
		}
	}
	return strings.Join(segs, "/")
}

func maskID(s string) string {
	if len(s) <= 8 {
		return "***"
	}
	return s[:4] + "***" + s[len(s)-2:]
}

// statusRecorder remembers the status a handler wrote. It passes Flush and Hijack through so
// the fake's faults (stalls, dropped connections) behave as without it.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush implements http.Flusher when the underlying writer does.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		if s.status == 0 {
			s.status = http.StatusOK
		}
		f.Flush()
	}
}

// Hijack implements http.Hijacker when the underlying writer does.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	s.hijacked = true
	return h.Hijack()
}
