package core

import (
	"time"

	"github.com/billkey/billkey/store"
)

// ChargeStatus is the state of a charge: pending, then charging, then paid, failed or
// unknown (settled later by a lookup at iamport); a paid charge may end cancelled.
type ChargeStatus = store.ChargeStatus

// Charge states, as ChargeView.Status shows them.
const (
	ChargePending   = store.ChargePending
	ChargeCharging  = store.ChargeCharging
	ChargePaid      = store.ChargePaid
	ChargeFailed    = store.ChargeFailed
	ChargeUnknown   = store.ChargeUnknown
	ChargeCancelled = store.ChargeCancelled
)

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

// IssuanceResult is the outcome of an issued billing key: the key, and what the plan the
// registration was made for started: a one-off plan's charge (FirstCharge), or a
// subscription (Subscription, with its first charge in FirstCharge too).
type IssuanceResult struct {
	MerchantUID  string            `json:"merchant_uid"`
	Status       string            `json:"status"` // "issued"
	Key          *KeyInfo          `json:"billing_key,omitempty"`
	FirstCharge  *ChargeView       `json:"first_charge,omitempty"`
	Subscription *SubscriptionView `json:"subscription,omitempty"`
}

// ChargeView is what a user may see of a charge.
type ChargeView struct {
	MerchantUID string       `json:"merchant_uid"`
	PlanID      string       `json:"plan,omitempty"`
	Name        string       `json:"name"`
	Amount      int64        `json:"amount"`
	Status      ChargeStatus `json:"status"`
	FailReason  string       `json:"fail_reason,omitempty"`
	// FailCode is the error code of a failed charge: card_declined, charge_refused,
	// billing_key_gone, payment_mismatch or issuance_failed.
	FailCode string `json:"fail_code,omitempty"`
	// Refunded is how much of Amount was refunded (a charge refunded in full is
	// cancelled); ReceiptURL is iamport's receipt.
	Refunded   int64      `json:"refunded,omitempty"`
	ReceiptURL string     `json:"receipt_url,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	PaidAt     *time.Time `json:"paid_at,omitempty"`
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
	// From and ContentType describe the request it came in (for the inbox).
	From        string `json:"-" form:"-"`
	ContentType string `json:"-" form:"-"`
}
