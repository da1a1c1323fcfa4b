package demo

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

//go:embed assets
var assets embed.FS

var pageTmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"won":     formatWon,
	"message": MessageFor,
}).ParseFS(assets, "assets/*.html.tmpl"))

// staticFile is one embedded asset served as is.
type staticFile struct {
	contentType string
	body        []byte
}

var staticFiles = map[string]staticFile{
	"/static/app.js":      mustStatic("assets/app.js", "text/javascript; charset=utf-8"),
	"/static/app.css":     mustStatic("assets/app.css", "text/css; charset=utf-8"),
	"/static/common.js":   mustStatic("assets/common.js", "text/javascript; charset=utf-8"),
	"/static/admin.js":    mustStatic("assets/admin.js", "text/javascript; charset=utf-8"),
	"/static/favicon.svg": mustStatic("assets/favicon.svg", "image/svg+xml"),
	// Browsers ask for /favicon.ico on pages that name no icon (the fake's window).
	"/favicon.ico": mustStatic("assets/favicon.ico", "image/x-icon"),
}

func mustStatic(name, contentType string) staticFile {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic("demo: missing embedded asset " + name)
	}
	return staticFile{contentType: contentType, body: b}
}

// newHandler routes the pages, the static files and (sandbox) the fake iamport.
func (a *App) newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.subscribePage)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET "+ResultPath, a.resultPage)
	mux.HandleFunc("GET "+AdminPath, a.adminPage)
	mux.HandleFunc("GET "+AdminPath+"/login", a.adminLoginPage)
	mux.HandleFunc("POST "+AdminPath+"/login", a.adminLogin)
	mux.HandleFunc("POST "+AdminPath+"/logout", a.adminLogout)
	mux.HandleFunc("GET /static/{file}", serveStatic)
	mux.HandleFunc("GET /favicon.ico", serveStatic)
	mux.HandleFunc("GET "+HealthPath, a.health)
	mux.HandleFunc("GET "+ReadyPath, a.ready)
	mux.HandleFunc("GET "+MetricsPath, a.metrics)
	if a.clock.canTravel() {
		mux.HandleFunc("GET "+TimeMachinePath, a.timeMachine)
		mux.HandleFunc("POST "+TimeMachinePath, a.timeMachine)
	}
	if a.fake != nil {
		mux.Handle(FakePrefix+"/", http.StripPrefix(FakePrefix, a.fake.Handler()))
	}
	return mux
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := staticFiles[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body)
	}
}

// pageData is what every page template gets.
type pageData struct {
	Title     string
	Framework string
	Sandbox   bool
	User      *User // the signed-in customer
	Operator  *User // the signed-in member of staff (admin pages)
	TestCards []iamporttest.TestCard
	Users     []User // whom the login page offers; the admin page's customers

	// Login page: where its form posts, and whether it is the staff's.
	LoginAction string
	StaffLogin  bool

	// Subscribe page.
	Prefix      string
	Plans       []planView
	Messages    map[string]Message
	Statuses    map[core.ChargeStatus]Message
	SubStatuses map[core.SubscriptionStatus]Message
	// RefundStatuses names refund states (the staff's page).
	RefundStatuses map[core.RefundStatus]Message
	Cancel         cancelRule
	// PlanInfo is what the script knows of each plan, by id.
	PlanInfo map[string]planInfo
	// Clock is the shop's time when the page was made; in the sandbox the time machine
	// moves it.
	Clock ClockState

	// Subscribe page (the card on file, or nil) and result page (the card registered).
	Card *core.KeyInfo

	// Result page.
	Code    string
	Heading [2]string // Korean, English
	Reason  string    // the window's or the card company's words for a failure
	// Registered says the card is registered, before words about the first payment.
	Registered *Message
	SignIn     Message // asks a visitor without a session to sign in
}

// planView is a plan as the subscribe page shows it.
type planView struct {
	ID        string
	Title     string
	Blurb     string
	Amount    int64
	Group     string
	TrialDays int
}

// planInfo is a plan as the script knows it: its names, its group (a customer holds one
// live subscription per group and switches plans within it) and its price.
type planInfo struct {
	Title     string `json:"title"`
	English   string `json:"en"` // the order name in English, beside the Korean one
	Group     string `json:"group"`
	Amount    int64  `json:"amount"`
	TrialDays int    `json:"trial_days,omitempty"`
}

// planText is what the page says about a demo plan beside its core.Plan name (the
// Korean order name iamport shows in its window).
type planText struct {
	Title   string // Korean · English
	Blurb   string
	English string // the order name in English
}

var planTexts = map[string]planText{
	"basic":  {Title: "베이직 · Basic", Blurb: "개인용, 프로젝트 3개 · For one person, three projects", English: "Basic (monthly)"},
	"pro":    {Title: "프로 · Pro", Blurb: "팀용, 무제한 프로젝트 · For teams, unlimited projects", English: "Pro (monthly)"},
	"backup": {Title: "클라우드 백업 · Cloud backup", Blurb: "부가 서비스, 어느 요금제와도 함께 · An add-on, with either plan", English: "Cloud backup (monthly)"},
}

// planInfo is the catalogue as the scripts know it.
func (a *App) planInfo() map[string]planInfo {
	out := make(map[string]planInfo)
	for _, p := range a.svc.Plans() {
		info := planInfo{Title: p.Name, Group: p.Group, Amount: p.Amount, TrialDays: p.Trial.Days}
		if t, ok := planTexts[p.ID]; ok {
			info.Title, info.English = t.Title, t.English
		}
		out[p.ID] = info
	}
	return out
}

func (a *App) data(title string) pageData {
	d := pageData{
		Title:     title,
		Framework: a.cfg.Framework,
		Sandbox:   a.cfg.Mode == ModeSandbox,
	}
	if d.Sandbox {
		d.TestCards = iamporttest.TestCards()
	}
	return d
}

// GET /: the subscribe page; sign in first. The card on file comes with the page, so the
// script never asks for a card the customer does not have (a 404 in the console).
func (a *App) subscribePage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessions.userFromRequest(r)
	if !ok {
		seeOther(w, "/login")
		return
	}
	card, err := a.svc.BillingKey(r.Context(), u.ID)
	switch {
	case err == nil:
	case core.ErrorCode(err) == codes.BillingKeyMissing:
		card = nil
	default:
		a.log.Warn("demo: read the card on file", "user", u.ID, "code", core.ErrorCode(err))
		http.Error(w, "The card on file could not be read. Reload the page in a moment.", http.StatusServiceUnavailable)
		return
	}
	d := a.data("구독 · Subscription")
	d.User = &u
	d.Prefix = BillingPrefix
	d.Card = card
	for _, p := range a.svc.Plans() {
		v := planView{ID: p.ID, Title: p.Name, Amount: p.Amount, Group: p.Group, TrialDays: p.Trial.Days}
		if t, ok := planTexts[p.ID]; ok {
			v.Title, v.Blurb = t.Title, t.Blurb
		}
		d.Plans = append(d.Plans, v)
	}
	d.PlanInfo = a.planInfo()
	d.Clock = ClockState{Now: a.clock.Now(), CanTravel: a.clock.canTravel()}
	d.Messages = messages
	d.Statuses = chargeStatusWords
	d.SubStatuses = subscriptionStatusWords
	d.Cancel = windowCancel
	a.render(w, "subscribe.html.tmpl", http.StatusOK, d)
}

// GET /login: pick a demo user.
func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	d := a.data("로그인 · Sign in")
	if u, ok := a.sessions.userFromRequest(r); ok {
		d.User = &u
	}
	d.Users = Users
	d.LoginAction = "/login"
	a.render(w, "login.html.tmpl", http.StatusOK, d)
}

// POST /login: user=ID. Sets the signed session cookie and goes to the subscribe page.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	a.signIn(w, r, a.sessions, "/")
}

// POST /logout clears the session.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	a.signOut(w, r, a.sessions, "/login")
}

// signIn answers a login form of kind s (user=ID, from this site): the signed cookie,
// then home; an unknown user goes back to the form.
func (a *App) signIn(w http.ResponseWriter, r *http.Request, s *sessions, home string) {
	if a.crossSite(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	u, ok := s.kind.find(r.PostForm.Get("user"))
	if !ok {
		seeOther(w, r.URL.Path)
		return
	}
	http.SetCookie(w, s.cookie(u))
	seeOther(w, home)
}

// signOut answers a logout form of kind s (from this site) and goes to the login page.
func (a *App) signOut(w http.ResponseWriter, r *http.Request, s *sessions, login string) {
	if a.crossSite(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, s.clearCookie())
	seeOther(w, login)
}

// resultHeadings titles the result page by what the code says of the card.
var resultHeadings = map[string][2]string{
	MsgIssued:              {"카드 등록 완료", "Card registered"},
	MsgIssuedAndPaid:       {"카드 등록 완료", "Card registered"},
	codes.CardDeclined:     {"첫 결제 실패", "First payment declined"},
	codes.ChargeInProgress: {"첫 결제 확인 중", "First payment in progress"},
	MsgWindowCancelled:     {"카드 등록 취소", "Card registration cancelled"},
}

// issuedResults are the result codes that mean the card was registered (the first
// charge of a plan may still have failed or be in progress).
var issuedResults = map[string]bool{MsgIssued: true, codes.CardDeclined: true, codes.ChargeInProgress: true}

// GET /result?result=CODE: where billkey's mobile return sends the browser. It often
// comes without a session (a card app may bring the customer back in another browser):
// then it says what the code says and asks the customer to sign in. With a session it
// shows the card just registered, or why the registration or the first payment failed;
// never a card on file that was not the one this result is about.
func (a *App) resultPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("result")
	if _, known := messages[code]; !known {
		code = codes.Internal
	}
	d := a.data("결과 · Result")
	if u, ok := a.sessions.userFromRequest(r); ok {
		d.User = &u
		code, d.Reason = a.explain(u.ID, code)
		if issuedResults[code] {
			if key, err := a.svc.BillingKey(r.Context(), u.ID); err == nil {
				d.Card = key
			}
		}
	}
	d.Code = code
	if issuedResults[code] && code != MsgIssued {
		m := messages[MsgIssued]
		d.Registered = &m
	}
	d.SignIn = messages[MsgSignIn]
	d.Heading = [2]string{"카드 등록 결과", "Card registration"}
	if h, ok := resultHeadings[code]; ok {
		d.Heading = h
	}
	a.render(w, "result.html.tmpl", http.StatusOK, d)
}

// explain refines a result code with what the events said about userID's latest
// failure: a window the customer cancelled is their choice, not an error; otherwise the
// window's or the card company's words.
func (a *App) explain(userID, code string) (string, string) {
	reason, ok := a.outcomes.reason(userID, code)
	if !ok {
		return code, ""
	}
	if code == codes.IssuanceFailed && windowCancel.matches("", reason) {
		return MsgWindowCancelled, ""
	}
	return code, reason
}

// crossSite reports a browser request from another site (the login and logout forms
// must come from this one): by Sec-Fetch-Site, or, from a browser that sends only
// Origin, an origin other than this server's (the request's Host or the public URL).
func (a *App) crossSite(r *http.Request) bool {
	return a.csrf.Check(r) != nil
}

func seeOther(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

func (a *App) render(w http.ResponseWriter, name string, status int, d pageData) {
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, name, d); err != nil {
		a.log.Error("demo: render page", "page", name, "error", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if csp := a.contentSecurityPolicy(); csp != "" {
		h.Set("Content-Security-Policy", csp)
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// contentSecurityPolicy is the policy of the pages in the sandbox: everything comes from
// this origin, or from the shared fake's (its IMP shim, its window: an iframe on a PC, a
// form posted to it on a phone). The real
// iamport SDK loads scripts and frames from several of its own hosts, so live mode sets
// none.
func (a *App) contentSecurityPolicy() string {
	if a.cfg.Mode != ModeSandbox {
		return ""
	}
	src := "'self'"
	if a.fake == nil {
		if u, err := url.Parse(a.upstream); err == nil {
			src += " " + u.Scheme + "://" + u.Host
		}
	}
	return "default-src " + src + "; img-src " + src + " data:; object-src 'none'; base-uri 'none'; form-action " + src + "; frame-ancestors 'none'"
}

// formatWon writes an amount as "9,900원".
func formatWon(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + "원"
}
