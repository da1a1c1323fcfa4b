package iamporttest

// The fake payment window: the IMP shim (iamport.js), the fake NHN KCP billing window pages and
// the hand-back of the result to the merchant (PC: postMessage to the page that opened the
// window; mobile: a 302 to m_redirect_url).
//
// Routes, relative to wherever the fake is mounted:
//
//	GET  /iamport.js            the IMP shim
//	GET  /window/static/{file}  window.css, window.js, result.js
//	POST /window/open           from the shim: imp_code, params (JSON), mode, origin, request_id
//	GET  /window/open?pg=..     the same with request_pay params as query keys (by hand, other languages)
//	GET  /window/pay?sid=..     the card form of one window session
//	POST /window/submit         sid + card fields: issues the key as IssueBillingKey does
//	POST /window/cancel         sid: the person closed the window (no state change)

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"weak"
)

//go:embed assets
var windowAssets embed.FS

var (
	windowTmpl = template.Must(template.ParseFS(windowAssets, "assets/window.html.tmpl"))
	resultTmpl = template.Must(template.ParseFS(windowAssets, "assets/result.html.tmpl"))
)

// staticAsset is one embedded file served as is.
type staticAsset struct {
	contentType string
	body        []byte
}

var windowStatic = map[string]staticAsset{
	"/iamport.js":               mustAsset("assets/iamport.js", "application/javascript; charset=utf-8"),
	"/window/static/window.css": mustAsset("assets/window.css", "text/css; charset=utf-8"),
	"/window/static/window.js":  mustAsset("assets/window.js", "application/javascript; charset=utf-8"),
	"/window/static/result.js":  mustAsset("assets/result.js", "application/javascript; charset=utf-8"),
}

func mustAsset(name, contentType string) staticAsset {
	b, err := windowAssets.ReadFile(name)
	if err != nil {
		panic("iamporttest: missing embedded asset " + name)
	}
	return staticAsset{contentType: contentType, body: b}
}

// The window's own outcome when the person cancels (the other error codes, IssueErrInvalid and
// IssueErrRefused, are shared with IssueBillingKey).
const (
	// WindowCancelCode is the rsp error_code when the person cancels or closes the window.
	WindowCancelCode = "F0005"
	// WindowCancelMessage is the rsp error_msg when the person cancels or closes the window.
	WindowCancelMessage = "사용자가 결제를 취소하였습니다"
)

// TestCard is a documented card number of the fake window and what it does.
type TestCard struct {
	Number  string // as shown; dashes and spaces are ignored when typed
	Outcome string // Korean / English
}

// TestCards lists the documented test card numbers in the order the window shows them.
// CardDeclineAfter is shown with "NN" standing for the two digits that count the charges
// that pay before the declines start. Any other number is refused at issuance.
func TestCards() []TestCard {
	return []TestCard{
		{CardOK, "발급 성공, 모든 결제 승인 / issued; every charge pays"},
		{CardRefused, "발급 거절, 키 저장 안 됨 / refused at issuance; no key stored"},
		{CardDeclined, "발급 성공, 모든 결제 거절 / issued; every charge is declined (code 0, status failed)"},
		{CardDeclineAfter + "NN", "발급 성공, 처음 NN건 승인 후 거절 / issued; the first NN charges pay, then declined (e.g. " + CardDeclineAfter + "02)"},
	}
}

// Window sessions live in one process-wide table keyed by a random id. Each remembers the
// Fake that opened it (weakly, so a finished test's Fake can be collected) and answers only
// to that Fake.
const (
	windowSessionTTL = 30 * time.Minute
	windowSessionMax = 10000
	windowBodyMax    = 64 << 10
)

type windowSession struct {
	id      string
	owner   weak.Pointer[Fake]
	created time.Time // wall clock; sessions do not follow the fake clock

	// Fixed at open.
	req       IssueRequest // the merchant's params; CardNumber empty
	company   string
	origin    string // the merchant page's origin, the postMessage target ("" = any)
	requestID string // echoed in the postMessage so the shim matches its own window

	mu   sync.Mutex // serialises submit/cancel so a double click issues once
	done *windowOutcome
}

// windowOutcome is what the window handed back, kept so a repeated submit replays it.
type windowOutcome struct {
	rsp      map[string]any
	redirect string // mobile: where the browser goes
}

type windowStore struct {
	mu sync.Mutex
	m  map[string]*windowSession
}

var windowSessions = &windowStore{m: make(map[string]*windowSession)}

func (s *windowStore) add(sess *windowSession) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if now.Sub(v.created) > windowSessionTTL || v.owner.Value() == nil {
			delete(s.m, k)
		}
	}
	for len(s.m) >= windowSessionMax {
		var oldest string
		var at time.Time
		for k, v := range s.m {
			if oldest == "" || v.created.Before(at) {
				oldest, at = k, v.created
			}
		}
		delete(s.m, oldest)
	}
	sess.id, sess.created = id, now
	s.m[id] = sess
	return id, nil
}

func (s *windowStore) get(f *Fake, id string) *windowSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[id]
	if !ok {
		return nil
	}
	if time.Since(sess.created) > windowSessionTTL {
		delete(s.m, id)
		return nil
	}
	if sess.owner.Value() != f {
		return nil
	}
	return sess
}

// serveWindow answers GET /iamport.js and everything under /window/.
func (f *Fake) serveWindow(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if a, ok := windowStatic[p]; ok {
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(a.body)
		}
		return
	}
	switch p {
	case "/window/open":
		if allowMethods(w, r, http.MethodGet, http.MethodPost) {
			f.windowOpen(w, r)
		}
	case "/window/pay":
		if allowMethods(w, r, http.MethodGet, http.MethodHead) {
			f.windowPay(w, r)
		}
	case "/window/submit":
		if allowMethods(w, r, http.MethodPost) {
			f.windowSubmit(w, r)
		}
	case "/window/cancel":
		if allowMethods(w, r, http.MethodPost) {
			f.windowCancel(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// windowOpen turns request_pay params into a window session and sends the browser to its
// card form, or answers the error result at once when the params break the kcp_billing rules
// (as iamport does before the PG window opens).
func (f *Fake) windowOpen(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, windowBodyMax)
	if err := r.ParseForm(); err != nil {
		f.renderMessage(w, http.StatusBadRequest, "잘못된 요청 · Bad request", "The window request could not be read.")
		return
	}
	var (
		p   windowParams
		err error
	)
	impCode := strings.TrimSpace(r.Form.Get("imp_code"))
	if r.Method == http.MethodPost {
		p, err = paramsFromJSON(r.PostForm.Get("params"))
	} else {
		p = paramsFromQuery(r.Form)
		if impCode == "" {
			impCode = MerchantCode
		}
	}
	switch r.Form.Get("mode") {
	case "mobile":
		p.req.Mobile = true
	case "pc":
		p.req.Mobile = false
	default:
		p.req.Mobile = p.req.MRedirectURL != "" && mobileUA.MatchString(r.UserAgent())
	}
	if err == nil {
		err = f.precheck(impCode, &p)
	}
	sess := &windowSession{
		owner:     weak.Make(f),
		req:       p.req,
		company:   p.company,
		origin:    cleanOrigin(r.Form.Get("origin")),
		requestID: cleanRequestID(r.Form.Get("request_id")),
	}
	if err != nil {
		f.respond(w, sess, errorOutcome(sess.req, IssueErrInvalid, err.Error()))
		return
	}
	id, err := windowSessions.add(sess)
	if err != nil {
		f.renderMessage(w, http.StatusInternalServerError, "오류 · Error", "Could not open a window session.")
		return
	}
	// A relative Location keeps the fake mountable under any prefix (http.Redirect would
	// resolve it against the stripped path).
	noStore(w)
	w.Header().Set("Location", "pay?sid="+id)
	w.WriteHeader(http.StatusSeeOther)
}

// windowPay renders the card form of a session, or replays its outcome when it is finished.
func (f *Fake) windowPay(w http.ResponseWriter, r *http.Request) {
	sess := windowSessions.get(f, r.URL.Query().Get("sid"))
	if sess == nil {
		f.renderExpired(w)
		return
	}
	sess.mu.Lock()
	done := sess.done
	sess.mu.Unlock()
	if done != nil {
		f.respond(w, sess, done)
		return
	}
	f.renderWindow(w, http.StatusOK, sess, cardForm{}, nil, "")
}

// postedSession reads a window form post (at most windowBodyMax bytes) and returns its
// session locked; the caller unlocks it. nil when the answer was already rendered: 400
// with unreadable (the detail) for a malformed form, the expired page for an unknown sid.
func (f *Fake) postedSession(w http.ResponseWriter, r *http.Request, unreadable string) *windowSession {
	r.Body = http.MaxBytesReader(w, r.Body, windowBodyMax)
	if err := r.ParseForm(); err != nil {
		f.renderMessage(w, http.StatusBadRequest, "잘못된 요청 · Bad request", unreadable)
		return nil
	}
	sess := windowSessions.get(f, r.PostForm.Get("sid"))
	if sess == nil {
		f.renderExpired(w)
		return nil
	}
	sess.mu.Lock()
	return sess
}

// windowSubmit validates the typed card and issues the key.
func (f *Fake) windowSubmit(w http.ResponseWriter, r *http.Request) {
	sess := f.postedSession(w, r, "The card form could not be read.")
	if sess == nil {
		return
	}
	defer sess.mu.Unlock()
	if sess.done != nil {
		f.respond(w, sess, sess.done)
		return
	}
	card := cardForm{
		Number: strings.TrimSpace(r.PostForm.Get("card_number")),
		Expiry: strings.TrimSpace(r.PostForm.Get("card_expiry")),
		Birth:  strings.TrimSpace(r.PostForm.Get("card_birth")),
		pwd:    strings.TrimSpace(r.PostForm.Get("card_pwd")),
	}
	number, errs := card.validate(f.Now())
	if len(errs) > 0 {
		f.renderWindow(w, http.StatusUnprocessableEntity, sess, card, errs, "입력한 카드 정보를 확인해 주세요. · Please check the card details.")
		return
	}
	req := sess.req
	req.CardNumber = number
	req.UserAgent = r.UserAgent()
	// The same work as IssueBillingKey, with receipt URLs under the base this request came in on.
	res := f.issue(req, requestBase(r))
	out := &windowOutcome{rsp: res.Rsp, redirect: res.RedirectURL}
	sess.done = out
	f.respond(w, sess, out)
}

// windowCancel ends a session without touching the fake's state.
func (f *Fake) windowCancel(w http.ResponseWriter, r *http.Request) {
	sess := f.postedSession(w, r, "The form could not be read.")
	if sess == nil {
		return
	}
	defer sess.mu.Unlock()
	if sess.done == nil {
		sess.done = errorOutcome(sess.req, WindowCancelCode, WindowCancelMessage)
	}
	f.respond(w, sess, sess.done)
}

// respond hands an outcome back: a 302 to m_redirect_url in mobile mode, otherwise the
// result page that posts the rsp to the page that opened the window.
func (f *Fake) respond(w http.ResponseWriter, sess *windowSession, out *windowOutcome) {
	noStore(w)
	if sess.req.Mobile && out.redirect != "" {
		w.Header().Set("Location", out.redirect)
		w.WriteHeader(http.StatusFound)
		return
	}
	js, err := json.MarshalIndent(out.rsp, "", "  ")
	if err != nil {
		f.renderMessage(w, http.StatusInternalServerError, "오류 · Error", "The result could not be encoded.")
		return
	}
	ok, _ := out.rsp["success"].(bool)
	data := resultPage{
		OK:           ok,
		RspJSON:      string(js),
		TargetOrigin: sess.origin,
		RequestID:    sess.requestID,
	}
	if data.TargetOrigin == "" {
		data.TargetOrigin = "*"
	}
	if ok {
		data.Title = "카드 등록 완료 · Billing key issued"
		data.Message = fmt.Sprintf("imp_uid %v · merchant_uid %v", out.rsp["imp_uid"], out.rsp["merchant_uid"])
	} else {
		data.Title = "카드 등록 실패 · Billing key not issued"
		data.Message = fmt.Sprint(out.rsp["error_msg"])
	}
	render(w, resultTmpl, http.StatusOK, data)
}

func (f *Fake) renderExpired(w http.ResponseWriter) {
	f.renderMessage(w, http.StatusGone, "만료된 결제창 · Window expired",
		"이 결제창은 만료되었거나 없습니다. 상점 페이지에서 다시 시도해 주세요. This window has expired or does not exist; start again from the merchant page.")
}

func (f *Fake) renderMessage(w http.ResponseWriter, status int, title, msg string) {
	noStore(w)
	render(w, resultTmpl, status, resultPage{Title: title, Message: msg})
}

func (f *Fake) renderWindow(w http.ResponseWriter, status int, sess *windowSession, card cardForm, errs map[string]string, formErr string) {
	noStore(w)
	render(w, windowTmpl, status, windowPage{
		SID:            sess.id,
		Company:        sess.company,
		Name:           sess.req.Name,
		AmountText:     groupDigits(sess.req.Amount),
		Mobile:         sess.req.Mobile,
		MerchantUID:    sess.req.MerchantUID,
		CustomerMasked: maskUID(sess.req.CustomerUID),
		Number:         card.Number,
		Expiry:         card.Expiry,
		Birth:          card.Birth,
		Errors:         errs,
		FormError:      formErr,
		Messages:       cardMessagesJSON,
		Cards:          TestCards(),
	})
}

func render(w http.ResponseWriter, t *template.Template, status int, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Framing by any merchant page is the point, so no frame-ancestors; form-action must allow
	// the mobile redirect to the merchant's m_redirect_url.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' http: https:; base-uri 'none'")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

type windowPage struct {
	SID            string
	Company        string
	Name           string
	AmountText     string
	Mobile         bool
	MerchantUID    string
	CustomerMasked string
	Number         string
	Expiry         string
	Birth          string
	Errors         map[string]string
	FormError      string
	Messages       string // cardMessages as JSON, for window.js
	Cards          []TestCard
}

type resultPage struct {
	OK           bool
	Title        string
	Message      string
	RspJSON      string
	TargetOrigin string
	RequestID    string
}

// windowParams is request_pay's params as the window understands them.
type windowParams struct {
	req       IssueRequest
	company   string
	amountErr string // set when amount was given but is not a non-negative whole number
}

// paramsFromJSON reads the params object the shim posts. Field types are taken leniently
// (a number where a string is expected is used as its text); unknown fields are ignored.
func paramsFromJSON(s string) (windowParams, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return windowParams{}, errors.New("request_pay params는 객체여야 합니다 (params must be a JSON object)")
	}
	str := func(k string) string { return jsonText(raw[k]) }
	p := windowParams{
		req: IssueRequest{
			PG:            str("pg"),
			PayMethod:     str("pay_method"),
			MerchantUID:   str("merchant_uid"),
			CustomerUID:   str("customer_uid"),
			Name:          str("name"),
			BuyerName:     str("buyer_name"),
			BuyerEmail:    str("buyer_email"),
			BuyerTel:      str("buyer_tel"),
			BuyerAddr:     str("buyer_addr"),
			BuyerPostcode: str("buyer_postcode"),
			MRedirectURL:  str("m_redirect_url"),
		},
		company: str("company"),
	}
	if p.req.PG == "" && str("channelKey") != "" {
		p.req.PG = "kcp_billing" // the fake's only channel
	}
	// notice_url may be a string or an array of strings; the fake notifies the first.
	if v := raw["notice_url"]; len(v) > 0 {
		var list []string
		if json.Unmarshal(v, &list) == nil {
			for _, u := range list {
				if u != "" {
					p.req.NoticeURL = u
					break
				}
			}
		} else {
			p.req.NoticeURL = jsonText(v)
		}
	}
	// custom_data is stored as a JSON string; a string is kept as it is.
	if v := bytes.TrimSpace(raw["custom_data"]); len(v) > 0 && string(v) != "null" {
		var s string
		if json.Unmarshal(v, &s) == nil {
			p.req.CustomData = s
		} else {
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				p.req.CustomData = buf.String()
			}
		}
	}
	p.req.Amount, p.amountErr = parseAmount(jsonText(raw["amount"]))
	return p, nil
}

// paramsFromQuery reads request_pay params given as query keys (GET /window/open).
func paramsFromQuery(q url.Values) windowParams {
	p := windowParams{
		req: IssueRequest{
			PG:            q.Get("pg"),
			PayMethod:     q.Get("pay_method"),
			MerchantUID:   q.Get("merchant_uid"),
			CustomerUID:   q.Get("customer_uid"),
			Name:          q.Get("name"),
			BuyerName:     q.Get("buyer_name"),
			BuyerEmail:    q.Get("buyer_email"),
			BuyerTel:      q.Get("buyer_tel"),
			BuyerAddr:     q.Get("buyer_addr"),
			BuyerPostcode: q.Get("buyer_postcode"),
			NoticeURL:     q.Get("notice_url"),
			MRedirectURL:  q.Get("m_redirect_url"),
			CustomData:    q.Get("custom_data"),
		},
		company: q.Get("company"),
	}
	p.req.Amount, p.amountErr = parseAmount(q.Get("amount"))
	return p
}

// jsonText is a JSON string's value or a number's text; anything else is "".
func jsonText(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}

// parseAmount reads a display amount: empty is 0; otherwise a non-negative whole number
// (1000, "1000", 1000.0).
func parseAmount(s string) (int64, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ""
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, ""
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f == math.Trunc(f) && f < 1e15 {
		return int64(f), ""
	}
	return 0, "amount는 0 이상의 정수여야 합니다 (amount must be a non-negative whole number)"
}

// precheck applies what iamport checks before the KCP billing window opens: the merchant
// code, the kcp_billing rules IssueBillingKey enforces, and a merchant_uid not yet paid. It
// fills in the defaults the SDK fills in (pg, pay_method, merchant_uid, company).
func (f *Fake) precheck(impCode string, p *windowParams) error {
	if p.company == "" {
		p.company = "상점"
	}
	if p.req.MerchantUID == "" {
		// The SDK invents one when the merchant gives none.
		p.req.MerchantUID = "nobody_" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	if p.req.PG == "" {
		p.req.PG = "kcp_billing" // the fake's default (and only) PG
	}
	if p.req.PayMethod == "" {
		p.req.PayMethod = "card"
	}
	if impCode != MerchantCode {
		return fmt.Errorf("가맹점 식별코드가 올바르지 않습니다: IMP.init(%q) (this fake's merchant code is %s)", clip(impCode, 40), MerchantCode)
	}
	if p.amountErr != "" {
		return errors.New(p.amountErr)
	}
	if _, rule := checkIssueRules(p.req); rule != "" {
		return errors.New(rule)
	}
	f.mu.Lock()
	used := f.merchantUIDUsedLocked(p.req.MerchantUID)
	f.mu.Unlock()
	if used {
		return errors.New(msgDuplicateOrder)
	}
	return nil
}

// errorOutcome is the result of a window that ended before or without the PG: no imp_uid,
// nothing recorded.
func errorOutcome(req IssueRequest, code, msg string) *windowOutcome {
	if req.PayMethod == "" {
		req.PayMethod = "card"
	}
	res := issueResult(req, nil, code, msg)
	return &windowOutcome{rsp: res.Rsp, redirect: res.RedirectURL}
}

var (
	mobileUA    = regexp.MustCompile(`(?i)Mobi|Android|iPhone|iPad`)
	requestIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	digitsRe    = regexp.MustCompile(`^[0-9]+$`)
	expiryRe    = regexp.MustCompile(`^([0-9]{2})\s*/?\s*([0-9]{2})$`)
)

// cleanOrigin keeps an http(s) origin (scheme://host[:port]) and drops anything else.
func cleanOrigin(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func cleanRequestID(s string) string {
	if requestIDRe.MatchString(s) {
		return s
	}
	return ""
}

// cardForm is what the person typed. The PIN is never echoed back.
type cardForm struct {
	Number string
	Expiry string
	Birth  string
	pwd    string
}

// cardMessages are the card form's messages, Korean then English on a second line. They
// are written once, here: the page hands them to window.js for the checks it repeats on
// blur. Each line fits the narrowest window, since the message line has a fixed height (a
// message that wraps further would be cut off, and one that changed the layout would move
// the Register button under the pointer).
var cardMessages = map[string]string{
	"number_required": "카드번호를 입력하세요.\nEnter the card number.",
	"number_digits":   "카드번호는 숫자만 입력하세요.\nDigits only.",
	"number_length":   "카드번호는 13~19자리입니다.\n13 to 19 digits.",
	"expiry_required": "유효기간을 입력하세요.\nEnter the expiry date.",
	"expiry_format":   "유효기간은 MM/YY 형식입니다.\nUse MM/YY.",
	"expiry_past":     "유효기간이 지난 카드입니다.\nThe card has expired.",
	"birth_format":    "생년월일 6자리 또는 사업자번호 10자리\nYYMMDD, or a 10-digit business no.",
	"birth_date":      "생년월일이 올바르지 않습니다.\nNot a valid date (YYMMDD).",
	"pwd_format":      "비밀번호 앞 2자리를 입력하세요.\nFirst 2 digits of the card PIN.",
}

// cardMessagesJSON is cardMessages for the page's data-messages attribute.
var cardMessagesJSON = func() string {
	b, err := json.Marshal(cardMessages)
	if err != nil {
		panic("iamporttest: encoding the card form's messages: " + err.Error())
	}
	return string(b)
}()

// validate checks the typed card and returns the card number as digits, or messages by
// field ("number", "expiry", "birth", "pwd").
func (c cardForm) validate(now time.Time) (string, map[string]string) {
	errs := map[string]string{}
	number := strings.NewReplacer(" ", "", "-", "").Replace(c.Number)
	switch {
	case number == "":
		errs["number"] = cardMessages["number_required"]
	case !digitsRe.MatchString(number):
		errs["number"] = cardMessages["number_digits"]
	case len(number) < 13 || len(number) > 19:
		errs["number"] = cardMessages["number_length"]
	}
	if m := expiryRe.FindStringSubmatch(c.Expiry); c.Expiry == "" {
		errs["expiry"] = cardMessages["expiry_required"]
	} else if m == nil {
		errs["expiry"] = cardMessages["expiry_format"]
	} else {
		mm, _ := strconv.Atoi(m[1])
		yy, _ := strconv.Atoi(m[2])
		if mm < 1 || mm > 12 {
			errs["expiry"] = cardMessages["expiry_format"]
		} else if y := 2000 + yy; y < now.Year() || (y == now.Year() && time.Month(mm) < now.Month()) {
			errs["expiry"] = cardMessages["expiry_past"]
		}
	}
	if !digitsRe.MatchString(c.Birth) || (len(c.Birth) != 6 && len(c.Birth) != 10) {
		errs["birth"] = cardMessages["birth_format"]
	} else if len(c.Birth) == 6 {
		mm, _ := strconv.Atoi(c.Birth[2:4])
		dd, _ := strconv.Atoi(c.Birth[4:6])
		if mm < 1 || mm > 12 || dd < 1 || dd > 31 {
			errs["birth"] = cardMessages["birth_date"]
		}
	}
	if len(c.pwd) != 2 || !digitsRe.MatchString(c.pwd) {
		errs["pwd"] = cardMessages["pwd_format"]
	}
	if len(errs) > 0 {
		return "", errs
	}
	return number, nil
}

// maskUID shows a customer_uid's first and last four characters only.
func maskUID(s string) string {
	if utf8.RuneCountInString(s) <= 8 {
		return "********"
	}
	r := []rune(s)
	return string(r[:4]) + "…" + string(r[len(r)-4:])
}

// clip shortens a value echoed in an error message.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// groupDigits writes n with thousands separators (12,000).
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
