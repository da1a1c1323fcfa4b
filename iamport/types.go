package iamport

import "encoding/json"

// Types mirror the iamport V1 REST API (Swagger 2.0 definitions PaymentAnnotation,
// CustomerAnnotation, ScheduleResultAnnotation, AuthAnnotation). Amounts are KRW in int64.
// Their json tags are what Marshal writes; answers are read through the wire shapes of
// wire.go, whose names a test holds equal to these. Decoding is tolerant where sources
// disagree: numbers may arrive as 1000.0 or "1000", card_type as int, string or null, and
// a timestamp of 0 means "not set".

// NotWholeAmount is what an amount field (Payment.Amount, Payment.CancelAmount,
// Cancel.Amount, ScheduleResult.Amount) holds when iamport wrote it as a number that is not
// a whole number of won (1000.5, or beyond int64). KRW has no minor unit, so such an
// answer is never taken at face value: the value is negative, so it equals no amount
// anybody charged or showed, and the record's AmountNotWhole is set.
const NotWholeAmount int64 = -1

// PaymentStatus is the status of a payment at iamport.
type PaymentStatus string

// Payment statuses.
const (
	StatusReady     PaymentStatus = "ready"
	StatusPaid      PaymentStatus = "paid"
	StatusFailed    PaymentStatus = "failed"
	StatusCancelled PaymentStatus = "cancelled"
)

// CustomerUIDUsage says what a payment did with its customer_uid.
const (
	UsageIssue            = "issue"             // billing-key issuance through the payment window
	UsagePayment          = "payment"           // charge by key (again)
	UsagePaymentScheduled = "payment.scheduled" // scheduled charge
)

// Timestamp is a unix time in seconds as iamport sends it; 0 means "not set".
type Timestamp int64

// Payment is iamport's payment object (PaymentAnnotation).
type Payment struct {
	ImpUID        string `json:"imp_uid"`
	MerchantUID   string `json:"merchant_uid"`
	PayMethod     string `json:"pay_method,omitempty"`
	Channel       string `json:"channel,omitempty"`
	PGProvider    string `json:"pg_provider,omitempty"`
	EmbPGProvider string `json:"emb_pg_provider,omitempty"`
	PGTID         string `json:"pg_tid,omitempty"`
	PGID          string `json:"pg_id,omitempty"`
	// Sandbox is whether the payment was made on a test channel; nil when the answer had
	// no sandbox key (real answers captured from 2022 to 2024 have none) or a null one.
	Sandbox           *bool  `json:"sandbox,omitempty"`
	Escrow            bool   `json:"escrow"`
	ApplyNum          string `json:"apply_num,omitempty"`
	BankCode          string `json:"bank_code,omitempty"`
	BankName          string `json:"bank_name,omitempty"`
	CardCode          string `json:"card_code,omitempty"`
	CardName          string `json:"card_name,omitempty"`
	CardIssuerCode    string `json:"card_issuer_code,omitempty"`
	CardIssuerName    string `json:"card_issuer_name,omitempty"`
	CardPublisherCode string `json:"card_publisher_code,omitempty"`
	CardPublisherName string `json:"card_publisher_name,omitempty"`
	CardQuota         int    `json:"card_quota"`
	CardNumber        string `json:"card_number,omitempty"` // masked
	CardType          *int   `json:"card_type"`             // 0 credit, 1 check, nil unknown
	Name              string `json:"name,omitempty"`
	Amount            int64  `json:"amount"`        // NotWholeAmount when not a whole number
	CancelAmount      int64  `json:"cancel_amount"` // NotWholeAmount when not a whole number
	// AmountNotWhole reports that amount, cancel_amount or an amount in cancel_history was
	// not a whole number of won; each such field holds NotWholeAmount. Such a payment
	// matches no charge: compare it as a mismatch, never as paid.
	AmountNotWhole    bool          `json:"-"`
	Currency          string        `json:"currency"`
	BuyerName         string        `json:"buyer_name,omitempty"`
	BuyerEmail        string        `json:"buyer_email,omitempty"`
	BuyerTel          string        `json:"buyer_tel,omitempty"`
	BuyerAddr         string        `json:"buyer_addr,omitempty"`
	BuyerPostcode     string        `json:"buyer_postcode,omitempty"`
	CustomData        string        `json:"custom_data,omitempty"`
	UserAgent         string        `json:"user_agent,omitempty"`
	Status            PaymentStatus `json:"status"`
	StartedAt         Timestamp     `json:"started_at"`
	PaidAt            Timestamp     `json:"paid_at"`
	FailedAt          Timestamp     `json:"failed_at"`
	CancelledAt       Timestamp     `json:"cancelled_at"`
	FailReason        string        `json:"fail_reason,omitempty"`
	CancelReason      string        `json:"cancel_reason,omitempty"`
	ReceiptURL        string        `json:"receipt_url,omitempty"`
	CancelHistory     []Cancel      `json:"cancel_history"`
	CashReceiptIssued bool          `json:"cash_receipt_issued"`
	CustomerUID       string        `json:"customer_uid,omitempty"`
	CustomerUIDUsage  string        `json:"customer_uid_usage,omitempty"`
}

// Cancel is one entry of a payment's cancel history (PaymentCancelAnnotation).
type Cancel struct {
	PGTID          string    `json:"pg_tid"`
	Amount         int64     `json:"amount"` // NotWholeAmount when not a whole number
	AmountNotWhole bool      `json:"-"`      // amount was not a whole number of won
	CancelledAt    Timestamp `json:"cancelled_at"`
	Reason         string    `json:"reason"`
	CancellationID string    `json:"cancellation_id"`
	ReceiptURL     string    `json:"receipt_url,omitempty"`
}

// Customer is a billing key registered under a customer_uid (CustomerAnnotation).
// iamport never reveals the key itself; CardNumber is masked.
type Customer struct {
	CustomerUID string `json:"customer_uid"`
	PGProvider  string `json:"pg_provider"`
	PGID        string `json:"pg_id"`
	// Sandbox is whether the key was issued on a test channel; nil when the answer had no
	// sandbox key or a null one.
	Sandbox           *bool     `json:"sandbox,omitempty"`
	CustomerID        string    `json:"customer_id,omitempty"`
	CardName          string    `json:"card_name"`
	CardCode          string    `json:"card_code,omitempty"`
	CardIssuerCode    string    `json:"card_issuer_code,omitempty"`
	CardIssuerName    string    `json:"card_issuer_name,omitempty"`
	CardPublisherCode string    `json:"card_publisher_code,omitempty"`
	CardPublisherName string    `json:"card_publisher_name,omitempty"`
	CardNumber        string    `json:"card_number,omitempty"` // masked
	CardType          *int      `json:"card_type"`
	CustomerName      string    `json:"customer_name,omitempty"`
	CustomerTel       string    `json:"customer_tel,omitempty"`
	CustomerEmail     string    `json:"customer_email,omitempty"`
	CustomerAddr      string    `json:"customer_addr,omitempty"`
	CustomerPostcode  string    `json:"customer_postcode,omitempty"`
	Inserted          Timestamp `json:"inserted"`
	Updated           Timestamp `json:"updated"`
}

// ScheduleStatus is the state of a scheduled payment.
type ScheduleStatus string

// Schedule statuses.
const (
	ScheduleScheduled ScheduleStatus = "scheduled"
	ScheduleExecuted  ScheduleStatus = "executed"
	ScheduleRevoked   ScheduleStatus = "revoked"
)

// ScheduleResult is a scheduled payment (ScheduleResultAnnotation).
type ScheduleResult struct {
	CustomerUID    string         `json:"customer_uid"`
	MerchantUID    string         `json:"merchant_uid"`
	ImpUID         string         `json:"imp_uid,omitempty"` // empty until executed
	PGProvider     string         `json:"pg_provider,omitempty"`
	PGID           string         `json:"pg_id,omitempty"`
	CustomerID     string         `json:"customer_id,omitempty"`
	ScheduleAt     Timestamp      `json:"schedule_at"`
	ExecutedAt     Timestamp      `json:"executed_at"`
	RevokedAt      Timestamp      `json:"revoked_at"`
	Amount         int64          `json:"amount"` // NotWholeAmount when not a whole number
	AmountNotWhole bool           `json:"-"`      // amount was not a whole number of won
	Currency       string         `json:"currency,omitempty"`
	Name           string         `json:"name,omitempty"`
	BuyerName      string         `json:"buyer_name,omitempty"`
	BuyerEmail     string         `json:"buyer_email,omitempty"`
	BuyerTel       string         `json:"buyer_tel,omitempty"`
	BuyerAddr      string         `json:"buyer_addr,omitempty"`
	BuyerPostcode  string         `json:"buyer_postcode,omitempty"`
	CustomData     string         `json:"custom_data,omitempty"`
	ScheduleStatus ScheduleStatus `json:"schedule_status"`
	PaymentStatus  PaymentStatus  `json:"payment_status,omitempty"` // "", paid, failed, cancelled
	FailReason     string         `json:"fail_reason,omitempty"`
	PromotionID    string         `json:"promotion_id,omitempty"`
}

// Token is an access token as returned by POST /users/getToken (AuthAnnotation).
type Token struct {
	AccessToken string    `json:"access_token"`
	ExpiredAt   Timestamp `json:"expired_at"`
	Now         Timestamp `json:"now"`
}

// PaymentPage is one page of payments (PagedPaymentAnnotation): total count, previous and
// next page numbers (0 = none) and the list.
type PaymentPage struct {
	Total    int       `json:"total"`
	Previous int       `json:"previous"`
	Next     int       `json:"next"`
	List     []Payment `json:"list"`
}

// Envelope is the body of every iamport response: code 0 means the request was processed.
// Response is left raw so callers decode it into the type the endpoint returns.
type Envelope struct {
	Code     int             `json:"code"`
	Message  *string         `json:"message"`
	Response json.RawMessage `json:"response"`
}

// AgainRequest is the body of POST /subscribe/payments/again.
type AgainRequest struct {
	CustomerUID    string `json:"customer_uid"`          // required, ≤80
	MerchantUID    string `json:"merchant_uid"`          // required, ≤40, new
	Amount         int64  `json:"amount"`                // required, > 0
	Name           string `json:"name"`                  // required, ≤40
	Currency       string `json:"currency,omitempty"`    // default KRW
	TaxFree        *int64 `json:"tax_free,omitempty"`    // tax-exempt part of Amount
	VATAmount      *int64 `json:"vat_amount,omitempty"`  // some PGs only
	BuyerName      string `json:"buyer_name,omitempty"`  // ≤16
	BuyerEmail     string `json:"buyer_email,omitempty"` // ≤64
	BuyerTel       string `json:"buyer_tel,omitempty"`   // ≤16
	BuyerAddr      string `json:"buyer_addr,omitempty"`  // ≤128
	BuyerPostcode  string `json:"buyer_postcode,omitempty"`
	CardQuota      int    `json:"card_quota,omitempty"`  // ≥2, only for amounts ≥ 50,000
	CustomData     string `json:"custom_data,omitempty"` // a JSON string
	NoticeURL      string `json:"notice_url,omitempty"`
	BrowserIP      string `json:"browser_ip,omitempty"`
	ProductType    string `json:"product_type,omitempty"` // real | digital
	ProductCount   int    `json:"product_count,omitempty"`
	Bypass         string `json:"bypass,omitempty"` // PG-specific JSON string
	PromotionID    string `json:"promotion_id,omitempty"`
	ChannelKey     string `json:"channel_key,omitempty"` // ≤55
	InterestFree   bool   `json:"interest_free_by_merchant,omitempty"`
	UseCardPoint   bool   `json:"use_card_point,omitempty"`
	CashReceiptTyp string `json:"cash_receipt_type,omitempty"` // person | company | anonymous
}

// CancelRequest is the body of POST /payments/cancel. One of ImpUID or MerchantUID is
// required (ImpUID wins when both are set). Amount 0 cancels in full.
type CancelRequest struct {
	ImpUID        string `json:"imp_uid,omitempty"`
	MerchantUID   string `json:"merchant_uid,omitempty"`
	Amount        int64  `json:"amount,omitempty"`
	TaxFree       *int64 `json:"tax_free,omitempty"`
	VATAmount     *int64 `json:"vat_amount,omitempty"`
	Checksum      *int64 `json:"checksum,omitempty"` // expected cancellable balance; nil = no check
	Reason        string `json:"reason,omitempty"`
	EnableWebhook bool   `json:"enable_webhook,omitempty"`
}

// ScheduleRequest is the body of POST /subscribe/payments/schedule for an existing key.
type ScheduleRequest struct {
	CustomerUID    string          `json:"customer_uid"`
	CheckingAmount int64           `json:"checking_amount,omitempty"`
	Schedules      []ScheduleEntry `json:"schedules"`
}

// ScheduleEntry is one payment to run at ScheduleAt.
type ScheduleEntry struct {
	MerchantUID   string    `json:"merchant_uid"`
	ScheduleAt    Timestamp `json:"schedule_at"`
	Amount        int64     `json:"amount"`
	Name          string    `json:"name"`
	Currency      string    `json:"currency,omitempty"`
	TaxFree       *int64    `json:"tax_free,omitempty"`
	BuyerName     string    `json:"buyer_name,omitempty"`
	BuyerEmail    string    `json:"buyer_email,omitempty"`
	BuyerTel      string    `json:"buyer_tel,omitempty"`
	BuyerAddr     string    `json:"buyer_addr,omitempty"`
	BuyerPostcode string    `json:"buyer_postcode,omitempty"`
	CustomData    string    `json:"custom_data,omitempty"`
	NoticeURL     string    `json:"notice_url,omitempty"`
}

// UnscheduleRequest is the body of POST /subscribe/payments/unschedule. Without
// MerchantUIDs every schedule of CustomerUID is revoked.
type UnscheduleRequest struct {
	CustomerUID  string   `json:"customer_uid,omitempty"`
	MerchantUIDs []string `json:"merchant_uid,omitempty"`
}

// FindAllRequest selects GET /payments/findAll/{merchant_uid}[/{status}].
type FindAllRequest struct {
	MerchantUID string
	Status      PaymentStatus // "" = any
	Page        int           // 1-based; 0 = first
	Limit       int           // 1..1000; 0 = server default (20)
	Sorting     string        // -started (default), started, -paid, paid, -updated, updated
}
