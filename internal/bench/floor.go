package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// The one plan every contestant charges, and how a load request names it.
const (
	planID     = "basic"
	planName   = "Basic monthly"
	planAmount = 9900
	chargeBody = `{"plan":"basic"}`
	userHeader = "X-Bench-User"
	// tokenMargin is how long before its expiry a cached token is replaced.
	tokenMargin = 30 * time.Second
)

// envelope is iamport's answer: {code, message, response}.
type envelope[T any] struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	Response *T     `json:"response"`
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	Now         int64  `json:"now"`
	ExpiredAt   int64  `json:"expired_at"`
}

type paymentAnswer struct {
	ImpUID      string `json:"imp_uid"`
	MerchantUID string `json:"merchant_uid"`
	Status      string `json:"status"`
	Amount      int64  `json:"amount"`
}

// rawClient speaks to iamport the way a hand-written integration does: encoding/json
// and net/http, no library.
type rawClient struct {
	base string
	hc   *http.Client

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// post sends body as JSON to path and decodes the envelope into out.
func post[T any](ctx context.Context, c *rawClient, path, token string, body any) (*T, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var env envelope[T]
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&env); err != nil {
		return nil, &failure{kind: "undecodable answer from " + path}
	}
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	if resp.StatusCode != http.StatusOK || env.Code != 0 || env.Response == nil {
		return nil, &failure{kind: fmt.Sprintf("%s: HTTP %d code %d", path, resp.StatusCode, env.Code)}
	}
	return env.Response, nil
}

// newToken asks for an access token and returns it with the time to renew it.
func (c *rawClient) newToken(ctx context.Context) (string, time.Time, error) {
	t, err := post[tokenAnswer](ctx, c, "/users/getToken", "", map[string]string{
		"imp_key": iamporttest.Key, "imp_secret": iamporttest.Secret,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	// The lifetime from the server's own clock, so local clock skew does not matter.
	ttl := time.Duration(t.ExpiredAt-t.Now)*time.Second - tokenMargin
	return t.AccessToken, time.Now().Add(ttl), nil
}

// cachedToken returns the cached token, fetching a new one when it is due.
func (c *rawClient) cachedToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Before(c.renewAt) {
		return c.token, nil
	}
	tok, renew, err := c.newToken(ctx)
	if err != nil {
		return "", err
	}
	c.token, c.renewAt = tok, renew
	return tok, nil
}

// again charges customerUID once under merchantUID and checks the answer says paid,
// for the plan's amount and this merchant_uid.
func (c *rawClient) again(ctx context.Context, token, customerUID, merchantUID string) error {
	p, err := post[paymentAnswer](ctx, c, "/subscribe/payments/again", token, map[string]any{
		"customer_uid": customerUID, "merchant_uid": merchantUID, "amount": planAmount, "name": planName,
	})
	if err != nil {
		return err
	}
	if p.Status != "paid" || p.Amount != planAmount || p.MerchantUID != merchantUID {
		return &failure{kind: "again: not paid (" + p.Status + ")"}
	}
	return nil
}

// merchantUIDs makes merchant_uids unique within one fake: a prefix of the start time
// and a counter.
type merchantUIDs struct {
	prefix string
	n      atomic.Int64
}

func newMerchantUIDs() *merchantUIDs {
	return &merchantUIDs{prefix: "b" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"}
}

func (m *merchantUIDs) next() string { return m.prefix + strconv.FormatInt(m.n.Add(1), 36) }

// floorCharger is the floor's work per charge: one `again` on a keep-alive client with
// a cached token. With fresh set it is the tutorial's instead: a new http.Client with a
// new Transport (so a new connection) and a new token for every charge.
type floorCharger struct {
	base      string
	keepAlive *rawClient
	fresh     bool
	users     map[string]string // user id → customer_uid
	uids      *merchantUIDs
}

// warm fetches the keep-alive client's token ahead of the load, as billkey's set-up
// does for its own.
func (f *floorCharger) warm(ctx context.Context) error {
	if f.fresh {
		return nil
	}
	_, err := f.keepAlive.cachedToken(ctx)
	return err
}

func newFloorCharger(base string, users map[string]string, fresh bool) *floorCharger {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second}
	return &floorCharger{
		base:      base,
		keepAlive: &rawClient{base: base, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}},
		fresh:     fresh,
		users:     users,
		uids:      newMerchantUIDs(),
	}
}

// charge charges user's key once and returns the merchant_uid it used.
func (f *floorCharger) charge(ctx context.Context, user string) (string, error) {
	customerUID, ok := f.users[user]
	if !ok {
		return "", &failure{kind: "unknown user"}
	}
	muid := f.uids.next()
	if !f.fresh {
		tok, err := f.keepAlive.cachedToken(ctx)
		if err != nil {
			return "", err
		}
		return muid, f.keepAlive.again(ctx, tok, customerUID, muid)
	}
	tr := &http.Transport{}
	// A tutorial leaves the connection to the garbage collector; closing it here keeps
	// the benchmark from running out of file descriptors, and costs the same.
	defer tr.CloseIdleConnections()
	c := &rawClient{base: f.base, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	tok, _, err := c.newToken(ctx)
	if err != nil {
		return "", err
	}
	return muid, c.again(ctx, tok, customerUID, muid)
}

func (f *floorCharger) close() { f.keepAlive.hc.CloseIdleConnections() }

// floorHandler is the bare net/http handler of the floor and the tutorial: POST
// /charges with {"plan": ...} and the user in userHeader, 201 when paid.
func floorHandler(f *floorCharger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charges", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Plan string `json:"plan"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&in); err != nil || in.Plan != planID {
			writeProblem(w, http.StatusBadRequest, "invalid_request")
			return
		}
		muid, err := f.charge(r.Context(), r.Header.Get(userHeader))
		if err != nil {
			writeProblem(w, http.StatusBadGateway, kindOf(err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"merchant_uid": muid, "status": "paid", "amount": planAmount})
	})
	return mux
}

func writeProblem(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "code": code})
}

// registerFloorUsers stores a billing key at the fake for each user and returns their
// customer_uids.
func registerFloorUsers(ctx context.Context, ctl *control, users []string) (map[string]string, error) {
	out := make(map[string]string, len(users))
	for _, u := range users {
		cuid := "cu" + randomHex(16)
		_, err := ctl.issue(ctx, iamporttest.IssueRequest{
			PG: "kcp_billing", MerchantUID: "key" + randomHex(12), CustomerUID: cuid,
			Name: "billing key", CardNumber: iamporttest.CardOK,
		})
		if err != nil {
			return nil, err
		}
		out[u] = cuid
	}
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
