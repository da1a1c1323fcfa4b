package iamporttest

import (
	"crypto/subtle"
	"net/http"
	"time"
)

// handleGetToken serves POST /users/getToken: the same token until it expires, extended by
// five minutes when asked for again within its last minute, a new one after expiry.
func (f *Fake) handleGetToken(a *apiRequest) apiReply {
	key, err1 := a.body.str("imp_key")
	secret, err2 := a.body.str("imp_secret")
	if err1 != nil || err2 != nil || key == "" || secret == "" {
		return failReply(http.StatusUnauthorized, -1, "imp_key, imp_secret 파라미터가 누락되었습니다.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(key), []byte(f.key)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(f.secret)) != 1 {
		return failReply(http.StatusUnauthorized, -1, "imp_key, imp_secret 인증에 실패하였습니다.")
	}
	now := f.nowLocked()
	if f.token != "" && now.Before(f.tokenExp) {
		if f.tokenExp.Sub(now) <= time.Minute {
			f.tokenExp = f.tokenExp.Add(5 * time.Minute)
		}
	} else {
		f.token = randomHex(40)
		f.tokenExp = now.Add(f.tokenLifetime)
	}
	return okReply(authToken{
		AccessToken: f.token,
		ExpiredAt:   f.tokenExp.Unix(),
		Now:         now.Unix(),
	})
}
