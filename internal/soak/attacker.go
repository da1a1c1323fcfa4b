package soak

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AttackKeyPrefix starts every Idempotency-Key the attacker sends: a charge under such a
// key means an attack got through.
const AttackKeyPrefix = "x-"

// attack is one kind of hostile request. It returns "" when the shop refused it, else
// what was wrongly accepted.
type attack struct {
	name string
	send func(ctx context.Context, r *run, victim session, n int) string
}

var attacks = []attack{
	{"forged webhook (spoofed X-Forwarded-For)", func(ctx context.Context, r *run, _ session, n int) string {
		base := r.liveBase()
		body := fmt.Sprintf(`{"imp_uid":"imp_forged%06d","merchant_uid":"%s","status":"paid"}`, n, r.someMerchantUID())
		_, _ = r.cl.do(ctx, "", http.MethodPost, base+webhookPath, []byte(body), http.Header{
			"Content-Type": {"application/json"}, "X-Forwarded-For": {"52.78.100.19"}, "X-Real-IP": {"52.78.100.19"}})
		return "" // the webhook may answer 200; the audit checks nothing changed
	}},
	{"forged mobile redirect", func(ctx context.Context, r *run, _ session, n int) string {
		q := url.Values{"imp_uid": {fmt.Sprintf("imp_forged%06d", n)}, "merchant_uid": {r.someMerchantUID()}, "imp_success": {"true"}}
		a, err := r.cl.do(ctx, "", http.MethodGet, r.liveBase()+callbackPrefix+"/return?"+q.Encode(), nil,
			http.Header{"X-Forwarded-For": {"52.78.100.19"}, "X-Forwarded-Host": {"evil.example"}})
		if err == nil && offSite(a) {
			return "redirect off-site to " + a.Header.Get("Location")
		}
		return ""
	}},
	{"other user's charge id", func(ctx context.Context, r *run, victim session, _ int) string {
		mu := r.merchantUIDOf(userAlice)
		if mu == "" {
			return ""
		}
		a, err := r.cl.do(ctx, "", http.MethodGet, victim.billing("/charges/"+url.PathEscape(mu)), nil, victim.header())
		if err == nil && a.Status == http.StatusOK {
			return "read another user's charge " + mu
		}
		return ""
	}},
	{"tampered plan", func(ctx context.Context, r *run, victim session, n int) string {
		return refusedCharge(ctx, r, victim, n, `{"plan":"enterprise","amount":1}`, nil)
	}},
	{"tampered amount type", func(ctx context.Context, r *run, victim session, n int) string {
		return refusedCharge(ctx, r, victim, n, `{"plan":9900}`, nil)
	}},
	{"cross-site charge", func(ctx context.Context, r *run, victim session, n int) string {
		return refusedCharge(ctx, r, victim, n, `{"plan":"basic"}`, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}})
	}},
	{"cross-site card delete", func(ctx context.Context, r *run, victim session, _ int) string {
		h := victim.header()
		h.Set("Origin", "https://evil.example")
		h.Set("Sec-Fetch-Site", "cross-site")
		a, err := r.cl.do(ctx, "", http.MethodDelete, victim.billing("/billing-key"), nil, h)
		if err == nil && a.Status < 300 {
			return "cross-site DELETE /billing-key answered " + fmt.Sprint(a.Status)
		}
		return ""
	}},
	{"open redirect", func(ctx context.Context, r *run, _ session, _ int) string {
		base := r.liveBase()
		for _, p := range []string{resultPath + "?result=//evil.example/x", "/login?next=https://evil.example/", callbackPrefix + "/return?merchant_uid=x&next=//evil.example"} {
			a, err := r.cl.do(ctx, "", http.MethodGet, base+p, nil, nil)
			if err == nil && offSite(a) {
				return p + " redirected to " + a.Header.Get("Location")
			}
		}
		return ""
	}},
	{"oversized body", func(ctx context.Context, r *run, victim session, n int) string {
		return refusedCharge(ctx, r, victim, n, `{"plan":"basic","pad":"`+strings.Repeat("A", 2<<20)+`"}`, nil)
	}},
	{"malformed body", func(ctx context.Context, r *run, victim session, n int) string {
		return refusedCharge(ctx, r, victim, n, `{"plan":"basic"`, nil)
	}},
	{"slow body", func(ctx context.Context, r *run, _ session, _ int) string {
		slowBody(r.liveBase())
		return ""
	}},
	{"forged session cookie", func(ctx context.Context, r *run, victim session, n int) string {
		h := http.Header{"Cookie": {victim.cookie.Name + "=bob.9999999999.forgedmac"}, "Content-Type": {"application/json"},
			"Idempotency-Key": {fmt.Sprintf("%sforged-%d", AttackKeyPrefix, n)}}
		a, err := r.cl.do(ctx, "", http.MethodPost, victim.billing("/charges"), []byte(`{"plan":"basic"}`), h)
		if err == nil && a.Status < 300 {
			return "forged cookie charged: " + fmt.Sprint(a.Status)
		}
		return ""
	}},
}

// refusedCharge sends a hostile charge under the victim's session; any 2xx is a breach.
func refusedCharge(ctx context.Context, r *run, victim session, n int, body string, extra http.Header) string {
	h := victim.header("Content-Type", "application/json", "Idempotency-Key", fmt.Sprintf("%s%d", AttackKeyPrefix, n))
	for k, v := range extra {
		h[k] = v
	}
	a, err := r.cl.do(ctx, "", http.MethodPost, victim.billing("/charges"), []byte(body), h)
	if err == nil && a.Status < 300 {
		return fmt.Sprintf("charge %.60s answered %d", body, a.Status)
	}
	return ""
}

// offSite reports a redirect to another host.
func offSite(a answer) bool {
	if a.Status < 300 || a.Status >= 400 {
		return false
	}
	loc := a.Header.Get("Location")
	u, err := url.Parse(loc)
	return err == nil && (u.Host != "" && !strings.HasPrefix(u.Host, "127.0.0.1"))
}

// slowBody announces a body and sends a tenth of it; the server must cut it off
// (bounded by a deadline of its own).
func slowBody(base string) {
	u, err := url.Parse(base)
	if err != nil {
		return
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(serverReadLimit + 10*time.Second))
	_, _ = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"imp_uid\"", webhookPath, u.Host)
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}

// attackLoop sends one attack every interval, as bob against alice's records.
func (r *run) attackLoop(ctx context.Context, bob *customer) {
	if r.cfg.AttacksPerSecond <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.AttacksPerSecond))
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		victim, _, err := bob.anySession(ctx)
		if err != nil {
			continue
		}
		a := attacks[n%len(attacks)]
		if breach := a.send(ctx, r, victim, n); breach != "" {
			r.mu.Lock()
			r.accepted = append(r.accepted, a.name+": "+breach)
			r.mu.Unlock()
		}
		r.attacks.inc(a.name)
	}
}
