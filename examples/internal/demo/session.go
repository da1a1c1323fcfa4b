package demo

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/billkey/billkey/core"
)

// SessionCookie is the name of the demo login cookie; StaffCookie is the staff's, sent
// to AdminPath and below only.
const (
	SessionCookie = "billkey_demo_session"
	StaffCookie   = "billkey_demo_staff"
)

// sessionLifetime is how long a demo login lasts.
const sessionLifetime = 12 * time.Hour

// User is a demo user one can sign in as.
type User struct {
	ID    string
	Name  string
	Email string
	Tel   string
}

// Buyer is what billkey's buyer hook returns for u.
func (u User) Buyer() core.Buyer {
	return core.Buyer{UserID: u.ID, Name: u.Name, Email: u.Email, Tel: u.Tel}
}

// Users are the demo accounts. Their ids are plain lower-case words (no '.'), which the
// cookie format relies on.
var Users = []User{
	{ID: "alice", Name: "Alice Kim", Email: "alice@example.com", Tel: "010-1234-5678"},
	{ID: "bob", Name: "Bob Lee", Email: "bob@example.com", Tel: "010-8765-4321"},
	{ID: "carol", Name: "Carol Park", Email: "carol@example.com", Tel: "010-2468-1357"},
	{ID: "dave", Name: "Dave Choi", Email: "dave@example.com", Tel: "010-1357-2468"},
}

// Operators are the demo's staff, who sign in to the admin page.
var Operators = []User{
	{ID: "dana", Name: "Dana Park", Email: "dana@shop.example"},
}

func findUser(id string) (User, bool) { return findIn(Users, id) }

func findOperator(id string) (User, bool) { return findIn(Operators, id) }

func findIn(list []User, id string) (User, bool) {
	for _, u := range list {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// sessionKind is one kind of login: the customers' or the staff's. Each signs its cookies
// for its own purpose, so a customer's cookie never passes as a member of staff's.
type sessionKind struct {
	cookie  string // cookie name
	path    string // cookie path
	purpose string // bound into the MAC
	find    func(id string) (User, bool)
}

var (
	customerLogin = sessionKind{cookie: SessionCookie, path: "/", purpose: "billkey-demo-session/v1", find: findUser}
	staffLogin    = sessionKind{cookie: StaffCookie, path: AdminPath, purpose: "billkey-demo-staff/v1", find: findOperator}
)

// sessions signs and checks login cookies of one kind with a key that lives as long as
// the process: a restart signs everybody out, which is what a demo wants.
type sessions struct {
	kind   sessionKind
	key    []byte
	secure bool // set the Secure attribute (the public URL is https)
	now    func() time.Time
}

// newSessions is the customers' login.
func newSessions(secure bool) (*sessions, error) { return newSessionsOf(customerLogin, secure) }

func newSessionsOf(kind sessionKind, secure bool) (*sessions, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &sessions{kind: kind, key: key, secure: secure, now: time.Now}, nil
}

// sign returns the MAC of a cookie payload, base64url without padding.
func (s *sessions) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(s.kind.purpose + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookie is the login cookie for u: "ID.EXPIRY.MAC", HttpOnly, SameSite=Lax.
func (s *sessions) cookie(u User) *http.Cookie {
	exp := s.now().Add(sessionLifetime)
	payload := u.ID + "." + strconv.FormatInt(exp.Unix(), 10)
	return &http.Cookie{
		Name:     s.kind.cookie,
		Value:    payload + "." + s.sign(payload),
		Path:     s.kind.path,
		Expires:  exp,
		MaxAge:   int(sessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// clearCookie removes the login cookie.
func (s *sessions) clearCookie() *http.Cookie {
	return &http.Cookie{
		Name:     s.kind.cookie,
		Value:    "",
		Path:     s.kind.path,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// user checks a cookie value and returns its user. A wrong MAC, an expired or malformed
// value, or an unknown user is "nobody".
func (s *sessions) user(value string) (User, bool) {
	if len(value) > 256 {
		return User{}, false
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return User{}, false
	}
	payload, mac := value[:i], value[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.sign(payload))) {
		return User{}, false
	}
	id, expText, ok := strings.Cut(payload, ".")
	if !ok {
		return User{}, false
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return User{}, false
	}
	return s.kind.find(id)
}

// userFromRequest reads the login cookie of r.
func (s *sessions) userFromRequest(r *http.Request) (User, bool) {
	c, err := r.Cookie(s.kind.cookie)
	if err != nil {
		return User{}, false
	}
	return s.user(c.Value)
}

// Unauthenticated is the answer the examples' login middleware gives to a billing request
// without a valid session: 401 and a problem+json body of code "unauthenticated", as
// billkey's own routes answer, so the page handles both alike.
func Unauthenticated() (status int, contentType string, body []byte) {
	return http.StatusUnauthorized, "application/problem+json",
		[]byte(`{"type":"https://billkey.dev/problems/unauthenticated","title":"Authentication required","status":401,"detail":"Sign in to use billing.","code":"unauthenticated"}` + "\n")
}

// WriteUnauthenticated writes Unauthenticated to w.
func WriteUnauthenticated(w http.ResponseWriter) {
	status, ct, body := Unauthenticated()
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
