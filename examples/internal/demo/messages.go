package demo

import "github.com/billkey/billkey/core"

// Message is one outcome in words a customer understands, in Korean and English.
type Message struct {
	KO string `json:"ko"`
	EN string `json:"en"`
	// Kind is how the page shows it: "ok", "info" or "error".
	Kind string `json:"kind"`
}

// Outcome codes of the page itself, beside billkey's problem codes.
const (
	MsgIssued         = core.ResultIssued // "issued": the card is registered
	MsgPaid           = "paid"
	MsgRemoved        = "removed"
	MsgWindowOpen     = "window_open"
	MsgSDKUnavailable = "sdk_unavailable"
	MsgNetwork        = "network"
)

// messages maps a problem code (core.Code*) or a page outcome to words. Codes not listed
// show the "internal" text. The page gets the same table, so the server-rendered result
// page and the script say the same thing.
var messages = map[string]Message{
	MsgIssued: {Kind: "ok",
		KO: "카드가 등록되었습니다. 이제 요금제를 구독할 수 있습니다.",
		EN: "Your card is registered. You can subscribe to a plan now."},
	MsgPaid: {Kind: "ok",
		KO: "결제가 완료되었습니다. 구독해 주셔서 감사합니다.",
		EN: "Payment complete. Thank you for subscribing."},
	MsgRemoved: {Kind: "ok",
		KO: "등록된 카드를 삭제했습니다.",
		EN: "Your card was removed."},
	MsgWindowOpen: {Kind: "info",
		KO: "결제창에서 카드 정보를 입력해 주세요.",
		EN: "Enter your card details in the payment window."},
	MsgSDKUnavailable: {Kind: "error",
		KO: "결제창을 불러오지 못했습니다. 네트워크를 확인한 뒤 다시 시도해 주세요.",
		EN: "The payment window could not be loaded. Check your connection and try again."},
	MsgNetwork: {Kind: "error",
		KO: "서버에 연결할 수 없습니다. 네트워크를 확인한 뒤 다시 시도해 주세요.",
		EN: "We could not reach the server. Check your connection and try again."},

	core.CodeIssuanceFailed: {Kind: "error",
		KO: "카드를 등록하지 못했습니다. 카드 정보를 확인하거나 다른 카드로 다시 시도해 주세요.",
		EN: "We could not register this card. Check the details or try another card."},
	core.CodeIssuanceExpired: {Kind: "error",
		KO: "카드 등록 시간이 지났습니다. 처음부터 다시 시도해 주세요.",
		EN: "The card registration took too long. Please start again."},
	core.CodeIssuanceSettled: {Kind: "error",
		KO: "이미 끝난 카드 등록 요청입니다. 처음부터 다시 시도해 주세요.",
		EN: "This card registration has already ended. Please start again."},
	core.CodeIssuancePending: {Kind: "info",
		KO: "카드 등록을 확인하고 있습니다. 잠시 후 새로고침해 주세요.",
		EN: "We are still confirming your card. Refresh the page in a moment."},
	core.CodeBillingKeyMissing: {Kind: "error",
		KO: "등록된 카드가 없습니다. 먼저 카드를 등록해 주세요.",
		EN: "There is no card on file. Please register a card first."},
	core.CodeCardDeclined: {Kind: "error",
		KO: "카드사에서 결제를 거절했습니다. 잔액 부족이나 한도 초과일 수 있습니다. 다른 카드를 등록하거나 카드사에 문의해 주세요.",
		EN: "Your card company declined the payment, perhaps for insufficient funds or the card limit. Register another card or contact your card company."},
	core.CodePaymentMismatch: {Kind: "error",
		KO: "결제 정보가 요청과 달라 처리하지 않았습니다. 고객센터로 문의해 주세요.",
		EN: "The payment did not match the request, so we did not accept it. Please contact us."},
	core.CodeChargeInProgress: {Kind: "info",
		KO: "결제를 처리하고 있습니다. 결과는 잠시 후 결제 내역에 표시됩니다.",
		EN: "Your payment is being processed. The result will show in your history shortly."},
	core.CodeUpstreamUnavailable: {Kind: "error",
		KO: "결제 서비스에 잠시 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
		EN: "We cannot reach the payment service right now. Please try again in a moment."},
	core.CodeUnauthenticated: {Kind: "error",
		KO: "로그인이 필요합니다. 다시 로그인해 주세요.",
		EN: "Please sign in again."},
	core.CodeForbiddenCrossSite: {Kind: "error",
		KO: "보안을 위해 요청을 거부했습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.",
		EN: "For your security the request was refused. Reload the page and try again."},
	core.CodeNotFound: {Kind: "error",
		KO: "요청한 정보를 찾을 수 없습니다.",
		EN: "We could not find that."},
	core.CodePlanUnknown: {Kind: "error",
		KO: "선택한 요금제를 찾을 수 없습니다. 페이지를 새로고침해 주세요.",
		EN: "That plan is not available. Please reload the page."},
	core.CodeInvalidRequest: {Kind: "error",
		KO: "요청을 처리할 수 없습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.",
		EN: "We could not process the request. Reload the page and try again."},
	core.CodeConflict: {Kind: "error",
		KO: "다른 요청과 겹쳤습니다. 다시 시도해 주세요.",
		EN: "That clashed with another request. Please try again."},
	core.CodeInternal: {Kind: "error",
		KO: "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.",
		EN: "Something went wrong on our side. Please try again later."},
}

// Codes that only a broken page could cause read like an invalid request.
func init() {
	for _, c := range []string{core.CodeIdempotencyKeyRequired, core.CodeIdempotencyKeyReused,
		core.CodeBodyTooLarge, core.CodeUnsupportedMediaType} {
		messages[c] = messages[core.CodeInvalidRequest]
	}
}

// MessageFor returns the words for a problem code or page outcome; unknown codes get the
// generic "internal" text.
func MessageFor(code string) Message {
	if m, ok := messages[code]; ok {
		return m
	}
	return messages[core.CodeInternal]
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
