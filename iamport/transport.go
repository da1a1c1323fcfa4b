package iamport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

var (
	errBodyTooLarge  = errors.New("answer body larger than 1 MiB")
	errEmptyResponse = errors.New("answer has code 0 but no response object")
)

// call describes one API request.
type call struct {
	method   string
	endpoint string // path template for errors and logs
	path     string // escaped path
	query    string // encoded query, without '?'
	body     any    // JSON-encoded when not nil
	noAuth   bool   // getToken itself
	mask     string // a customer_uid to mask if iamport echoes it in a message
}

// idempotent reports whether the call may be repeated after it may have reached iamport:
// lookups, and getToken (which hands out the same token until it expires).
func (cl *call) idempotent() bool { return cl.method == "GET" || cl.noAuth }

// do runs cl with the token, retry and error rules of the package and decodes the
// envelope's response into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	ctx, cancel := c.withDefaultTimeout(ctx)
	defer cancel()

	var payload []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: false, Err: errors.New("encoding request: " + err.Error())}
		}
		payload = b
	}
	target := c.base + cl.path
	if cl.query != "" {
		target += "?" + cl.query
	}

	retries := 0
	limit := maxNotSentRetries
	if cl.idempotent() {
		limit = c.maxRetries
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		var tok *cachedToken
		if !cl.noAuth {
			t, err := c.token(ctx)
			if err != nil {
				return &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: false, Err: &tokenError{err: err}}
			}
			tok = t
		}
		start := time.Now()
		status, err := c.attempt(ctx, &cl, target, payload, tok, out)
		c.logAttempt(ctx, &cl, attempt, status, time.Since(start), err)
		if err == nil {
			return nil
		}
		if status == http.StatusUnauthorized && !cl.noAuth && !refreshed {
			// The token was refused: drop it (unless someone already replaced it),
			// fetch a fresh one and try exactly once more. A 401 means not processed.
			refreshed = true
			c.tok.invalidate(tok)
			continue
		}
		if retries >= limit || ctx.Err() != nil || !retryable(&cl, status, err) {
			return err
		}
		if !c.backoff(ctx, retries) {
			return err
		}
		retries++
	}
}

// retryable decides whether a failed attempt may be repeated: an idempotent call after a
// transport failure, a 5xx or a 429; any call that provably never left this process.
func retryable(cl *call, status int, err error) bool {
	var te *TransportError
	isTransport := errors.As(err, &te)
	if isTransport && !te.Sent {
		return true
	}
	if !cl.idempotent() {
		return false
	}
	return isTransport || status == http.StatusTooManyRequests
}

// backoff sleeps before retry number n (0-based): exponential from backoffBase, capped,
// with full jitter over the upper half. It returns false, without sleeping, when the
// context ends first or its deadline would pass during the sleep.
func (c *Client) backoff(ctx context.Context, n int) bool {
	d := c.backoffBase
	for i := 0; i < n && d < c.backoffCap; i++ {
		d *= 2
	}
	if d > c.backoffCap {
		d = c.backoffCap
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	d = d/2 + rand.N(d/2+1)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sendTrace records whether the transport obtained a connection for a request. Before
// GotConn nothing can have been written, so a failure then is provably "not sent".
type sendTrace struct {
	getConn atomic.Bool
	gotConn atomic.Bool
}

func (s *sendTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { s.getConn.Store(true) },
		GotConn: func(httptrace.GotConnInfo) { s.gotConn.Store(true) },
	}
}

// sent classifies a failed round trip. A request counts as possibly sent unless the
// failure provably happened before a connection carried it: the transport asked for a
// connection and never got one, or the error is a dial or DNS failure. A transport that
// does not report through httptrace gets the benefit of the doubt only for dial errors.
func (s *sendTrace) sent(err error, traced bool) bool {
	if s.gotConn.Load() {
		return true
	}
	if isDialError(err) {
		return false
	}
	return !(traced || s.getConn.Load())
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// stripURL removes *url.Error layers: their text holds the full URL, and a URL path can
// hold a customer_uid.
func stripURL(err error) error {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err == nil {
			return err
		}
		if err == error(ue) {
			err = ue.Err
			continue
		}
		// A url.Error deeper in the chain: keep the outer text out of it.
		return errors.New(strings.ReplaceAll(err.Error(), ue.URL, "<url>"))
	}
}

// attempt performs one HTTP exchange and interprets the answer.
func (c *Client) attempt(ctx context.Context, cl *call, target string, payload []byte, tok *cachedToken, out any) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: false, Err: context.Cause(ctx)}
	}
	var tr sendTrace
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, tr.clientTrace()), cl.method, target, body)
	if err != nil {
		return 0, &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: false, Err: errors.New("building request failed")}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != nil {
		req.Header.Set("Authorization", tok.header)
	}
	if c.tier != "" {
		req.Header.Set("Tier", c.tier)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: tr.sent(err, c.traced), Err: stripURL(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err == nil && len(data) > maxBodyBytes {
		err = errBodyTooLarge
	}
	if err != nil {
		return resp.StatusCode, &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: true, Err: stripURL(err)}
	}
	return resp.StatusCode, c.interpret(cl, resp.StatusCode, data, out)
}

// interpret turns a complete answer into nil (decoded into out) or an error. The envelope
// is parsed on every status so its code and message reach the caller. The common path
// decodes the envelope and its response in one pass; only when that fails is the head
// read again on its own, so a refusal keeps its code and message whatever its response.
func (c *Client) interpret(cl *call, status int, data []byte, out any) error {
	env, hasResponse, respErr := decodeAnswer(data, out)
	var envErr error
	if respErr != nil {
		if env, envErr = decodeHead(data); envErr != nil {
			respErr = nil
		}
	}
	apiErr := func() *APIError {
		e := &APIError{HTTPStatus: status, Method: cl.method, Endpoint: cl.endpoint}
		if envErr == nil {
			e.Code = int(env.Code)
			if env.Message.set {
				e.Message = cleanMessage(env.Message.text, cl.mask)
			}
		}
		return e
	}
	switch {
	case status >= 500:
		return &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: true, Err: apiErr()}
	case status < 200 || status >= 300:
		return apiErr()
	case envErr != nil:
		return &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: true, Err: errors.New("decoding answer: " + envErr.Error())}
	case env.Code != 0:
		return apiErr()
	case out == nil:
		return nil
	case respErr != nil:
		return &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: true, Err: errors.New("decoding response: " + respErr.Error())}
	case !hasResponse:
		return &TransportError{Method: cl.method, Endpoint: cl.endpoint, Sent: true, Err: errEmptyResponse}
	}
	return nil
}

// maxMessageLen bounds the message copied from an answer into an error.
const maxMessageLen = 512

// cleanMessage makes iamport's message safe to carry in an error and a log line: valid
// UTF-8, bounded, and with the request's customer_uid (which iamport echoes in its
// "not found" message) masked.
func cleanMessage(msg, mask string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if mask != "" {
		msg = strings.ReplaceAll(msg, mask, MaskID(mask))
	}
	if len(msg) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// MaskID shortens an identifier for logs and messages: at most its first four characters
// (never more than half of it), then "…".
func MaskID(id string) string {
	n := utf8.RuneCountInString(id)
	keep := min(4, n/2)
	i := 0
	for j := range id {
		if i == keep {
			return id[:j] + "…"
		}
		i++
	}
	return "…"
}

// logAttempt writes one line per HTTP attempt when a logger is configured: method, path
// template, status, duration, attempt number and, on failure, the error text. Tokens,
// the secret and raw paths never appear.
func (c *Client) logAttempt(ctx context.Context, cl *call, attempt, status int, d time.Duration, err error) {
	if c.log == nil {
		return
	}
	level := slog.LevelInfo
	var te *TransportError
	if err != nil && errors.As(err, &te) {
		level = slog.LevelWarn
	}
	if !c.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", cl.method),
		slog.String("endpoint", cl.endpoint),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.Int("attempt", attempt),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.log.LogAttrs(ctx, level, "iamport request", attrs...)
}
