package core

// CONTRACT FILE: the types, the Store interface, the port and the Service API agreed between
// the people building core, the stores and the adapters. Signatures without bodies are
// implemented elsewhere in this package; names change only by agreement.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/billkey/billkey/iamport"
)

// ---------------------------------------------------------------------------------------
// Records kept by a Store.

// IssuanceStatus is the state of one billing-key issuance attempt.
type IssuanceStatus string

// Issuance states. pending -> issued | failed | expired; nothing leaves the last three.
const (
	IssuancePending IssuanceStatus = "pending"
	IssuanceIssued  IssuanceStatus = "issued"
	IssuanceFailed  IssuanceStatus = "failed"
	IssuanceExpired IssuanceStatus = "expired"
)

// Issuance is one prepared billing-key issuance: the merchant_uid and customer_uid the
// server generated for a user before building IMP.request_pay.
type Issuance struct {
	MerchantUID       string // unique; ≤40, alphanumeric (R3)
	CustomerUID       string // unique; ≥128 random bits, alphanumeric (R3)
	UserID            string
	PlanID            string // "" = no charge on issuance
	Amount            int64  // amount shown in the window (plan price or 0)
	Status            IssuanceStatus
	ImpUID            string // issuance payment's imp_uid once known; unique when set
	FailReason        string
	CardName          string // from iamport's Customer, once issued
	CardNumber        string // masked, from iamport's Customer
	ChargeMerchantUID string // merchant_uid of the first charge when PlanID is set
	CreatedAt         time.Time
	ExpiresAt         time.Time
	UpdatedAt         time.Time
}

// BillingKey is the user's current billing key. A user has at most one.
type BillingKey struct {
	UserID              string
	CustomerUID         string // unique
	IssuanceMerchantUID string
	CardName            string
	CardNumber          string // masked
	PGProvider          string
	IssuedAt            time.Time
}

// ChargeStatus is the state of one charge. pending -> charging -> paid | failed | unknown;
// unknown -> charging (retry with the same merchant_uid after a lookup found nothing) |
// paid | failed; paid -> cancelled. Moved only by compare-and-set (Store.UpdateCharge).
// What iamport reports also moves a row: charging -> unknown (a stale attempt, before the
// reconciler retries it); pending | charging | unknown -> paid | failed | cancelled (a
// lookup or webhook settles it); failed -> paid (a late payment, never lost) and
// failed -> cancelled (that payment cancelled). cancelled is final.
type ChargeStatus string

// Charge states.
const (
	ChargePending   ChargeStatus = "pending"
	ChargeCharging  ChargeStatus = "charging"
	ChargePaid      ChargeStatus = "paid"
	ChargeFailed    ChargeStatus = "failed"
	ChargeUnknown   ChargeStatus = "unknown"
	ChargeCancelled ChargeStatus = "cancelled"
)

// Charge is one attempt to take money with a billing key. Its row is committed before
// `again` is called (R18).
type Charge struct {
	MerchantUID    string // unique; the same for every retry of this charge (R5)
	UserID         string
	IdempotencyKey string // unique per user
	CustomerUID    string
	PlanID         string // "" when the amount was given explicitly from Go code
	Name           string
	Amount         int64
	Status         ChargeStatus
	ImpUID         string // unique when set
	FailReason     string
	Attempts       int // how many times `again` was sent
	CreatedAt      time.Time
	UpdatedAt      time.Time
	PaidAt         time.Time // zero unless paid
	ClaimedBy      string    // reconciler instance holding the row, "" if none
	ClaimedUntil   time.Time // claim lease end
}

// ChargeUpdate is applied by Store.UpdateCharge when the charge is in one of the expected
// states. Empty strings and zero times leave a field as it is.
type ChargeUpdate struct {
	Status      ChargeStatus
	ImpUID      string
	FailReason  string
	PaidAt      time.Time
	AddAttempts int
	At          time.Time // becomes UpdatedAt
	// ReleaseClaim clears ClaimedBy/ClaimedUntil.
	ReleaseClaim bool
}

// ClaimRequest selects charges for a reconciler instance.
type ClaimRequest struct {
	Owner         string         // instance id
	Statuses      []ChargeStatus // e.g. charging, unknown, pending
	UpdatedBefore time.Time      // only rows not touched since
	Now           time.Time      // claims whose ClaimedUntil <= Now are free
	Lease         time.Duration  // ClaimedUntil = Now + Lease
	Limit         int
}

// Store errors; implementations return these (wrapped is fine) so core can branch.
var (
	ErrNotFound  = errors.New("billkey: not found")
	ErrConflict  = errors.New("billkey: state changed concurrently")
	ErrDuplicate = errors.New("billkey: duplicate")
)

// Store keeps issuances, billing keys and charges. Every method is safe for concurrent use
// and, for stores shared by several instances, across processes. Returned records are
// copies the caller may keep. Times are stored with at least millisecond precision, in UTC.
type Store interface {
	// CreateIssuance inserts a new issuance. ErrDuplicate if its merchant_uid or
	// customer_uid exists.
	CreateIssuance(ctx context.Context, is *Issuance) error
	// GetIssuance finds an issuance by merchant_uid. ErrNotFound if none.
	GetIssuance(ctx context.Context, merchantUID string) (*Issuance, error)
	// GetIssuanceByCustomerUID finds an issuance by customer_uid. ErrNotFound if none.
	GetIssuanceByCustomerUID(ctx context.Context, customerUID string) (*Issuance, error)
	// GetIssuanceByImpUID finds the issuance whose ImpUID is impUID. ErrNotFound if none (and for "").
	GetIssuanceByImpUID(ctx context.Context, impUID string) (*Issuance, error)
	// SettleIssuance moves a pending issuance to to.Status (issued, failed or expired),
	// copying ImpUID, FailReason, CardName, CardNumber, ChargeMerchantUID and UpdatedAt
	// from to. ErrConflict if it is not pending any more; ErrDuplicate if ImpUID belongs
	// to another issuance; ErrNotFound if none. When to.Status is issued and key is not nil
	// the user's billing key is replaced by key in the same transaction, and the replaced
	// key (if any, and if its customer_uid differs) is returned.
	SettleIssuance(ctx context.Context, merchantUID string, to *Issuance, key *BillingKey) (replaced *BillingKey, err error)
	// ExpirePendingIssuances marks pending issuances with ExpiresAt <= now as expired and
	// returns them (at most limit).
	ExpirePendingIssuances(ctx context.Context, now time.Time, limit int) ([]*Issuance, error)

	// GetBillingKey returns the user's key. ErrNotFound if none.
	GetBillingKey(ctx context.Context, userID string) (*BillingKey, error)
	// DeleteBillingKey removes the user's key if its customer_uid is customerUID.
	// ErrNotFound otherwise.
	DeleteBillingKey(ctx context.Context, userID, customerUID string) error

	// CreateCharge inserts c unless the user already has a charge with c.IdempotencyKey,
	// in which case it returns that charge and created=false (and c is not stored).
	// ErrDuplicate if c.MerchantUID exists under another idempotency key.
	CreateCharge(ctx context.Context, c *Charge) (stored *Charge, created bool, err error)
	// GetCharge finds a charge by merchant_uid. ErrNotFound if none.
	GetCharge(ctx context.Context, merchantUID string) (*Charge, error)
	// GetChargeByIdempotencyKey finds the user's charge created with idempotency key key.
	// ErrNotFound if none (another user's charge with the same key is never found).
	GetChargeByIdempotencyKey(ctx context.Context, userID, key string) (*Charge, error)
	// GetChargeByImpUID finds the charge whose ImpUID is impUID. ErrNotFound if none (and for "").
	GetChargeByImpUID(ctx context.Context, impUID string) (*Charge, error)
	// ListCharges returns the user's charges, newest first, at most limit.
	ListCharges(ctx context.Context, userID string, limit int) ([]*Charge, error)
	// UpdateCharge applies u if the charge's status is one of from (compare-and-set) and
	// returns the updated charge. ErrConflict if the status is not in from; ErrNotFound if
	// no such charge; ErrDuplicate if u.ImpUID belongs to another charge.
	UpdateCharge(ctx context.Context, merchantUID string, from []ChargeStatus, u ChargeUpdate) (*Charge, error)
	// ClaimCharges claims up to req.Limit charges in req.Statuses with UpdatedAt <
	// req.UpdatedBefore whose claim is free, for req.Owner until req.Now+req.Lease.
	// Concurrent callers (goroutines or instances) never receive the same row while its
	// claim holds. Oldest first.
	ClaimCharges(ctx context.Context, req ClaimRequest) ([]*Charge, error)
}

// ---------------------------------------------------------------------------------------
// Configuration.

// Buyer is the authenticated user the merchant's hook returns. UserID is required.
type Buyer struct {
	UserID string
	Name   string // optional, shown in the window (≤16 at iamport)
	Email  string // optional
	Tel    string // optional
}

// Plan is a price the server owns (R1).
type Plan struct {
	ID     string // e.g. "basic-monthly"
	Name   string // order name sent to iamport (≤40)
	Amount int64  // KRW, > 0
}

// EventKind names what happened.
type EventKind string

// Events the merchant's sink receives, once per state change.
const (
	EventBillingKeyIssued  EventKind = "billing_key.issued"
	EventBillingKeyDeleted EventKind = "billing_key.deleted"
	EventIssuanceFailed    EventKind = "issuance.failed"
	EventChargePaid        EventKind = "charge.paid"
	EventChargeFailed      EventKind = "charge.failed"
	EventChargeUnknown     EventKind = "charge.unknown"
	EventChargeCancelled   EventKind = "charge.cancelled"
	EventPaymentMismatch   EventKind = "payment.mismatch" // iamport's record disagrees with ours
	EventLatePayment       EventKind = "payment.late"     // paid after we settled otherwise
)

// Event is delivered to the EventSink. It carries no secret and no full customer_uid.
type Event struct {
	Kind        EventKind
	UserID      string
	MerchantUID string
	ImpUID      string
	PlanID      string
	Amount      int64
	Reason      string
	At          time.Time
}

// EventSink receives events. Handle is called synchronously after the state change is
// committed; keep it fast.
type EventSink interface {
	Handle(ctx context.Context, e Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, e Event)

// Handle calls f.
func (f EventSinkFunc) Handle(ctx context.Context, e Event) { f(ctx, e) }

// Config configures a Service. New validates it.
type Config struct {
	MerchantCode string          // "imp12345678", public, passed to IMP.init
	Client       *iamport.Client // required
	Store        Store           // required
	PG           string          // default "kcp_billing"; "kcp_billing.{site code}" allowed
	SDKURL       string          // default "https://cdn.iamport.kr/v1/iamport.js"; an https URL or a path on this origin
	Company      string          // shown in the KCP window
	SiteLogo     string          // bypass.site_logo (absolute https URL, PC only)
	BirthDayYN   bool            // bypass.batch_birth_day_yn = "Y"
	Plans        []Plan          // the plan catalogue
	// PublicURL is the absolute URL of the prefix the routes are mounted under, e.g.
	// "https://shop.example.com/billing"; m_redirect_url is PublicURL+"/billing-key/redirect".
	PublicURL string
	// NoticeURL is the absolute webhook URL sent as notice_url; "" = the console's URL.
	NoticeURL string
	// SuccessURL and FailureURL are where the mobile redirect handler sends the browser
	// (absolute, or a path on PublicURL's origin). A "result" query parameter is added.
	SuccessURL  string
	FailureURL  string
	IssuanceTTL time.Duration // default 30 minutes
	TestMode    bool          // accept sandbox payments and keys (R17)
	Logger      *slog.Logger  // nil = silent
	Now         func() time.Time
	Events      EventSink
	// ReconcileAfter: charging/unknown rows untouched this long are settled by Reconcile.
	// Default 2 minutes. Every `again` (a charge, the plan's first charge after an
	// issuance, a reconciler's resend) is cut off after ReconcileAfter/2, whatever the
	// caller's deadline or the iamport client's Timeout, so that no reconciler (on any
	// instance) looks a merchant_uid up and sends it again while an earlier `again` for
	// it may still be in flight; a cut-off call leaves the charge unknown for the
	// reconciler. Set it to at least twice the time iamport may take to answer `again`.
	ReconcileAfter time.Duration
	// InstanceID names this process in row claims; default a random id.
	InstanceID string
	// MaxBodyBytes caps request bodies (default 16 KiB).
	MaxBodyBytes int64
	// WebhookAllowlist, when not empty, restricts the webhook route to these peer
	// addresses (iamport's: 52.78.100.19, 52.78.48.223, 52.78.5.241). TrustedProxyHops is
	// how many reverse proxies in front append to X-Forwarded-For (0 = use the peer).
	WebhookAllowlist []netip.Prefix
	TrustedProxyHops int
}

// ---------------------------------------------------------------------------------------
// The Go API.

// RequestPayParams is exactly what IMP.request_pay takes for kcp_billing.
type RequestPayParams struct {
	PG           string  `json:"pg"`
	PayMethod    string  `json:"pay_method"`
	MerchantUID  string  `json:"merchant_uid"`
	Name         string  `json:"name"`
	Amount       int64   `json:"amount"`
	CustomerUID  string  `json:"customer_uid"`
	BuyerName    string  `json:"buyer_name,omitempty"`
	BuyerEmail   string  `json:"buyer_email,omitempty"`
	BuyerTel     string  `json:"buyer_tel,omitempty"`
	MRedirectURL string  `json:"m_redirect_url"`
	NoticeURL    string  `json:"notice_url,omitempty"`
	Company      string  `json:"company,omitempty"`
	Bypass       *Bypass `json:"bypass,omitempty"`
}

// Bypass holds the KCP-only request_pay options.
type Bypass struct {
	SiteLogo        string `json:"site_logo,omitempty"`
	BatchBirthDayYN string `json:"batch_birth_day_yn,omitempty"`
}

// IssuanceRequest is the issue-billing page data: what the page passes to IMP.init and
// IMP.request_pay, and the SDK script to load.
type IssuanceRequest struct {
	IMPCode   string           `json:"imp_code"`
	SDKURL    string           `json:"sdk_url"`
	Params    RequestPayParams `json:"params"`
	ExpiresAt time.Time        `json:"expires_at"`
}

// Source says where a completion came from.
type Source string

// Completion sources.
const (
	SourceCallback Source = "callback" // PC IMP.request_pay callback
	SourceRedirect Source = "redirect" // mobile m_redirect_url
	SourceWebhook  Source = "webhook"
)

// CompleteInput is what the browser or iamport told us. Success flags are hints only (R2).
type CompleteInput struct {
	MerchantUID string
	ImpUID      string // may be empty (pre-validation failure, or a redirect carrying only merchant_uid)
	Source      Source
	Success     *bool  // imp_success / success, when present
	ErrorCode   string // error_code from the window, when present
	ErrorMsg    string
}

// KeyInfo is what a user may see of their billing key.
type KeyInfo struct {
	CardName   string    `json:"card_name"`
	CardNumber string    `json:"card_number"` // masked
	IssuedAt   time.Time `json:"issued_at"`
}

// IssuanceResult is the settled outcome of an issuance.
type IssuanceResult struct {
	MerchantUID string         `json:"merchant_uid"`
	Status      IssuanceStatus `json:"status"`
	FailReason  string         `json:"fail_reason,omitempty"`
	Key         *KeyInfo       `json:"billing_key,omitempty"`
	FirstCharge *ChargeView    `json:"first_charge,omitempty"`
}

// ChargeView is what a user may see of a charge.
type ChargeView struct {
	MerchantUID string       `json:"merchant_uid"`
	PlanID      string       `json:"plan,omitempty"`
	Name        string       `json:"name"`
	Amount      int64        `json:"amount"`
	Status      ChargeStatus `json:"status"`
	FailReason  string       `json:"fail_reason,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	PaidAt      *time.Time   `json:"paid_at,omitempty"`
}

// ChargeRequest asks for one charge. PlanID selects the price from the catalogue; from Go
// code only, Amount and Name may be given instead (PlanID empty).
type ChargeRequest struct {
	UserID         string
	PlanID         string
	IdempotencyKey string // required; the same key returns the same charge
	Amount         int64
	Name           string
}

// Notification is a parsed webhook body: it only names what to re-fetch (R8).
type Notification struct {
	ImpUID         string `json:"imp_uid" form:"imp_uid"`
	MerchantUID    string `json:"merchant_uid" form:"merchant_uid"`
	Status         string `json:"status" form:"status"`
	CancellationID string `json:"cancellation_id,omitempty" form:"cancellation_id"`
}

// ReconcileReport: see reconcile.go.

// Service: see service.go.

// Implemented in service.go and friends:
//
//	func New(cfg Config) (*Service, error)
//	func (s *Service) PrepareIssuance(ctx context.Context, buyer Buyer, planID string) (*IssuanceRequest, error)
//	func (s *Service) CompleteIssuance(ctx context.Context, userID string, in CompleteInput) (*IssuanceResult, error)
//	    // userID "" only for SourceWebhook (the webhook has no user; ownership is the record's)
//	func (s *Service) BillingKey(ctx context.Context, userID string) (*KeyInfo, error)
//	func (s *Service) DeleteBillingKey(ctx context.Context, userID string) error
//	func (s *Service) Charge(ctx context.Context, req ChargeRequest) (*ChargeView, error)
//	func (s *Service) GetCharge(ctx context.Context, userID, merchantUID string) (*ChargeView, error)
//	func (s *Service) ListCharges(ctx context.Context, userID string, limit int) ([]ChargeView, error)
//	func (s *Service) ApplyNotification(ctx context.Context, n Notification) error
//	func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error)
//	func (s *Service) RunReconciler(ctx context.Context, every time.Duration) // until ctx ends
//	func (s *Service) Plans() []Plan

// ---------------------------------------------------------------------------------------
// Errors the Service returns; the routes render them as RFC 9457 problem+json.

// Error is a failure with a stable code. Status is the HTTP status the routes answer.
type Error struct {
	Code   string // stable, e.g. "plan_unknown"
	Status int
	Detail string // safe to show a user: no secret, no full customer_uid
	Err    error  // cause, for errors.Is/As; never rendered
}

// Stable problem codes.
const (
	CodeUnauthenticated        = "unauthenticated"          // 401: no buyer
	CodeForbiddenCrossSite     = "cross_site_request"       // 403 (R16)
	CodeForbiddenSource        = "webhook_source_forbidden" // 403 (R10)
	CodeNotFound               = "not_found"                // 404: also foreign records (R11)
	CodeBodyTooLarge           = "body_too_large"           // 413
	CodeUnsupportedMediaType   = "unsupported_media_type"   // 415
	CodeInvalidRequest         = "invalid_request"          // 400/422 validation
	CodePlanUnknown            = "plan_unknown"             // 422
	CodeIdempotencyKeyRequired = "idempotency_key_required" // 400
	CodeIdempotencyKeyReused   = "idempotency_key_reused"   // 422: same key, different plan
	CodeIssuanceExpired        = "issuance_expired"         // 410
	CodeIssuanceSettled        = "issuance_settled"         // 409 (already failed/expired)
	CodeIssuanceFailed         = "issuance_failed"          // 422: iamport says not issued
	CodeBillingKeyMissing      = "billing_key_missing"      // 409
	CodeCardDeclined           = "card_declined"            // 402
	CodePaymentMismatch        = "payment_mismatch"         // 422 (R1/R2)
	CodeChargeInProgress       = "charge_in_progress"       // 409/202: outcome pending or unknown
	CodeUpstreamUnavailable    = "upstream_unavailable"     // 502/503: iamport unreachable
	CodeInternal               = "internal"                 // 500
)

// ---------------------------------------------------------------------------------------
// The port every web-framework adapter implements, and the route table.

// Request is the core's view of one HTTP request. Adapters implement it.
type Request interface {
	Context() context.Context
	Method() string
	// PathValue returns a path parameter named in the route pattern ("merchant_uid").
	PathValue(name string) string
	Query() url.Values
	Header() http.Header
	// Body is the raw request body; core caps what it reads.
	Body() io.Reader
	// Host is the request's Host; RemoteAddr the peer "ip:port"; Scheme "http"/"https" as
	// the adapter knows it (TLS or not).
	Host() string
	RemoteAddr() string
	// Buyer runs the merchant's hook. A zero UserID or an error means "no user" (401).
	Buyer() (Buyer, error)
}

// Response is where core writes its answer. Adapters implement it over their framework.
type Response interface {
	Header() http.Header
	WriteHeader(status int)
	Write(p []byte) (int, error)
}

// Route is one entry of the route table. Pattern is relative to the mount prefix and uses
// {name} for path parameters (Go 1.22 ServeMux style); adapters translate it.
type Route struct {
	Method  string
	Pattern string
	Handle  func(w Response, r Request)
}

// Implemented in routes.go:
//
//	func (s *Service) Routes() []Route      // the user routes (mount behind the merchant's auth)
//	func (s *Service) WebhookRoute() Route  // POST /webhook (mount outside user auth)
