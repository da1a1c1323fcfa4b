package iamport

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/billkey/billkey/internal/idrule"
)

// DefaultBaseURL is the iamport V1 REST API.
const DefaultBaseURL = "https://api.iamport.kr"

// Defaults applied by New.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 3
	maxMaxRetries     = 10
	// maxNotSentRetries bounds the automatic retries of a POST or DELETE that provably
	// never left this process.
	maxNotSentRetries = 2
	backoffBase       = 100 * time.Millisecond
	backoffCap        = 2 * time.Second
	maxBodyBytes      = 1 << 20
	userAgent         = "billkey-iamport/1"
)

// Config configures a Client. Key and Secret are required; everything else has a safe default.
type Config struct {
	Key        string       // REST API key (imp_key)
	Secret     string       // REST API secret (imp_secret); never logged
	BaseURL    string       // default DefaultBaseURL; no trailing slash needed
	HTTPClient *http.Client // default: a client with a keep-alive pool sized for concurrent use
	Logger     *slog.Logger // nil = silent
	Tier       string       // optional Tier header for agency/sub-merchant setups
	// Timeout applies to each call whose context has no deadline. Default 10s; negative
	// is an error (every call must have a deadline).
	Timeout time.Duration
	// MaxRetries bounds the retries of a lookup (GET) on transport errors and 5xx. Default 3;
	// negative disables; at most 10.
	MaxRetries int
}

// Client is a concurrency-safe iamport V1 client. Create it once with New and share it.
type Client struct {
	key, secret string
	base        string // scheme://host[/prefix], no trailing slash
	hc          *http.Client
	traced      bool // hc's transport reports connection events through httptrace
	log         *slog.Logger
	tier        string
	timeout     time.Duration
	maxRetries  int
	tok         tokenCache

	// Seams for tests; set by New.
	now         func() time.Time
	backoffBase time.Duration
	backoffCap  time.Duration
}

var (
	errNilClient  = errors.New("iamport: nil *Client")
	errNilContext = &ValidationError{Field: "ctx", Reason: "nil context"}
)

// New validates cfg and returns a client. The error never contains the secret.
func New(cfg Config) (*Client, error) {
	if err := checkCredential("Key", cfg.Key); err != nil {
		return nil, err
	}
	if err := checkCredential("Secret", cfg.Secret); err != nil {
		return nil, err
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Tier != "" && !validHeaderValue(cfg.Tier) {
		return nil, errors.New("iamport: config: Tier must be visible ASCII without spaces")
	}
	timeout := cfg.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		return nil, errors.New("iamport: config: Timeout must not be negative")
	}
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	case retries > maxMaxRetries:
		return nil, errors.New("iamport: config: MaxRetries must be at most " + strconv.Itoa(maxMaxRetries))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	traced := false
	switch hc.Transport.(type) {
	case nil, *http.Transport:
		traced = true
	}
	return &Client{
		key:         cfg.Key,
		secret:      cfg.Secret,
		base:        base,
		hc:          hc,
		traced:      traced,
		log:         cfg.Logger,
		tier:        cfg.Tier,
		timeout:     timeout,
		maxRetries:  retries,
		tok:         newTokenCache(),
		now:         time.Now,
		backoffBase: backoffBase,
		backoffCap:  backoffCap,
	}, nil
}

func checkCredential(name, v string) error {
	switch {
	case v == "":
		return errors.New("iamport: config: " + name + " is required")
	case strings.TrimSpace(v) != v:
		return errors.New("iamport: config: " + name + " has leading or trailing spaces")
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return errors.New("iamport: config: " + name + " contains control characters")
	}
	return nil
}

func parseBaseURL(s string) (string, error) {
	if s == "" {
		return DefaultBaseURL, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("iamport: config: BaseURL does not parse as a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("iamport: config: BaseURL must be an absolute http or https URL")
	case u.Host == "" || u.Opaque != "":
		return "", errors.New("iamport: config: BaseURL has no host")
	case u.User != nil:
		return "", errors.New("iamport: config: BaseURL must not carry user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("iamport: config: BaseURL must not have a query or fragment")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// defaultHTTPClient keeps connections alive with an idle pool sized for concurrent use and
// never follows redirects (a redirected POST would silently turn into a GET).
func defaultHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// CloseIdleConnections closes the idle keep-alive connections of the HTTP client.
func (c *Client) CloseIdleConnections() {
	if c != nil && c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}

// Timeout is the deadline a call gets when its context has none (Config.Timeout, or
// DefaultTimeout). 0 for a nil client.
func (c *Client) Timeout() time.Duration {
	if c == nil {
		return 0
	}
	return c.timeout
}

// withDefaultTimeout bounds ctx by the configured timeout unless it has a deadline already.
func (c *Client) withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// Endpoint path templates, used in errors and log lines instead of raw paths.
const (
	epAgain          = "/subscribe/payments/again"
	epCustomer       = "/subscribe/customers/{customer_uid}"
	epPayment        = "/payments/{imp_uid}"
	epFind           = "/payments/find/{merchant_uid}"
	epFindStatus     = "/payments/find/{merchant_uid}/{payment_status}"
	epFindAll        = "/payments/findAll/{merchant_uid}"
	epFindAllStatus  = "/payments/findAll/{merchant_uid}/{payment_status}"
	epCancel         = "/payments/cancel"
	epSchedule       = "/subscribe/payments/schedule"
	epUnschedule     = "/subscribe/payments/unschedule"
	epScheduleByUID  = "/subscribe/payments/schedule/{merchant_uid}"
	pathCustomers    = "/subscribe/customers/"
	pathPayments     = "/payments/"
	pathFind         = "/payments/find/"
	pathFindAll      = "/payments/findAll/"
	pathScheduleByID = "/subscribe/payments/schedule/"
)

// begin checks the receiver and context shared by every method.
func (c *Client) begin(ctx context.Context) error {
	if c == nil {
		return errNilClient
	}
	if ctx == nil {
		return errNilContext
	}
	return nil
}

// Again charges a stored billing key (POST /subscribe/payments/again). It returns the paid
// payment, a *DeclinedError (ErrDeclined) when the card was refused, an *APIError for a
// request-level failure (no payment made), or an error matching ErrOutcomeUnknown when the
// charge may or may not have happened: then look req.MerchantUID up before any retry.
//
// Success means code 0, status paid, and the payment's merchant_uid and amount (and
// customer_uid, when the answer carries one) equal the request's. A code-0 answer with
// another status (ready, cancelled), an amount that is not a whole number of won, or other
// values is a *MismatchError, which matches ErrOutcomeUnknown: it is never success, and
// only a lookup settles it. Errors matching ErrNotSent (validation, dial failure, token
// failure) guarantee no charge was attempted. A refusal because iamport no longer knows
// the customer_uid is an *APIError matching ErrCustomerNotFound; any other refusal (such
// as code -1, nothing charged) is a plain *APIError.
func (c *Client) Again(ctx context.Context, req AgainRequest) (*Payment, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var p Payment
	err := c.do(ctx, call{method: "POST", endpoint: epAgain, path: epAgain, body: &req, mask: req.CustomerUID}, &p)
	if err != nil {
		return nil, err
	}
	switch {
	case p.MerchantUID != req.MerchantUID:
		return nil, &MismatchError{Endpoint: epAgain, Reason: "merchant_uid differs from the request", Payment: &p}
	case p.CustomerUID != "" && p.CustomerUID != req.CustomerUID:
		return nil, &MismatchError{Endpoint: epAgain, Reason: "customer_uid differs from the request", Payment: &p}
	case p.Status == StatusFailed:
		return nil, &DeclinedError{Payment: &p, FailReason: p.FailReason}
	case p.Status != StatusPaid:
		return nil, &MismatchError{Endpoint: epAgain, Reason: "status " + quoteShort(string(p.Status)), Payment: &p}
	case p.AmountNotWhole:
		return nil, &MismatchError{Endpoint: epAgain, Reason: "amount is not a whole number of won", Payment: &p}
	case p.Amount != req.Amount:
		return nil, &MismatchError{Endpoint: epAgain, Reason: "amount differs from the request", Payment: &p}
	}
	return &p, nil
}

// quoteShort quotes an untrusted short string for an error message.
func quoteShort(s string) string {
	if len(s) > 24 {
		s = s[:24]
	}
	return strconv.QuoteToASCII(s)
}

// GetCustomer reads the billing key registered under customerUID. ErrNotFound if none.
func (c *Client) GetCustomer(ctx context.Context, customerUID string) (*Customer, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := ValidateCustomerUID(customerUID); err != nil {
		return nil, err
	}
	var cu Customer
	err := c.do(ctx, call{method: "GET", endpoint: epCustomer, path: pathCustomers + url.PathEscape(customerUID), mask: customerUID}, &cu)
	if err != nil {
		return nil, err
	}
	return &cu, nil
}

// DeleteCustomer deletes the billing key under customerUID at iamport. ErrNotFound if none.
// reason is optional and sent as the reason query parameter. A DELETE is not retried
// after it may have been sent.
func (c *Client) DeleteCustomer(ctx context.Context, customerUID, reason string) (*Customer, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := ValidateCustomerUID(customerUID); err != nil {
		return nil, err
	}
	if err := checkRule("", idrule.Reason, reason, false); err != nil {
		return nil, err
	}
	cl := call{method: "DELETE", endpoint: epCustomer, path: pathCustomers + url.PathEscape(customerUID), mask: customerUID}
	if reason != "" {
		cl.query = url.Values{"reason": {reason}}.Encode()
	}
	var cu Customer
	if err := c.do(ctx, cl, &cu); err != nil {
		return nil, err
	}
	return &cu, nil
}

// GetPayment reads one payment by imp_uid. With includeSandbox false, test-channel payments
// are not found.
func (c *Client) GetPayment(ctx context.Context, impUID string, includeSandbox bool) (*Payment, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := ValidateImpUID(impUID); err != nil {
		return nil, err
	}
	q := "include_sandbox=false"
	if includeSandbox {
		q = "include_sandbox=true"
	}
	var p Payment
	if err := c.do(ctx, call{method: "GET", endpoint: epPayment, path: pathPayments + url.PathEscape(impUID), query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// FindPayment reads the newest payment with merchantUID and, if status is not empty, that
// status (GET /payments/find/{merchant_uid}[/{status}]). ErrNotFound if none.
func (c *Client) FindPayment(ctx context.Context, merchantUID string, status PaymentStatus) (*Payment, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := ValidateMerchantUID(merchantUID); err != nil {
		return nil, err
	}
	if err := validateStatus("payment_status", status); err != nil {
		return nil, err
	}
	cl := call{method: "GET", endpoint: epFind, path: pathFind + url.PathEscape(merchantUID)}
	if status != "" {
		cl.endpoint = epFindStatus
		cl.path += "/" + string(status)
	}
	var p Payment
	if err := c.do(ctx, cl, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// FindAllPayments lists every payment with a merchant_uid, one page at a time. Follow
// PaymentPage.Next (0 = last page) to read on. An empty result is an empty page or
// ErrNotFound, as iamport answers.
func (c *Client) FindAllPayments(ctx context.Context, req FindAllRequest) (*PaymentPage, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	cl := call{method: "GET", endpoint: epFindAll, path: pathFindAll + url.PathEscape(req.MerchantUID)}
	if req.Status != "" {
		cl.endpoint = epFindAllStatus
		cl.path += "/" + string(req.Status)
	}
	q := url.Values{}
	if req.Page > 0 {
		q.Set("page", strconv.Itoa(req.Page))
	}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Sorting != "" {
		q.Set("sorting", req.Sorting)
	}
	cl.query = q.Encode()
	var pp PaymentPage
	if err := c.do(ctx, cl, &pp); err != nil {
		return nil, err
	}
	return &pp, nil
}

// CancelPayment cancels a payment in full or in part (POST /payments/cancel) and returns
// the payment after the cancellation. Like every POST it is not retried once it may have
// been sent; an ErrOutcomeUnknown answer calls for a lookup.
func (c *Client) CancelPayment(ctx context.Context, req CancelRequest) (*Payment, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var p Payment
	if err := c.do(ctx, call{method: "POST", endpoint: epCancel, path: epCancel, body: &req}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Schedule registers scheduled payments for a billing key.
func (c *Client) Schedule(ctx context.Context, req ScheduleRequest) ([]ScheduleResult, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var out []ScheduleResult
	if err := c.do(ctx, call{method: "POST", endpoint: epSchedule, path: epSchedule, body: &req, mask: req.CustomerUID}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Unschedule revokes scheduled payments.
func (c *Client) Unschedule(ctx context.Context, req UnscheduleRequest) ([]ScheduleResult, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var out []ScheduleResult
	if err := c.do(ctx, call{method: "POST", endpoint: epUnschedule, path: epUnschedule, body: &req, mask: req.CustomerUID}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetSchedule reads one scheduled payment by merchant_uid. ErrNotFound if none.
func (c *Client) GetSchedule(ctx context.Context, merchantUID string) (*ScheduleResult, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	if err := ValidateMerchantUID(merchantUID); err != nil {
		return nil, err
	}
	var s ScheduleResult
	if err := c.do(ctx, call{method: "GET", endpoint: epScheduleByUID, path: pathScheduleByID + url.PathEscape(merchantUID)}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
