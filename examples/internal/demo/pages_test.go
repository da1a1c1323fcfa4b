package demo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// browserless is an HTTP client that does not follow redirects and sends the given
// session cookie (none when nil).
type browserless struct {
	t       *testing.T
	base    string
	session *http.Cookie
}

func (b browserless) get(target string) (*http.Response, string) {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	require.NoError(b.t, err)
	if b.session != nil {
		req.AddCookie(b.session)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return res, string(body)
}

// mobileWindow does the fake window's work for a phone (card typed, then the redirect
// to m_redirect_url) and follows the return without a session, as a card app's browser
// would: it returns where billkey's return sent the browser.
func mobileWindow(t *testing.T, app *App, base, plan, card string) string {
	t.Helper()
	ir, err := app.Service().PrepareIssuance(context.Background(), Users[0].Buyer(), plan)
	require.NoError(t, err)
	p := ir.Params
	res, err := app.fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: p.PG, MerchantUID: p.MerchantUID, CustomerUID: p.CustomerUID, Name: p.Name, Amount: p.Amount,
		NoticeURL: p.NoticeURL, MRedirectURL: p.MRedirectURL, CardNumber: card, Mobile: true,
	})
	require.NoError(t, err)
	require.NotEmpty(t, res.RedirectURL)
	return followReturn(t, base, res.RedirectURL)
}

func followReturn(t *testing.T, base, returnURL string) string {
	t.Helper()
	res, _ := browserless{t: t, base: base}.get(returnURL)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	loc := strings.TrimPrefix(res.Header.Get("Location"), base)
	require.True(t, strings.HasPrefix(loc, ResultPath+"?result="), "landed on %s", loc)
	return loc
}

// The result page the mobile return lands on makes sense without a session, and with one
// shows the card just registered, or why it was not: never an older card as if it were
// the one refused.
func TestResultPage(t *testing.T) {
	app, base := serveTestAppOut(t, io.Discard)
	anon := browserless{t: t, base: base}
	alice := browserless{t: t, base: base, session: app.sessions.cookie(Users[0])}

	loc := mobileWindow(t, app, base, "", iamporttest.CardOK)
	assert.Equal(t, ResultPath+"?result="+MsgIssued, loc)
	res, body := anon.get(loc)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, `data-code="issued"`)
	assert.Contains(t, body, `data-signed-in="false"`)
	assert.Contains(t, body, messages[MsgIssued].KO)
	assert.Contains(t, body, messages[MsgSignIn].EN)
	assert.Contains(t, body, `id="sign-in"`)
	assert.NotContains(t, body, `id="result-card"`, "no session, no card")

	_, body = alice.get(loc)
	assert.Contains(t, body, `data-signed-in="true"`)
	assert.Contains(t, body, `id="result-card"`)
	assert.Contains(t, body, "411111******1111")
	assert.NotContains(t, body, `id="sign-in"`)

	// The first month of a plan still being charged: the card is registered all the same.
	_, body = anon.get(ResultPath + "?result=" + codes.ChargeInProgress)
	assert.Contains(t, body, messages[MsgIssued].KO)
	assert.Contains(t, body, messages[codes.ChargeInProgress].KO)

	// A refused card, while the earlier one is still on file.
	loc = mobileWindow(t, app, base, "", iamporttest.CardRefused)
	assert.Equal(t, ResultPath+"?result="+codes.IssuanceFailed, loc)
	_, body = alice.get(loc)
	assert.Contains(t, body, `data-code="issuance_failed"`)
	assert.Contains(t, body, iamporttest.FailReasonRefused, "the card company's reason, as on a PC")
	assert.NotContains(t, body, "411111******1111", "the card on file is not the one refused")
	_, body = anon.get(loc)
	assert.NotContains(t, body, iamporttest.FailReasonRefused, "nothing about a user without a session")

	// The customer closes the window: their choice, said neutrally.
	ir, err := app.Service().PrepareIssuance(context.Background(), Users[0].Buyer(), "")
	require.NoError(t, err)
	q := url.Values{"merchant_uid": {ir.Params.MerchantUID}, "imp_success": {"false"},
		"error_code": {iamporttest.WindowCancelCode}, "error_msg": {iamporttest.WindowCancelMessage}}
	loc = followReturn(t, base, ir.Params.MRedirectURL+"?"+q.Encode())
	_, body = alice.get(loc)
	assert.Contains(t, body, `data-code="window_cancelled"`)
	assert.Contains(t, body, `data-kind="info"`)
	assert.Contains(t, body, messages[MsgWindowCancelled].KO)
}

// A plan chosen without a card is registered and charged on the way back from a phone's
// window, without a session; the order name in the Korean window is Korean.
func TestMobileReturnWithPlan(t *testing.T) {
	app, base := serveTestAppOut(t, io.Discard)
	loc := mobileWindow(t, app, base, "basic", iamporttest.CardOK)
	// The fake's webhook may be running the first charge while the browser comes back.
	assert.Contains(t, []string{ResultPath + "?result=" + MsgIssued, ResultPath + "?result=" + codes.ChargeInProgress}, loc)
	var list []core.ChargeView
	require.Eventually(t, func() bool {
		var err error
		list, _, err = app.Service().ListCharges(context.Background(), Users[0].ID, "", 10)
		require.NoError(t, err)
		return len(list) == 1 && list[0].Status == core.ChargePaid
	}, 20*time.Second, 20*time.Millisecond, "the first month is paid once")
	assert.Equal(t, int64(9900), list[0].Amount)
	assert.Equal(t, "베이직 (월간)", list[0].Name)
	require.NotNil(t, list[0].PaidAt)
}

// The subscribe page brings the card on file, so its script never asks for a card the
// customer does not have; every page names an icon, and /favicon.ico exists too.
func TestSubscribePageAndIcon(t *testing.T) {
	app, base := serveTestAppOut(t, io.Discard)
	alice := browserless{t: t, base: base, session: app.sessions.cookie(Users[0])}

	_, body := alice.get("/")
	assert.Regexp(t, `<script id="demo-card" type="application/json">\s*null\s*</script>`, body)
	assert.Contains(t, body, `"basic":{"title":"베이직 · Basic","en":"Basic (monthly)","group":"shop","amount":9900}`)
	assert.Contains(t, body, `"backup":{"title":"클라우드 백업 · Cloud backup","en":"Cloud backup (monthly)","group":"addon","amount":3000,"trial_days":7}`)
	assert.Contains(t, body, `<script id="demo-clock" type="application/json">{"now":"`)
	assert.Contains(t, body, `id="time-machine"`, "the sandbox has a time machine")
	assert.Contains(t, body, iamporttest.WindowCancelCode, "the cancel rule comes with the page")
	assert.Contains(t, body, `rel="icon" href="/static/favicon.svg"`)

	mobileWindow(t, app, base, "", iamporttest.CardOK)
	_, body = alice.get("/")
	assert.Contains(t, body, `"card_number":"411111******1111"`)

	res, ico := alice.get("/favicon.ico")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "image/x-icon", res.Header.Get("Content-Type"))
	assert.True(t, bytes.HasPrefix([]byte(ico), []byte{0, 0, 1, 0}), "an ICO file")
	res, svg := alice.get("/static/favicon.svg")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "image/svg+xml", res.Header.Get("Content-Type"))
	assert.Contains(t, svg, "<svg")
}

func TestHealth(t *testing.T) {
	app, _ := newTestApp(t)
	h := getHealth(t, app)
	assert.Equal(t, http.StatusOK, h.status)
	assert.JSONEq(t, `{"status":"ok","mode":"sandbox","store":"ok","iamport":{"token_valid":false}}`, h.body, "no token before the first call")

	_, err := app.client.Token(context.Background())
	require.NoError(t, err)
	h = getHealth(t, app)
	assert.Equal(t, http.StatusOK, h.status)
	assert.Contains(t, h.body, `"token_valid":true,"last_refresh":"`)

	require.NoError(t, app.db.Close())
	h = getHealth(t, app)
	assert.Equal(t, http.StatusServiceUnavailable, h.status)
	assert.Contains(t, h.body, `"status":"unavailable"`)
	assert.Contains(t, h.body, `"store":"unreachable"`)
}

// A token refresh that fails makes the example unavailable until one succeeds.
func TestHealthTokenFailure(t *testing.T) {
	upstream := iamporttest.NewServer(iamporttest.WithSandbox(true))
	t.Cleanup(upstream.Close)
	app, _ := serveTestApp(t, nil, func(app *App) http.Handler { return app.Handler() }, "-iamport-url", upstream.URL)
	h := getHealth(t, app)
	assert.Equal(t, http.StatusOK, h.status, "the start's token check succeeded: %s", h.body)
	assert.Contains(t, h.body, `"last_refresh":"`)

	// iamport stops taking the token, and refuses a new one.
	upstream.Inject(iamporttest.EPGetPayment, iamporttest.Fault{Status: http.StatusUnauthorized})
	refused := make([]iamporttest.Fault, 10)
	for i := range refused {
		refused[i] = iamporttest.Fault{Status: http.StatusServiceUnavailable}
	}
	upstream.Inject(iamporttest.EPGetToken, refused...)
	_, err := app.client.GetPayment(context.Background(), "imp_000000000000", true)
	require.Error(t, err)
	h = getHealth(t, app)
	assert.Equal(t, http.StatusServiceUnavailable, h.status, h.body)
	assert.Contains(t, h.body, `"last_failure":"`)
	assert.NotContains(t, h.body, "127.0.0.1", "no host names")

	upstream.ClearFaults()
	_, err = app.client.Token(context.Background())
	require.NoError(t, err)
	h = getHealth(t, app)
	assert.Equal(t, http.StatusOK, h.status, "a later refresh that succeeds: %s", h.body)
}

// The private fake follows the real clock and keeps its state beside the SQLite file: a
// restarted example still charges the keys its database remembers, and paid_at is a
// real time, never before the charge was created.
func TestPrivateFakeSurvivesRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.db")
	app, base := serveTestAppOut(t, io.Discard, "-db", db)
	assert.Equal(t, db+".fake.json", app.fakeState)
	assert.Contains(t, Banner(app), db+".fake.json")
	mobileWindow(t, app, base, "", iamporttest.CardOK)
	before := time.Now()
	v, err := app.Service().Charge(context.Background(), core.ChargeRequest{UserID: Users[0].ID, PlanID: "basic", IdempotencyKey: "first"})
	require.NoError(t, err)
	require.NotNil(t, v.PaidAt)
	assert.False(t, v.PaidAt.Before(v.CreatedAt.Truncate(time.Second)), "paid_at %s before created_at %s", v.PaidAt, v.CreatedAt)
	assert.WithinDuration(t, before, *v.PaidAt, time.Minute, "paid_at is the real time")
	app.Close()

	again, _ := serveTestAppOut(t, io.Discard, "-db", db)
	v, err = again.Service().Charge(context.Background(), core.ChargeRequest{UserID: Users[0].ID, PlanID: "pro", IdempotencyKey: "after-restart"})
	require.NoError(t, err, "the restarted fake knows the key")
	assert.Equal(t, core.ChargePaid, v.Status)
}

// billkey's logger shows warnings, errors and one line per webhook received, not the rest
// of billkey's Info lines (the demo prints the events itself).
func TestServiceLog(t *testing.T) {
	out := &syncBuffer{}
	app, base := serveTestAppOut(t, out)

	res, err := http.Post(base+WebhookPath, "application/json", strings.NewReader(`{"imp_uid":"imp_000000000001","merchant_uid":"nobody","status":"paid"}`))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, out.String(), webhookReceivedMessage)
	assert.Contains(t, out.String(), "imp_000000000001")

	mobileWindow(t, app, base, "", iamporttest.CardOK)
	_, err = app.Service().Charge(context.Background(), core.ChargeRequest{UserID: Users[0].ID, PlanID: "basic", IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Contains(t, out.String(), "kind=charge.paid", "the event")
	assert.NotContains(t, out.String(), "billkey: charge paid", "billkey's own Info line")

	var buf bytes.Buffer
	l := slog.New(serviceLogHandler(&buf)).With("k", "v")
	l.Info("billkey: something routine")
	l.Info(webhookReceivedMessage, "imp_uid", "imp_1")
	l.Warn("billkey: trouble")
	assert.NotContains(t, buf.String(), "routine")
	assert.Contains(t, buf.String(), "k=v")
	assert.Contains(t, buf.String(), "imp_uid=imp_1")
	assert.Contains(t, buf.String(), "trouble")
}

func TestOutcomes(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	o := newOutcomes(func() time.Time { return now })
	o.note(event.Event{Kind: event.IssuanceFailed, UserID: "alice", Reason: "refused"})
	o.note(event.Event{Kind: event.IssuanceFailed, UserID: "mallory", Reason: "x"})
	r, ok := o.reason("alice", codes.IssuanceFailed)
	assert.True(t, ok)
	assert.Equal(t, "refused", r)
	_, ok = o.reason("alice", codes.CardDeclined)
	assert.False(t, ok, "another kind")
	_, ok = o.reason("bob", codes.IssuanceFailed)
	assert.False(t, ok)
	assert.Len(t, o.last, 1, "only demo users are kept")

	o.note(event.Event{Kind: event.ChargePaid, UserID: "alice"})
	_, ok = o.reason("alice", codes.IssuanceFailed)
	assert.True(t, ok, "a paid charge does not settle an issuance failure")
	o.note(event.Event{Kind: event.BillingKeyIssued, UserID: "alice"})
	_, ok = o.reason("alice", codes.IssuanceFailed)
	assert.False(t, ok, "forgotten once a card is issued")

	o.note(event.Event{Kind: event.ChargeFailed, UserID: "alice", Reason: "declined"})
	_, ok = o.reason("alice", codes.CardDeclined)
	assert.True(t, ok)
	now = now.Add(outcomeTTL + time.Second)
	_, ok = o.reason("alice", codes.CardDeclined)
	assert.False(t, ok, "too old to explain")
}
