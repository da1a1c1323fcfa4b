package iamporttest

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/billkey/billkey/iamport"
)

// IssueRequest is what IMP.request_pay sends for a kcp_billing issuance plus the card typed
// in the window.
type IssueRequest struct {
	PG            string // "kcp_billing" or "kcp_billing.{site}"
	PayMethod     string // must be "card" (empty = card)
	MerchantUID   string // required, ≤40, not used by a paid or cancelled payment
	CustomerUID   string // required, ≤80
	Name          string
	Amount        int64 // display only; ≥ 0
	BuyerName     string
	BuyerEmail    string
	BuyerTel      string
	BuyerAddr     string
	BuyerPostcode string
	NoticeURL     string
	MRedirectURL  string // required when Mobile: absolute http(s) URL
	CustomData    string
	CardNumber    string
	Mobile        bool   // true: the result is a redirect to MRedirectURL
	UserAgent     string // the buyer's browser, recorded as user_agent (the window fills it in)
}

// IssueResult is what the window hands back to the merchant.
type IssueResult struct {
	// Rsp is the PC callback object (the fields IMP.request_pay hands its callback).
	Rsp map[string]any
	// RedirectURL is m_redirect_url with imp_uid, merchant_uid, imp_success and, on
	// failure, error_code and error_msg appended to its query (mobile only).
	RedirectURL string
	// Payment is the issuance payment recorded (nil when refused before the PG).
	Payment *iamport.Payment
}

// IssueBillingKey performs the payment window's work without a browser: validates the
// kcp_billing rules, stores the key under CustomerUID (replacing an older one) unless the
// card is refused, records the issuance payment (customer_uid_usage "issue"), sends the
// notification, and returns what the window would return.
//
// A broken rule gives a result with error_code IssueErrInvalid, imp_uid null and no state
// change; a refused card (CardRefused or any number the fake does not know) gives
// error_code IssueErrRefused and a failed issuance payment, and stores no key. The Go error
// is only for misuse (a nil *Fake).
func (f *Fake) IssueBillingKey(req IssueRequest) (*IssueResult, error) {
	if f == nil {
		return nil, errors.New("iamporttest: IssueBillingKey on a nil *Fake")
	}
	f.mu.Lock()
	base := f.baseURL
	f.mu.Unlock()
	return f.issue(req, base), nil
}

// issue is IssueBillingKey with the base URL for receipt URLs (the window passes the one
// its request came in on).
func (f *Fake) issue(req IssueRequest, base string) *IssueResult {
	if req.PayMethod == "" {
		req.PayMethod = "card"
	}
	site, rule := checkIssueRules(req)

	f.mu.Lock()
	if rule == "" && f.merchantUIDUsedLocked(req.MerchantUID) {
		rule = msgDuplicateOrder
	}
	if rule != "" {
		f.mu.Unlock()
		return issueResult(req, nil, IssueErrInvalid, rule)
	}
	now := f.unixLocked()
	channel := "pc"
	if req.Mobile {
		channel = "mobile"
	}
	site = cmp.Or(site, f.pgID)
	card := parseCard(req.CardNumber)
	p := payment{
		ImpUID:            f.newImpUIDLocked(),
		MerchantUID:       req.MerchantUID,
		PayMethod:         nstr(req.PayMethod),
		Channel:           nstr(channel),
		PGProvider:        "kcp_billing",
		PGID:              nstr(site),
		PGTID:             nstr(randomDigits(14)),
		Name:              nstr(req.Name),
		Amount:            won{v: req.Amount},
		Currency:          "KRW",
		BuyerName:         nstr(req.BuyerName),
		BuyerEmail:        nstr(req.BuyerEmail),
		BuyerTel:          nstr(req.BuyerTel),
		BuyerAddr:         nstr(req.BuyerAddr),
		BuyerPostcode:     nstr(req.BuyerPostcode),
		CustomData:        nstr(req.CustomData),
		UserAgent:         nstr(req.UserAgent),
		StartedAt:         now,
		CancelHistory:     []cancelEntry{},
		DepositHistory:    []vbankDeposit{},
		CancelReceiptURLs: []string{},
		CustomerUID:       nstr(req.CustomerUID),
		CustomerUIDUsage:  usageIssue,
	}
	if !card.issuable() {
		p.Status = statusFailed
		p.FailedAt = now
		p.FailReason = FailReasonRefused
		rec := f.storeLocked(p, req.NoticeURL, f.sandbox)
		stored := f.answerLocked(rec).toClient()
		f.mu.Unlock()
		f.changed()
		return issueResult(req, &stored, IssueErrRefused, FailReasonRefused)
	}
	p.Status = statusPaid
	p.PaidAt = now
	p.ApplyNum = nstr(randomDigits(8))
	p.CardCode, p.CardName, p.CardNumber, p.CardType = nstr(card.code), nstr(card.name), nstr(card.masked()), intPtr(0)
	p.ReceiptURL = nstr(receiptURL(base, p.ImpUID))

	cust := customer{
		CustomerUID:      req.CustomerUID,
		PGProvider:       "kcp_billing",
		PGID:             site,
		CardName:         card.name,
		CardCode:         nstr(card.code),
		CardNumber:       nstr(card.masked()),
		CardType:         intPtr(0),
		CustomerName:     nstr(req.BuyerName),
		CustomerTel:      nstr(req.BuyerTel),
		CustomerEmail:    nstr(req.BuyerEmail),
		CustomerAddr:     nstr(req.BuyerAddr),
		CustomerPostcode: nstr(req.BuyerPostcode),
		Inserted:         now,
		Updated:          now,
	}
	if old, exists := f.customers[req.CustomerUID]; exists {
		cust.Inserted = old.c.Inserted
	}
	f.customers[req.CustomerUID] = &custRec{c: cust, card: card, sandbox: f.sandbox}
	rec := f.storeLocked(p, req.NoticeURL, f.sandbox)
	stored := f.answerLocked(rec).toClient()
	note := f.noteLocked(rec, statusPaid, "")
	f.mu.Unlock()
	f.changed()
	f.notify([]hookNote{note})
	return issueResult(req, &stored, "", "")
}

// checkIssueRules enforces the kcp_billing rules of the window and returns the PG site code
// named in pg ("" for plain kcp_billing) or the message of the first broken rule.
func checkIssueRules(req IssueRequest) (site, rule string) {
	switch pg, sub, hasSub := strings.Cut(req.PG, "."); {
	case pg != "kcp_billing":
		return "", "kcp_billing 결제창에는 pg 파라미터로 kcp_billing 을 지정해야 합니다."
	case hasSub && !validSite(sub):
		return "", "pg 파라미터의 상점아이디가 올바르지 않습니다."
	case hasSub:
		site = sub
	}
	switch {
	case req.PayMethod != "card":
		return "", "kcp_billing 은 pay_method card 만 지원합니다."
	case req.CustomerUID == "":
		return "", "빌링키 발급에는 customer_uid 가 필요합니다."
	case utf8.RuneCountInString(req.CustomerUID) > 80:
		return "", "customer_uid 는 최대 80자까지 입력할 수 있습니다."
	case req.MerchantUID == "":
		return "", "merchant_uid 가 필요합니다."
	case utf8.RuneCountInString(req.MerchantUID) > 40:
		return "", "merchant_uid 는 최대 40자까지 입력할 수 있습니다."
	case req.Amount < 0:
		return "", "amount 는 0 이상이어야 합니다."
	case req.Mobile && !validMRedirect(req.MRedirectURL):
		return "", "모바일 결제에는 올바른 m_redirect_url 이 필요합니다."
	}
	return site, ""
}

func validSite(s string) bool {
	if s == "" || len(s) > 80 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validMRedirect(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// issueResult builds what the window returns: the callback rsp and, on mobile, the
// redirect to m_redirect_url.
func issueResult(req IssueRequest, p *iamport.Payment, errCode, errMsg string) *IssueResult {
	success := errCode == ""
	rsp := map[string]any{
		"success":         success,
		"error_code":      nil,
		"error_msg":       nil,
		"imp_uid":         nil,
		"merchant_uid":    req.MerchantUID,
		"pay_method":      req.PayMethod,
		"paid_amount":     int64(0),
		"status":          string(iamport.StatusFailed),
		"name":            req.Name,
		"pg_provider":     "kcp_billing",
		"emb_pg_provider": nil,
		"pg_tid":          nil,
		"buyer_name":      req.BuyerName,
		"buyer_email":     req.BuyerEmail,
		"buyer_tel":       req.BuyerTel,
		"buyer_addr":      req.BuyerAddr,
		"buyer_postcode":  req.BuyerPostcode,
		"custom_data":     customDataValue(req.CustomData),
		"paid_at":         int64(0),
		"receipt_url":     nil,
		"apply_num":       nil,
		"card_name":       nil,
		"card_number":     nil,
		"card_quota":      0,
		"currency":        "KRW",
	}
	if !success {
		rsp["error_code"] = errCode
		rsp["error_msg"] = errMsg
	}
	if p != nil {
		rsp["imp_uid"] = p.ImpUID
		rsp["pg_tid"] = p.PGTID
		rsp["status"] = string(p.Status)
		if p.Status == iamport.StatusPaid {
			rsp["paid_amount"] = p.Amount
			rsp["paid_at"] = int64(p.PaidAt)
			rsp["receipt_url"] = p.ReceiptURL
			rsp["apply_num"] = p.ApplyNum
			rsp["card_name"] = p.CardName
			rsp["card_number"] = p.CardNumber
		}
	}
	res := &IssueResult{Rsp: rsp, Payment: p}
	if req.Mobile {
		res.RedirectURL = redirectWithResult(req.MRedirectURL, req.MerchantUID, p, errCode, errMsg)
	}
	return res
}

// customDataValue is custom_data as the SDK echoes it: parsed JSON when it is JSON, the
// string otherwise, null when empty.
func customDataValue(s string) any {
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return s
}

// redirectWithResult appends the result query to m_redirect_url, keeping its own query.
func redirectWithResult(mRedirect, merchantUID string, p *iamport.Payment, errCode, errMsg string) string {
	u, err := url.Parse(mRedirect)
	if err != nil || !validMRedirect(mRedirect) {
		return ""
	}
	q := url.Values{}
	if p != nil {
		q.Set("imp_uid", p.ImpUID)
	}
	q.Set("merchant_uid", merchantUID)
	q.Set("imp_success", "true")
	if errCode != "" {
		q.Set("imp_success", "false")
		q.Set("error_code", errCode)
		q.Set("error_msg", errMsg)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + q.Encode()
	} else {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
