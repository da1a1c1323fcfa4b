package iamport

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// DefaultBaseURL is the iamport V1 REST API.
const DefaultBaseURL = "https://api.iamport.kr"

// Config configures a Client. Key and Secret are required; everything else has a safe default.
type Config struct {
	Key        string       // REST API key (imp_key)
	Secret     string       // REST API secret (imp_secret); never logged
	BaseURL    string       // default DefaultBaseURL; no trailing slash needed
	HTTPClient *http.Client // default: a client with a keep-alive pool sized for concurrent use
	Logger     *slog.Logger // nil = silent
	Tier       string       // optional Tier header for agency/sub-merchant setups
	// Timeout applies to each call whose context has no deadline. Default 10s.
	Timeout time.Duration
	// MaxRetries bounds the retries of a lookup (GET) on transport errors and 5xx. Default 3;
	// negative disables.
	MaxRetries int
}

// Client is a concurrency-safe iamport V1 client. Create it once with New and share it.
type Client struct{}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error)

// Token returns a valid access token, fetching one if the cache is empty or stale.
// Concurrent callers share one getToken request.
func (c *Client) Token(ctx context.Context) (string, error)

// Again charges a stored billing key (POST /subscribe/payments/again). It returns the paid
// payment, a *DeclinedError (ErrDeclined) when the card was refused, an *APIError for a
// request-level failure (no payment made), or a *TransportError matching ErrOutcomeUnknown
// when the charge may or may not have happened: then look req.MerchantUID up before any retry.
func (c *Client) Again(ctx context.Context, req AgainRequest) (*Payment, error)

// GetCustomer reads the billing key registered under customerUID. ErrNotFound if none.
func (c *Client) GetCustomer(ctx context.Context, customerUID string) (*Customer, error)

// DeleteCustomer deletes the billing key under customerUID at iamport. ErrNotFound if none.
func (c *Client) DeleteCustomer(ctx context.Context, customerUID, reason string) (*Customer, error)

// GetPayment reads one payment by imp_uid. With includeSandbox false, test-channel payments
// are not found.
func (c *Client) GetPayment(ctx context.Context, impUID string, includeSandbox bool) (*Payment, error)

// FindPayment reads the newest payment with merchantUID and, if status is not empty, that
// status (GET /payments/find/{merchant_uid}[/{status}]). ErrNotFound if none.
func (c *Client) FindPayment(ctx context.Context, merchantUID string, status PaymentStatus) (*Payment, error)

// FindAllPayments lists every payment with a merchant_uid, one page at a time.
func (c *Client) FindAllPayments(ctx context.Context, req FindAllRequest) (*PaymentPage, error)

// CancelPayment cancels a payment in full or in part (POST /payments/cancel).
func (c *Client) CancelPayment(ctx context.Context, req CancelRequest) (*Payment, error)

// Schedule registers scheduled payments for a billing key.
func (c *Client) Schedule(ctx context.Context, req ScheduleRequest) ([]ScheduleResult, error)

// Unschedule revokes scheduled payments.
func (c *Client) Unschedule(ctx context.Context, req UnscheduleRequest) ([]ScheduleResult, error)

// GetSchedule reads one scheduled payment by merchant_uid. ErrNotFound if none.
func (c *Client) GetSchedule(ctx context.Context, merchantUID string) (*ScheduleResult, error)
