package demo

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"

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
	"/static/app.js":  mustStatic("assets/app.js", "text/javascript; charset=utf-8"),
	"/static/app.css": mustStatic("assets/app.css", "text/css; charset=utf-8"),
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
	mux.HandleFunc("GET /static/{file}", serveStatic)
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
	User      *User
	TestCards []iamporttest.TestCard
	Users     []User

	// Subscribe page.
	Prefix   string
	Plans    []planView
	Messages map[string]Message
	Statuses map[core.ChargeStatus]Message

	// Result page.
	Code string
	Card *core.KeyInfo
}

// planView is a plan as the subscribe page shows it.
type planView struct {
	ID     string
	Title  string
	Blurb  string
	Amount int64
}

// planInfo holds the display title and blurb of the demo plans (the core.Plan name is
// the order name iamport shows).
var planInfo = map[string][2]string{
	"basic": {"베이직 · Basic", "개인용, 프로젝트 3개 · For one person, three projects"},
	"pro":   {"프로 · Pro", "팀용, 무제한 프로젝트 · For teams, unlimited projects"},
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

// GET /: the subscribe page; sign in first.
func (a *App) subscribePage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessions.userFromRequest(r)
	if !ok {
		seeOther(w, "/login")
		return
	}
	d := a.data("구독 · Subscription")
	d.User = &u
	d.Prefix = BillingPrefix
	for _, p := range a.svc.Plans() {
		v := planView{ID: p.ID, Title: p.Name, Amount: p.Amount}
		if info, ok := planInfo[p.ID]; ok {
			v.Title, v.Blurb = info[0], info[1]
		}
		d.Plans = append(d.Plans, v)
	}
	d.Messages = messages
	d.Statuses = chargeStatusWords
	a.render(w, "subscribe.html.tmpl", http.StatusOK, d)
}

// GET /login: pick a demo user.
func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	d := a.data("로그인 · Sign in")
	if u, ok := a.sessions.userFromRequest(r); ok {
		d.User = &u
	}
	d.Users = Users
	a.render(w, "login.html.tmpl", http.StatusOK, d)
}

// POST /login: user=ID. Sets the signed session cookie and goes to the subscribe page.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	if a.crossSite(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	u, ok := findUser(r.PostForm.Get("user"))
	if !ok {
		seeOther(w, "/login")
		return
	}
	http.SetCookie(w, a.sessions.cookie(u))
	seeOther(w, "/")
}

// POST /logout clears the session.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if a.crossSite(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, a.sessions.clearCookie())
	seeOther(w, "/login")
}

// GET /result?result=CODE: where billkey's mobile redirect handler sends the browser.
func (a *App) resultPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("result")
	if _, known := messages[code]; !known {
		code = core.CodeInternal
	}
	d := a.data("결과 · Result")
	d.Code = code
	if u, ok := a.sessions.userFromRequest(r); ok {
		d.User = &u
		if key, err := a.svc.BillingKey(r.Context(), u.ID); err == nil {
			d.Card = key
		}
	}
	a.render(w, "result.html.tmpl", http.StatusOK, d)
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
	if a.cfg.Mode == ModeSandbox {
		// Everything the sandbox page uses comes from this origin. (The real iamport SDK
		// loads scripts and frames from several of its own hosts, so live mode sets none.)
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
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
