package demo

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/billkey/billkey/core"
)

// SessionCookie is the name of the demo login cookie.
const SessionCookie = "billkey_demo_session"

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
}

func findUser(id string) (User, bool) {
	for _, u := range Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// sessions signs and checks login cookies with a key that lives as long as the process:
// a restart signs everybody out, which is what a demo wants.
type sessions struct {
	key    []byte
	secure bool // set the Secure attribute (the public URL is https)
	now    func() time.Time
}

func newSessions(secure bool) (*sessions, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &sessions{key: key, secure: secure, now: time.Now}, nil
}

// sign returns the MAC of a cookie payload, base64url without padding.
func (s *sessions) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("billkey-demo-session/v1\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookie is the login cookie for u: "ID.EXPIRY.MAC", HttpOnly, SameSite=Lax.
func (s *sessions) cookie(u User) *http.Cookie {
	exp := s.now().Add(sessionLifetime)
	payload := u.ID + "." + strconv.FormatInt(exp.Unix(), 10)
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    payload + "." + s.sign(payload),
		Path:     "/",
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
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
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
	return findUser(id)
}

// userFromRequest reads the login cookie of r.
func (s *sessions) userFromRequest(r *http.Request) (User, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return User{}, false
	}
	return s.user(c.Value)
}

// Unauthenticated is the answer the examples' login middleware gives to a billing request
// without a valid session: 401 and the same problem+json body core itself renders for
// code "unauthenticated", so the page handles both alike.
func Unauthenticated() (status int, contentType string, body []byte) {
	p := core.ProblemFor(&core.Error{Code: core.CodeUnauthenticated, Status: http.StatusUnauthorized,
		Detail: "Sign in to use billing."})
	b, err := json.Marshal(p)
	if err != nil { // a struct of strings and ints: cannot happen
		b = []byte(`{"code":"unauthenticated","status":401}`)
	}
	return http.StatusUnauthorized, core.ProblemContentType, b
}

// WriteUnauthenticated writes Unauthenticated to w.
func WriteUnauthenticated(w http.ResponseWriter) {
	status, ct, body := Unauthenticated()
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
