package demo

import (
	"strings"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// Message is one outcome in words a customer understands, in Korean and English.
type Message struct {
	KO string `json:"ko"`
	EN string `json:"en"`
	// Kind is how the page shows it: "ok", "info" or "error".
	Kind string `json:"kind"`
}

// Outcome codes of the page itself, beside billkey's problem codes.
const (
	MsgIssued          = "issued" // the mobile return's result when the card is registered
	MsgIssuedAndPaid   = "issued_paid"
	MsgPaid            = "paid"
	MsgRemoved         = "removed"
	MsgWindowOpen      = "window_open"
	MsgWindowCancelled = "window_cancelled" // the customer closed the window: their choice
	MsgSignIn          = "sign_in"          // the result page without a session
	MsgSDKUnavailable  = "sdk_unavailable"
	MsgNetwork         = "network"
	MsgSubscribed      = "subscribed"    // a subscription started, its first month paid
	MsgTrialStarted    = "trial_started" // a subscription started with a free trial
	MsgCanceled        = "canceled"      // cancelled at the end of the period
	MsgResumed         = "resumed"
	MsgPlanChanged     = "plan_changed" // from the next period on
	MsgTimeMoved       = "time_moved"   // the sandbox's time machine jumped
	// The staff's page.
	MsgRefunded      = "refunded"
	MsgRefundUnknown = "refund_unknown" // sent, the answer lost: the reconciler settles it
	MsgReconciled    = "reconciled"
	MsgReapplied     = "reapplied"
)

// pageOutcomes are the codes of messages that are the page's own, not billkey's.
var pageOutcomes = []string{MsgIssued, MsgIssuedAndPaid, MsgPaid, MsgRemoved, MsgWindowOpen,
	MsgWindowCancelled, MsgSignIn, MsgSDKUnavailable, MsgNetwork, MsgSubscribed, MsgTrialStarted,
	MsgCanceled, MsgResumed, MsgPlanChanged, MsgTimeMoved, MsgRefunded, MsgRefundUnknown, MsgReconciled, MsgReapplied}

// messages maps an error code (core.Code*, or one of the HTTP layer's, spelled as it
// comes in problem bodies) or a page outcome to words. Codes not listed
// show the "internal" text. The page gets the same table, so the server-rendered result
// page and the script say the same thing.
var messages = map[string]Message{
	MsgIssued: {Kind: "ok",
		KO: "카드가 등록되었습니다.",
		EN: "Your card is registered."},
	MsgIssuedAndPaid: {Kind: "ok",
		KO: "카드가 등록되었고 첫 결제가 완료되었습니다. 구독해 주셔서 감사합니다.",
		EN: "Your card is registered and the first payment is complete. Thank you for subscribing."},
	MsgPaid: {Kind: "ok",
		KO: "결제가 완료되었습니다. 구독해 주셔서 감사합니다.",
		EN: "Payment complete. Thank you for subscribing."},
	MsgSubscribed: {Kind: "ok",
		KO: "구독이 시작되었고 첫 달 결제가 완료되었습니다. 다음 결제일에 자동으로 갱신됩니다.",
		EN: "Your subscription has started and the first month is paid. It renews by itself on the next billing date."},
	MsgTrialStarted: {Kind: "ok",
		KO: "무료 체험이 시작되었습니다. 체험이 끝나는 날 등록된 카드로 첫 결제가 이루어집니다.",
		EN: "Your free trial has started. The registered card is first charged when the trial ends."},
	MsgCanceled: {Kind: "info",
		KO: "구독을 해지했습니다. 이미 결제한 기간이 끝날 때까지 이용할 수 있고, 더 이상 결제되지 않습니다.",
		EN: "Your subscription is cancelled. You keep it until the end of the period paid for, and you will not be charged again."},
	MsgResumed: {Kind: "ok",
		KO: "해지를 취소했습니다. 구독이 계속 갱신됩니다.",
		EN: "Cancellation undone: your subscription renews as before."},
	MsgPlanChanged: {Kind: "ok",
		KO: "요금제를 변경했습니다. 다음 결제일부터 새 요금제로 결제됩니다.",
		EN: "Plan changed: the next billing date charges the new plan."},
	MsgTimeMoved: {Kind: "info",
		KO: "테스트 시계를 앞으로 옮기고 갱신 작업을 실행했습니다.",
		EN: "The sandbox clock moved forward and the renewal sweep ran."},
	MsgRefunded: {Kind: "ok",
		KO: "환불했습니다. 고객의 결제 내역에도 환불이 표시됩니다.",
		EN: "Refunded. The customer's history shows the refund too."},
	MsgRefundUnknown: {Kind: "info",
		KO: "환불 요청의 응답을 받지 못했습니다. 다시 보내지 않고, 잠시 후 iamport의 기록으로 확인합니다.",
		EN: "The refund's answer was lost. It is never sent again: iamport's record settles it shortly."},
	MsgReconciled: {Kind: "ok",
		KO: "iamport에서 결제를 다시 조회해 반영했습니다.",
		EN: "The payment was looked up at iamport and applied."},
	MsgReapplied: {Kind: "ok",
		KO: "알림을 다시 적용했습니다. 결제를 iamport에서 다시 조회했습니다.",
		EN: "The notification was applied again, from a fresh lookup at iamport."},
	MsgRemoved: {Kind: "ok",
		KO: "등록된 카드를 삭제했습니다.",
		EN: "Your card was removed."},
	MsgWindowOpen: {Kind: "info",
		KO: "결제창에서 카드 정보를 입력해 주세요.",
		EN: "Enter your card details in the payment window."},
	MsgWindowCancelled: {Kind: "info",
		KO: "결제창을 닫아 카드를 등록하지 않았습니다. 언제든 다시 등록할 수 있습니다.",
		EN: "You closed the payment window, so no card was registered. You can register one at any time."},
	MsgSignIn: {Kind: "info",
		KO: "로그인하면 등록된 카드와 결제 내역을 볼 수 있습니다.",
		EN: "Sign in to see your card and your payments."},
	MsgSDKUnavailable: {Kind: "error",
		KO: "결제창을 불러오지 못했습니다. 네트워크를 확인한 뒤 다시 시도해 주세요.",
		EN: "The payment window could not be loaded. Check your connection and try again."},
	MsgNetwork: {Kind: "error",
		KO: "서버에 연결할 수 없습니다. 네트워크를 확인한 뒤 다시 시도해 주세요.",
		EN: "We could not reach the server. Check your connection and try again."},

	codes.IssuanceFailed: {Kind: "error",
		KO: "카드를 등록하지 못했습니다. 카드 정보를 확인하거나 다른 카드로 다시 시도해 주세요.",
		EN: "We could not register this card. Check the details or try another card."},
	codes.IssuanceExpired: {Kind: "error",
		KO: "카드 등록 시간이 지났습니다. 처음부터 다시 시도해 주세요.",
		EN: "The card registration took too long. Please start again."},
	codes.IssuanceSettled: {Kind: "error",
		KO: "이미 끝난 카드 등록 요청입니다. 처음부터 다시 시도해 주세요.",
		EN: "This card registration has already ended. Please start again."},
	"issuance_pending": {Kind: "info",
		KO: "카드 등록을 확인하고 있습니다. 잠시 후 새로고침해 주세요.",
		EN: "We are still confirming your card. Refresh the page in a moment."},
	codes.BillingKeyMissing: {Kind: "error",
		KO: "등록된 카드가 없습니다. 먼저 카드를 등록해 주세요.",
		EN: "There is no card on file. Please register a card first."},
	codes.BillingKeyGone: {Kind: "error",
		KO: "등록된 카드를 더 이상 사용할 수 없습니다. 카드를 다시 등록해 주세요.",
		EN: "Your registered card can no longer be used. Please register a card again."},
	codes.BillingKeyInUse: {Kind: "error",
		KO: "구독 중인 요금제가 이 카드로 결제되고 있어 삭제할 수 없습니다. 구독을 해지하거나 다른 카드를 먼저 등록해 주세요.",
		EN: "A subscription is charged to this card, so it cannot be removed. Cancel the subscription or register another card first."},
	codes.SubscriptionExists: {Kind: "info",
		KO: "이미 이 종류의 구독을 이용하고 있습니다.",
		EN: "You already have a subscription of this kind."},
	// Refund codes reach the operator's page, not a customer's.
	codes.ChargeNotRefundable: {Kind: "error",
		KO: "결제 완료 상태이고 환불할 금액이 남은 결제만 환불할 수 있습니다.",
		EN: "Only a paid charge with something left can be refunded."},
	codes.RefundExceedsBalance: {Kind: "error",
		KO: "남은 금액보다 많이 환불할 수 없습니다. 아무것도 요청하지 않았습니다.",
		EN: "The refund is larger than what is left; nothing was sent."},
	codes.RefundInProgress: {Kind: "info",
		KO: "이 결제의 다른 환불이 아직 처리 중입니다. 처리된 뒤 다시 시도해 주세요.",
		EN: "Another refund of this charge is still being settled. Try again once it is."},
	codes.RefundFailed: {Kind: "error",
		KO: "결제 서비스가 환불을 거절했습니다. 환불되지 않았습니다.",
		EN: "The payment service refused the refund; nothing was refunded."},
	codes.SubscriptionState: {Kind: "error",
		KO: "지금은 구독을 변경할 수 없습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.",
		EN: "The subscription cannot be changed right now. Reload the page and try again."},
	codes.ChargeRefused: {Kind: "error",
		KO: "결제 서비스에서 결제를 처리하지 못했습니다. 결제되지 않았으니 잠시 후 다시 시도해 주세요.",
		EN: "The payment service could not process the payment, and nothing was charged. Please try again in a moment."},
	codes.CardDeclined: {Kind: "error",
		KO: "카드사에서 결제를 거절했습니다. 잔액 부족이나 한도 초과일 수 있습니다. 다른 카드를 등록하거나 카드사에 문의해 주세요.",
		EN: "Your card company declined the payment, perhaps for insufficient funds or the card limit. Register another card or contact your card company."},
	codes.PaymentMismatch: {Kind: "error",
		KO: "결제 정보가 요청과 달라 처리하지 않았습니다. 고객센터로 문의해 주세요.",
		EN: "The payment did not match the request, so we did not accept it. Please contact us."},
	codes.ChargeInProgress: {Kind: "info",
		KO: "결제를 처리하고 있습니다. 결과는 잠시 후 결제 내역에 표시됩니다.",
		EN: "Your payment is being processed. The result will show in your history shortly."},
	codes.UpstreamUnavailable: {Kind: "error",
		KO: "결제 서비스에 잠시 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
		EN: "We cannot reach the payment service right now. Please try again in a moment."},
	codes.Unauthenticated: {Kind: "error",
		KO: "로그인이 필요합니다. 다시 로그인해 주세요.",
		EN: "Please sign in again."},
	"cross_site_request": {Kind: "error",
		KO: "보안을 위해 요청을 거부했습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.",
		EN: "For your security the request was refused. Reload the page and try again."},
	codes.NotFound: {Kind: "error",
		KO: "요청한 정보를 찾을 수 없습니다.",
		EN: "We could not find that."},
	codes.PlanUnknown: {Kind: "error",
		KO: "선택한 요금제를 찾을 수 없습니다. 페이지를 새로고침해 주세요.",
		EN: "That plan is not available. Please reload the page."},
	codes.InvalidRequest: {Kind: "error",
		KO: "요청을 처리할 수 없습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.",
		EN: "We could not process the request. Reload the page and try again."},
	"conflict": {Kind: "error",
		KO: "다른 요청과 겹쳤습니다. 다시 시도해 주세요.",
		EN: "That clashed with another request. Please try again."},
	codes.Internal: {Kind: "error",
		KO: "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.",
		EN: "Something went wrong on our side. Please try again later."},
}

// Codes that only a broken page could cause read like an invalid request.
func init() {
	for _, c := range []string{codes.IdempotencyKeyRequired, codes.IdempotencyKeyReused,
		"body_too_large", "unsupported_media_type", "method_not_allowed"} {
		messages[c] = messages[codes.InvalidRequest]
	}
}

// MessageFor returns the words for a problem code or page outcome; unknown codes get the
// generic "internal" text.
func MessageFor(code string) Message {
	if m, ok := messages[code]; ok {
		return m
	}
	return messages[codes.Internal]
}

// cancelRule recognises a payment window the customer closed, by the error code or the
// words of the window's answer (error_code, error_msg; the mobile return and iamport's
// records keep only the words).
type cancelRule struct {
	Codes   []string `json:"codes"`
	Phrases []string `json:"phrases"`
}

// windowCancel is the one cancel rule, for the script (PC) and the result page (mobile).
// KCP's window answers "사용자가 결제를 취소하셨습니다"; the fake says "사용자가 결제를
// 취소하였습니다" with error code iamporttest.WindowCancelCode.
var windowCancel = cancelRule{
	Codes:   []string{iamporttest.WindowCancelCode},
	Phrases: []string{"사용자가 결제를 취소"},
}

// matches reports whether a window's error code or message says the customer cancelled.
func (c cancelRule) matches(code, msg string) bool {
	for _, x := range c.Codes {
		if code != "" && code == x {
			return true
		}
	}
	for _, p := range c.Phrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// subscriptionStatusWords names a subscription status.
var subscriptionStatusWords = map[core.SubscriptionStatus]Message{
	core.SubscriptionIncomplete: {KO: "시작 중", EN: "Starting"},
	core.SubscriptionTrialing:   {KO: "무료 체험", EN: "Free trial"},
	core.SubscriptionActive:     {KO: "이용 중", EN: "Active"},
	core.SubscriptionPastDue:    {KO: "결제 실패", EN: "Past due"},
	core.SubscriptionCanceled:   {KO: "해지 예정", EN: "Cancelled"},
	core.SubscriptionEnded:      {KO: "종료", EN: "Ended"},
}

// refundStatusWords names a refund status (the staff's page).
var refundStatusWords = map[core.RefundStatus]Message{
	core.RefundSending:   {KO: "보내는 중", EN: "Sending"},
	core.RefundSucceeded: {KO: "환불 완료", EN: "Refunded"},
	core.RefundFailed:    {KO: "실패", EN: "Failed"},
	core.RefundUnknown:   {KO: "확인 중", EN: "Checking"},
}

// chargeStatusWords names a charge status for the history table.
var chargeStatusWords = map[core.ChargeStatus]Message{
	core.ChargePaid:      {KO: "결제 완료", EN: "Paid"},
	core.ChargeFailed:    {KO: "실패", EN: "Failed"},
	core.ChargeUnknown:   {KO: "확인 중", EN: "Checking"},
	core.ChargePending:   {KO: "처리 중", EN: "Processing"},
	core.ChargeCharging:  {KO: "처리 중", EN: "Processing"},
	core.ChargeCancelled: {KO: "취소됨", EN: "Cancelled"},
}
