package iamporttest

// CONTRACT FILE: the public API of the fake, agreed between the people building it.
// Bodies are filled in by the implementation; signatures change only by agreement.

import (
	"net/http"
	"time"

	"github.com/billkey/billkey/iamport"
)

// Credentials and merchant code the fake accepts by default.
const (
	Key          = "test_imp_key"
	Secret       = "test_imp_secret"
	MerchantCode = "imp00000000"
)

// Test card numbers for the fake payment window and IssueBillingKey. Digits only or with
// dashes/spaces; the fake normalises.
const (
	CardOK          = "4111-1111-1111-1111" // issued; every charge pays
	CardRefused     = "4000-0000-0000-0002" // refused at issuance (no key stored)
	CardDeclined    = "4000-0000-0000-0069" // issued; every charge is declined (code 0, status failed)
	CardDeclineAfter = "4000-0000-0000-03"  // prefix + two digits NN: issued; first NN charges pay, then declined
)

// Endpoint names a fake API endpoint for faults and counters.
type Endpoint string

// Endpoints.
const (
	EPGetToken       Endpoint = "getToken"       // POST /users/getToken
	EPAgain          Endpoint = "again"          // POST /subscribe/payments/again
	EPGetCustomer    Endpoint = "getCustomer"    // GET /subscribe/customers/{customer_uid}
	EPDeleteCustomer Endpoint = "deleteCustomer" // DELETE /subscribe/customers/{customer_uid}
	EPGetPayment     Endpoint = "getPayment"     // GET /payments/{imp_uid}
	EPFindPayment    Endpoint = "findPayment"    // GET /payments/find/{merchant_uid}[/{status}]
	EPFindAll        Endpoint = "findAll"        // GET /payments/findAll/{merchant_uid}[/{status}]
	EPCancel         Endpoint = "cancel"         // POST /payments/cancel
	EPSchedule       Endpoint = "schedule"       // POST /subscribe/payments/schedule
	EPUnschedule     Endpoint = "unschedule"     // POST /subscribe/payments/unschedule
	EPGetSchedule    Endpoint = "getSchedule"    // GET /subscribe/payments/schedule/{merchant_uid}
)

// Fault is one scripted misbehaviour for the next call of an endpoint.
type Fault struct {
	Latency    time.Duration // wait before handling (honours the request context)
	Status     int           // answer this HTTP status (5xx) with an error envelope, without acting
	Code       int           // answer HTTP 200 with this non-zero code and Message, without acting
	Message    string
	DropBefore bool          // close the connection before doing anything
	DropAfter  bool          // do the work (record the payment), then close the connection unanswered
	Truncate   bool          // do the work, then send only part of the body and close
	Stall      time.Duration // do the work, then hold the answer this long (or until the client goes)
}

// WebhookFormat is the body type of notifications.
type WebhookFormat int

// Webhook formats.
const (
	WebhookJSON WebhookFormat = iota
	WebhookForm
)

// WebhookConfig controls notifications. URL is used when a payment has no notice_url.
type WebhookConfig struct {
	URL        string
	Format     WebhookFormat
	Duplicates int           // extra copies of each notification
	Delay      time.Duration // wait before sending
	Reorder    bool          // deliver pending notifications in shuffled order
}

// Webhook is one notification the fake sent (or tried to).
type Webhook struct {
	URL         string
	ImpUID      string
	MerchantUID string
	Status      string
	Err         error // delivery error, nil if answered
	HTTPStatus  int
}

// Call is one request the fake served.
type Call struct {
	Endpoint Endpoint
	Method   string
	Path     string
	Status   int
	At       time.Time // fake clock
}

// Option configures a Fake.
type Option func(*options)

type options struct{}

// WithCredentials sets the key and secret the fake accepts.
func WithCredentials(key, secret string) Option

// WithClock starts the fake clock at t (default: the real time at creation).
func WithClock(t time.Time) Option

// WithSandbox marks every payment and customer the fake creates as sandbox (test channel).
func WithSandbox(sandbox bool) Option

// WithWebhook sets the notification configuration.
func WithWebhook(cfg WebhookConfig) Option

// WithTokenLifetime overrides the 30-minute token lifetime (tests of expiry).
func WithTokenLifetime(d time.Duration) Option

// Fake is the in-memory iamport: its state, its clock and its HTTP handler.
type Fake struct{}

// New returns a fake that is not listening; mount Handler() where you like.
func New(opts ...Option) *Fake

// Handler serves the API, iamport.js and the payment window. Mountable under a path prefix
// with http.StripPrefix; pages and the JS derive their base URL from the request.
func (f *Fake) Handler() http.Handler

// Now returns the fake clock's time. Advance moves it and runs due schedules.
func (f *Fake) Now() time.Time
func (f *Fake) Advance(d time.Duration)

// Inject queues faults for the next calls of ep, one fault per call, in order.
func (f *Fake) Inject(ep Endpoint, faults ...Fault)
func (f *Fake) ClearFaults()

// Count is how many calls of ep arrived (faulted ones included). Calls is the full log.
func (f *Fake) Count(ep Endpoint) int
func (f *Fake) Calls() []Call

// SetWebhook replaces the notification configuration. Webhooks lists the sent ones;
// WaitWebhooks blocks until pending deliveries finish or the timeout passes.
func (f *Fake) SetWebhook(cfg WebhookConfig)
func (f *Fake) Webhooks() []Webhook
func (f *Fake) WaitWebhooks(timeout time.Duration) bool

// Payment, PaymentsByMerchantUID and Customer read state; PutPayment replaces or inserts a
// payment as stored (tests use it to make the fake answer mismatches); DeleteCustomerKey
// removes a key without a call.
func (f *Fake) Payment(impUID string) (iamport.Payment, bool)
func (f *Fake) PaymentsByMerchantUID(merchantUID string) []iamport.Payment
func (f *Fake) PutPayment(p iamport.Payment)
func (f *Fake) Customer(customerUID string) (iamport.Customer, bool)

// CancelFromConsole cancels a payment as the merchant console would (amount 0 = full),
// sending a "cancelled" notification.
func (f *Fake) CancelFromConsole(impUID string, amount int64, reason string) (iamport.Payment, error)

// IssueRequest is what IMP.request_pay sends for a kcp_billing issuance plus the card typed
// in the window.
type IssueRequest struct {
	PG           string // "kcp_billing" or "kcp_billing.{site}"
	PayMethod    string // must be "card" (empty = card)
	MerchantUID  string
	CustomerUID  string // required
	Name         string
	Amount       int64 // display only
	BuyerName    string
	BuyerEmail   string
	BuyerTel     string
	NoticeURL    string
	MRedirectURL string
	CustomData   string
	CardNumber   string
	Mobile       bool // true: the result is a redirect to MRedirectURL
}

// IssueResult is what the window hands back to the merchant.
type IssueResult struct {
	// Rsp is the PC callback object (FACTS §10.2 fields).
	Rsp map[string]any
	// RedirectURL is m_redirect_url with the §10.3 query (mobile only).
	RedirectURL string
	// Payment is the issuance payment recorded (nil when refused before the PG).
	Payment *iamport.Payment
}

// IssueBillingKey performs the payment window's work without a browser: validates the
// kcp_billing rules, stores the key under CustomerUID (replacing an older one) unless the
// card is refused, records the issuance payment (customer_uid_usage "issue"), sends the
// notification, and returns what the window would return.
func (f *Fake) IssueBillingKey(req IssueRequest) (*IssueResult, error)

// Server is a Fake listening on loopback (httptest).
type Server struct {
	*Fake
	URL string
}

// NewServer starts a fake on 127.0.0.1. Close it when done.
func NewServer(opts ...Option) *Server
func (s *Server) Close()

// Connections is how many TCP connections clients opened to the server.
func (s *Server) Connections() int

// Client returns an iamport client for this server with the fake's credentials.
func (s *Server) Client(opts ...func(*iamport.Config)) *iamport.Client
