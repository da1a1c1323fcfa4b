package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/examples/internal/demo"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/skipnote"
)

// flowTimeout bounds one flow in the browser.
const flowTimeout = 60 * time.Second

// The masked numbers the fake reports for the test cards (first six, last four digits).
const (
	maskedOK       = "411111******1111"
	maskedDeclined = "400000******0069"
)

// chromiumPath finds Chromium or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BILLKEY_TEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("BILLKEY_TEST_CHROMIUM=%q: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipnote.Skip(t, "Chromium", skipnote.EnableChromium, "the browser tests")
	return ""
}

// artifactDir is where screenshots go.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BILLKEY_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "billkey-e2e-artifacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// browser is one headless Chromium with a fresh profile, closed when the test ends.
// ctx is bounded by flowTimeout; the browser itself lives on the untimed parent.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string // screenshots

	mu      sync.Mutex
	console []consoleError // what the console showed: uncaught errors, console.error, failed loads
}

// consoleError is one error of the console and the URL it names (or came from).
type consoleError struct {
	text, url string
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "billkey-e2e-chromium-")
	require.NoError(t, err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // the CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	})
	// The first Do starts the browser and binds it to browserCtx (not to the timed ctx).
	require.NoError(t, chromedp.Do(browserCtx), "start chromium %s", chromium)
	ctx, cancel := context.WithTimeout(browserCtx, flowTimeout)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, dir: artifactDir(t)}
	b.watchConsole(browserCtx)
	return b
}

// watchConsole keeps every error the page's console shows from now on.
func (b *browser) watchConsole(ctx context.Context) {
	ctx, stop := context.WithCancel(ctx)
	messages := chromedp.Console(ctx) // subscribed now, read below
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.console = append(b.console, consoleError{text: m.Text, url: m.URL})
				b.mu.Unlock()
			}
		}
	}()
	b.t.Cleanup(func() {
		stop()
		<-done
	})
}

// consoleErrors returns the console errors seen so far on pages or resources of origin
// (a shared fake's window on another origin is not the shop's).
func (b *browser) consoleErrors(origin string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.console {
		if e.url == "" || e.url == origin || strings.HasPrefix(e.url, origin+"/") {
			out = append(out, strings.TrimSpace(e.text+" "+e.url))
		}
	}
	return out
}

// clearCookies drops every cookie of the browser: the demo session is gone, as when a
// card app brings the customer back in another browser.
func (b *browser) clearCookies() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		b.fail("clear the cookies", err)
	}
}

// do runs actions; on failure it saves a screenshot and shows the page's message.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (flow timeout %s)", err, flowTimeout)
	}
	// A fresh context: the flow's may have expired.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
		const m = document.getElementById('message');
		return location.href + '\n#message: ' + (m ? m.outerHTML : '(none)') +
			'\n' + document.body.innerText.slice(0, 1500);
	})()`))
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		b.save(strings.ReplaceAll(b.t.Name(), "/", "-")+"-failed", png)
	}
	b.t.Fatalf("%s: %v\npage: %s", what, err, state)
}

// text returns the text of the first element matching css.
func (b *browser) text(css string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.fail("read "+css, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression (promises are awaited).
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// screenshot saves the whole page as NAME.png and logs its path.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot", err)
	}
	b.save(name, png)
}

func (b *browser) save(name string, png []byte) {
	b.t.Helper()
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot: %s", path)
}

// css is a CSS selector.
func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// login signs in as a demo user and waits for the subscribe page to be ready.
func (b *browser) login(base, user string) {
	b.t.Helper()
	b.do("open the shop", chromedp.Navigate(base+"/"))
	b.signIn(user)
	assert.Equal(b.t, "none", attr(b, "#card-status", "data-state"), "a fresh user has no card")
	assert.Contains(b.t, b.text("#sandbox-banner"), "SANDBOX")
}

// signIn picks user on the login page the browser shows and waits for the subscribe page.
func (b *browser) signIn(user string) {
	b.t.Helper()
	b.do("sign in as "+user,
		chromedp.WaitVisible(css("#login-"+user)),
		chromedp.Click(css("#login-"+user)),
		chromedp.WaitVisible(css(`#signed-in-as[data-user="`+user+`"]`)),
		chromedp.WaitVisible(css(`#card-status:not([data-state="loading"])`)),
		chromedp.WaitEnabled(css("#register-card")),
	)
}

// attr returns an attribute of the first element matching sel ("" if absent).
func attr(b *browser, sel, name string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ''}).getAttribute(%q) || ''`, sel, name))
}

// fillCard fills the fake KCP window's card form. from is nil on the mobile page (the
// window is the page) or the overlay's iframe node on a PC.
func (b *browser) fillCard(card string, from *chromedp.Node) {
	b.t.Helper()
	expiry := time.Now().AddDate(2, 0, 0).Format("01/06")
	opts := inFrame(from)
	b.do("type the card "+card,
		chromedp.WaitVisible(css("#card-number"), opts...),
		chromedp.SendKeys(css("#card-number"), card, opts...),
		chromedp.SendKeys(css("#card-expiry"), expiry, opts...),
		chromedp.SendKeys(css("#card-birth"), "900101", opts...),
		chromedp.SendKeys(css("#card-pwd"), "12", opts...),
	)
}

// submitCard presses the window's Register button.
func (b *browser) submitCard(from *chromedp.Node) {
	b.t.Helper()
	b.do("submit the card", chromedp.Click(css("#card-submit"), inFrame(from)...))
}

func inFrame(from *chromedp.Node) []chromedp.QueryOption {
	if from == nil {
		return nil
	}
	return []chromedp.QueryOption{chromedp.FromNode(from)}
}

// openWindowPC clicks button, waits for the fake window's overlay to show its card form
// and returns the overlay's iframe node.
func (b *browser) openWindowPC(button string) *chromedp.Node {
	b.t.Helper()
	b.do("open the payment window", chromedp.Click(css(button)), chromedp.WaitVisible(css("#iamporttest-frame")))
	// The overlay's iframe is same-origin; wait until it shows the card form (it loads
	// /window/open, then the form), then query inside it.
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`(function () {
		const f = document.getElementById('iamporttest-frame');
		const d = f && f.contentDocument;
		return !!(d && d.readyState === 'complete' && d.getElementById('card-number'));
	})()`, chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		b.fail("wait for the card form", err)
	}
	frames, err := chromedp.Run(b.ctx, chromedp.Nodes(css("#iamporttest-frame")))
	if err != nil || len(frames) == 0 {
		b.fail("find the window's iframe", fmt.Errorf("%d nodes: %v", len(frames), err))
	}
	return frames[0]
}

// registerCardPC clicks "Register card" and types card into the overlay window.
func (b *browser) registerCardPC(card string) {
	b.t.Helper()
	frame := b.openWindowPC("#register-card")
	b.fillCard(card, frame)
	b.submitCard(frame)
}

// subscribe clicks a plan's Subscribe button and waits for the outcome code.
func (b *browser) subscribe(plan, wantCode string) {
	b.t.Helper()
	b.press("#plan-"+plan+"-subscribe", wantCode)
}

// press clicks button and waits for the outcome code in #message and for the page to be
// ready again (the register button enabled). The message is cleared first, so an outcome
// equal to the one before is still waited for.
func (b *browser) press(button, wantCode string) {
	b.t.Helper()
	b.do("press "+button+" for "+wantCode,
		chromedp.WaitEnabled(css(button)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('message').setAttribute('data-code', '')`),
		chromedp.Click(css(button)),
		chromedp.WaitVisible(css(`#message[data-code="`+wantCode+`"]`)),
		chromedp.WaitEnabled(css("#register-card")),
	)
}

// keyStatus asks billkey, with the browser's session but not from the page (whose
// console must stay clean), whether the user has a key: 200 or 404.
func keyStatus(b *browser, base string) int {
	b.t.Helper()
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	if err != nil {
		b.fail("read the cookies", err)
	}
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, base+demo.BillingPrefix+"/billing-key", nil)
	require.NoError(b.t, err)
	req.Header.Set("Accept", "application/json")
	for _, c := range cookies.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	_ = res.Body.Close()
	return res.StatusCode
}

// noConsoleErrors checks that the shop at origin logged no error in the console: no
// missing favicon, no 404 for a customer without a card, no script error.
//
// expected lists errors the flow caused on purpose, each matched as a suffix: Chromium
// logs every 4xx answer to fetch as a console error, also one the page shows as an
// outcome (a card that cannot go while a subscription is live answers 409).
func noConsoleErrors(t *testing.T, b *browser, origin string, expected ...string) {
	t.Helper()
	var unexpected []string
	for _, e := range b.consoleErrors(origin) {
		if !slices.ContainsFunc(expected, func(x string) bool { return strings.HasSuffix(e, x) }) {
			unexpected = append(unexpected, e)
		}
	}
	assert.Empty(t, unexpected, "console errors")
}

// shotName is the screenshot name of the running flow.
func shotName(t *testing.T, suffix string) string {
	name := strings.ReplaceAll(strings.TrimPrefix(t.Name(), "TestBrowser"), "/", "-")
	return strings.Trim(name, "-") + suffix
}

// ---------------------------------------------------------------------------------------
// The flows.

// flowPC: sign in, register CardOK in the overlay window, see the masked card, subscribe
// to Basic, see it paid and in the history, see it renewed a month later (the time
// machine), and remove the card once the subscription is cancelled.
func flowPC(t *testing.T, chromium, example string, args ...string) {
	srv := startExample(t, example, args...)
	b := newBrowser(t, chromium)
	b.login(srv.URL, "alice")

	b.registerCardPC(iamporttest.CardOK)
	b.do("card registered",
		chromedp.WaitVisible(css(`#message[data-code="issued"]`)),
		chromedp.WaitNotPresent(css("#iamporttest-overlay")),
		chromedp.WaitVisible(css(`#card-status[data-state="registered"]`)),
	)
	assert.Equal(t, maskedOK, b.text("#card-masked"))
	assert.Contains(t, b.text("#card-status"), "BC카드")
	assert.Equal(t, "ok", attr(b, "#message", "data-kind"))
	assert.Equal(t, 200, keyStatus(b, srv.URL))

	b.subscribe("basic", "subscribed")
	b.do("the history shows the charge", chromedp.WaitVisible(css(`#charges tbody tr[data-status="paid"]`)))
	assert.Equal(t, 1, eval[int](b, `document.querySelectorAll('#charges tbody tr').length`))
	row := b.text(`#charges tbody tr[data-status="paid"]`)
	assert.Contains(t, row, "9,900원")
	assert.Contains(t, row, "Paid")
	assert.Contains(t, row, "베이직 (월간) · Basic (monthly)", "the Korean order name, with the English beside it")
	assert.Contains(t, b.text("#message"), "9,900원")
	assert.Equal(t, "active", attr(b, subSel("basic"), "data-status"))
	assert.Contains(t, b.text(subSel("basic")+" .sub-next"), "9,900원", "the next billing date and amount")
	assert.True(t, eval[bool](b, `!document.getElementById('plan-basic-current').hidden`), "basic is the customer's plan")
	assert.True(t, eval[bool](b, `document.getElementById('plan-basic-subscribe').hidden && !document.getElementById('plan-pro-switch').hidden`),
		"no second subscription of the group; the other plan is a switch")

	// A month later the time machine's sweep has renewed it.
	b.press("#time-month", "time_moved")
	b.do("renewed", chromedp.WaitVisible(css(`#charges tbody tr:nth-child(2)[data-status="paid"]`)))
	assert.Equal(t, 2, eval[int](b, `document.querySelectorAll('`+subSel("basic")+` table.renewals tbody tr[data-status="paid"]').length`))
	b.screenshot(shotName(t, ""))

	// A live subscription keeps its card; once cancelled, the card can go and the
	// history stays.
	b.press("#remove-card", "billing_key_in_use")
	assert.Equal(t, "registered", attr(b, "#card-status", "data-state"))
	b.press(subSel("basic")+" .sub-cancel", "canceled")
	b.do("remove the card",
		chromedp.Click(css("#remove-card")),
		chromedp.WaitVisible(css(`#message[data-code="removed"]`)),
		chromedp.WaitVisible(css(`#card-status[data-state="none"]`)),
		chromedp.WaitNotVisible(css("#remove-card")),
	)
	assert.Equal(t, 404, keyStatus(b, srv.URL))
	assert.Equal(t, 2, eval[int](b, `document.querySelectorAll('#charges tbody tr[data-status="paid"]').length`))

	// A customer without a card reloads the page: nothing is an error.
	b.do("reload without a card", chromedp.Reload(), chromedp.WaitVisible(css(`#card-status[data-state="none"]`)))
	noConsoleErrors(t, b, srv.URL, "status of 409 (Conflict) "+srv.URL+"/billing/billing-key")
}

// subSel selects the subscription of plan the page lists first: the live one, if any.
func subSel(plan string) string {
	return `#subscriptions article.sub[data-plan="` + plan + `"]`
}

// mobileCase is one way through the phone's window.
type mobileCase struct {
	user        string // the demo user; "" is alice
	plan        string // "" registers a card only; a plan id registers and pays its first month
	keepSession bool   // false: the cookies are cleared right before the window submits
}

// flowMobile: on a phone the window replaces the page and comes back through
// m_redirect_url; billkey's return handler (outside the login) lands on /result. Card
// apps often bring the customer back in another browser, without the session: the key
// is registered all the same (and the plan's first month paid), the result page says so
// and asks to sign in, and after signing in the subscribe page shows the card.
func flowMobile(t *testing.T, chromium string, srv *server, mc mobileCase) {
	user := mc.user
	if user == "" {
		user = "alice"
	}
	b := newBrowser(t, chromium)
	b.do("emulate a phone", chromedp.Emulate(device.IPhone13))
	b.login(srv.URL, user)

	button := "#register-card"
	if mc.plan != "" {
		button = "#plan-" + mc.plan + "-subscribe" // without a card: register it and pay the first month
	}
	b.do("open the payment window", chromedp.Click(css(button)),
		chromedp.WaitVisible(css(`body[data-mode="mobile"] #card-number`)))
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(loc, srv.Window+"/window/pay"), "the window replaces the page on a phone: %s", loc)
	if mc.plan != "" {
		assert.Equal(t, "베이직 (월간)", b.text("#order-name"), "a Korean order name in the Korean window")
		assert.Contains(t, b.text("#order-amount"), "9,900")
	}

	b.fillCard(iamporttest.CardOK, nil)
	if !mc.keepSession {
		b.clearCookies()
	}
	b.submitCard(nil)

	// With a plan, the fake's webhook may be running the first charge as the browser
	// comes back.
	b.do("land on the result page", chromedp.WaitVisible(css(`#result[data-code="issued"], #result[data-code="charge_in_progress"]`)))
	loc, err = chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	code := attr(b, "#result", "data-code")
	assert.Equal(t, srv.URL+"/result?result="+code, loc)
	if mc.plan == "" {
		assert.Equal(t, "issued", code)
		assert.Contains(t, b.text("#result"), "카드가 등록되었습니다")
	}
	if mc.keepSession {
		assert.Equal(t, "true", attr(b, "#result", "data-signed-in"))
		assert.Equal(t, maskedOK, b.text("#result-card .masked"))
		b.screenshot(shotName(t, "-result"))
		b.do("back to the subscribe page", chromedp.Click(css("#back")))
	} else {
		assert.Equal(t, "false", attr(b, "#result", "data-signed-in"))
		assert.Contains(t, b.text("#result"), "로그인하면 등록된 카드와 결제 내역을 볼 수 있습니다")
		assert.Equal(t, 0, eval[int](b, `document.querySelectorAll('#result-card').length`), "no card without a session")
		b.screenshot(shotName(t, "-result"))
		b.do("sign in again", chromedp.Click(css("#sign-in")))
		b.signIn(user)
	}

	b.do("the card is on file", chromedp.WaitVisible(css(`#card-status[data-state="registered"]`)))
	assert.Equal(t, maskedOK, b.text("#card-masked"))
	assert.Equal(t, 200, keyStatus(b, srv.URL))
	if mc.plan != "" {
		b.do("the first month is paid", chromedp.WaitVisible(css(`#charges tbody tr[data-status="paid"]`)))
		assert.Equal(t, 1, eval[int](b, `document.querySelectorAll('#charges tbody tr').length`), "charged once")
		assert.Contains(t, b.text(`#charges tbody tr[data-status="paid"]`), "9,900원")
		assert.True(t, eval[bool](b, `(function () {
			const td = document.querySelector('#charges tbody tr td:first-child');
			return getComputedStyle(td).display !== 'none' && td.getBoundingClientRect().width > 0 && td.textContent.trim() !== '';
		})()`), "the date of a charge stays visible on a phone")
	}
	b.do("the test cards stay readable on a phone", chromedp.WaitVisible(css("#test-cards td code")))
	b.screenshot(shotName(t, ""))
	noConsoleErrors(t, b, srv.URL)
}

// flowRefused: the customer closes the window (their choice, said neutrally), then
// CardRefused is refused at issuance: a clear message with the card company's reason,
// and no key stored.
func flowRefused(t *testing.T, chromium, example string) {
	srv := startExample(t, example)
	b := newBrowser(t, chromium)
	b.login(srv.URL, "alice")

	// Subscribing without a card opens the window (register and pay the first month);
	// the customer cancels.
	frame := b.openWindowPC("#plan-basic-subscribe")
	assert.Contains(t, eval[string](b, `document.getElementById('iamporttest-frame').contentDocument.getElementById('order-name').textContent`), "베이직 (월간)")
	b.do("cancel the window",
		chromedp.Click(css("#card-cancel"), chromedp.FromNode(frame)),
		chromedp.WaitVisible(css(`#message[data-code="window_cancelled"]`)),
		chromedp.WaitNotPresent(css("#iamporttest-overlay")),
		chromedp.WaitEnabled(css("#register-card")),
	)
	assert.Equal(t, "info", attr(b, "#message", "data-kind"), "closing the window is not an error")
	assert.Contains(t, b.text("#message"), "결제창을 닫아")

	b.registerCardPC(iamporttest.CardRefused)
	b.do("the refusal shows",
		chromedp.WaitVisible(css(`#message[data-code="issuance_failed"]`)),
		chromedp.WaitNotPresent(css("#iamporttest-overlay")),
		chromedp.WaitEnabled(css("#register-card")),
		chromedp.WaitNotVisible(css("#remove-card")),
	)
	msg := b.text("#message")
	assert.Contains(t, msg, "카드를 등록하지 못했습니다")
	assert.Contains(t, msg, "We could not register this card")
	assert.Contains(t, msg, iamporttest.FailReasonRefused, "the card company's reason is shown")
	assert.Equal(t, "error", attr(b, "#message", "data-kind"))
	assert.Equal(t, "none", attr(b, "#card-status", "data-state"))
	assert.Equal(t, 404, keyStatus(b, srv.URL), "no billing key is stored")
	assert.Equal(t, 0, eval[int](b, `document.querySelectorAll('#charges tbody tr').length`))
	b.screenshot(example + "-refused")
}

// flowDeclined: CardDeclined is issued, but its charge is declined: the customer's words
// and the card company's reason (no developer prose), and the charge shows failed.
func flowDeclined(t *testing.T, chromium, example string) {
	srv := startExample(t, example)
	b := newBrowser(t, chromium)
	b.login(srv.URL, "alice")

	b.registerCardPC(iamporttest.CardDeclined)
	b.do("card registered", chromedp.WaitVisible(css(`#card-status[data-state="registered"]`)))
	assert.Equal(t, maskedDeclined, b.text("#card-masked"))

	b.subscribe("basic", "card_declined")
	msg := b.text("#message")
	assert.Contains(t, msg, "카드사에서 결제를 거절했습니다")
	assert.Contains(t, msg, "declined")
	assert.Contains(t, msg, iamporttest.FailReasonDeclined, "the card company's own reason")
	assert.NotContains(t, msg, "the charge was refused", "no developer prose")
	assert.Equal(t, "error", attr(b, "#message", "data-kind"))
	b.do("the history shows the failed charge", chromedp.WaitVisible(css(`#charges tbody tr[data-status="failed"]`)))
	assert.Equal(t, 0, eval[int](b, `document.querySelectorAll('#charges tbody tr[data-status="paid"]').length`))
	assert.Contains(t, b.text(`#charges tbody tr[data-status="failed"]`), "Failed")
	assert.Equal(t, "registered", attr(b, "#card-status", "data-state"), "the key stays; the customer may retry")
	assert.Equal(t, "ended", attr(b, subSel("basic"), "data-status"), "a subscription whose first charge fails never starts")
	assert.True(t, eval[bool](b, `!document.getElementById('plan-basic-subscribe').hidden`), "the customer may subscribe again")
	b.screenshot(example + "-declined")
}

// mobileFlows runs the phone's window on example: without the session, with and
// without a plan.
func mobileFlows(t *testing.T, chromium, example string) {
	t.Run("mobile", func(t *testing.T) {
		flowMobile(t, chromium, startExample(t, example), mobileCase{})
	})
	t.Run("mobile-plan", func(t *testing.T) {
		flowMobile(t, chromium, startExample(t, example), mobileCase{plan: "basic"})
	})
}

func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	t.Run("nethttp", func(t *testing.T) {
		t.Run("pc", func(t *testing.T) { flowPC(t, chromium, "nethttp") })
		mobileFlows(t, chromium, "nethttp")
		t.Run("mobile-session", func(t *testing.T) {
			flowMobile(t, chromium, startExample(t, "nethttp"), mobileCase{keepSession: true})
		})
		t.Run("refused", func(t *testing.T) { flowRefused(t, chromium, "nethttp") })
		t.Run("declined", func(t *testing.T) { flowDeclined(t, chromium, "nethttp") })
		t.Run("lifecycle", func(t *testing.T) { flowLifecycle(t, chromium, "nethttp") })
		t.Run("admin-refund", func(t *testing.T) { flowAdminRefund(t, chromium, "nethttp") })
		t.Run("pc-postgres", func(t *testing.T) {
			flowPC(t, chromium, "nethttp", "-postgres", postgresDSN(t))
		})
	})
	for _, example := range []string{"gin", "fiber"} {
		t.Run(example, func(t *testing.T) {
			t.Run("pc", func(t *testing.T) { flowPC(t, chromium, example) })
			mobileFlows(t, chromium, example)
			if example == "gin" {
				t.Run("dunning", func(t *testing.T) { flowDunning(t, chromium, example) })
			} else {
				t.Run("cancel-ends", func(t *testing.T) { flowCancelEnds(t, chromium, example) })
			}
			t.Run("admin-refund", func(t *testing.T) { flowAdminRefund(t, chromium, example) })
		})
	}
	t.Run("shared-fake", func(t *testing.T) { flowSharedFake(t, chromium) })
}

// flowSharedFake: one cmd/fakeiamport serves several examples, which may then share one
// PostgreSQL database; an example with a private fake is refused on it. The shared
// fake's window and webhooks reach each example.
func flowSharedFake(t *testing.T, chromium string) {
	base := startFakeIAMPort(t)
	storage := func() []string { return nil } // a SQLite file each
	if os.Getenv("BILLKEY_TEST_POSTGRES_DSN") != "" {
		dsn := postgresDSN(t)
		storage = func() []string { return []string{"-postgres", dsn} }
	}
	servers := map[string]*server{}
	for _, example := range []string{"nethttp", "gin"} {
		servers[example] = startExample(t, example, append(storage(), "-iamport-url", base)...)
		assert.Contains(t, servers[example].out.String(), "shared fake at "+base)
	}
	if args := storage(); len(args) > 0 {
		out, err := runExampleToExit(t, "fiber", args...)
		require.Error(t, err, "a private fake on a database that examples with a shared fake use:\n%s", out)
		assert.Contains(t, out, "-iamport-url")
		assert.Contains(t, out, "cmd/fakeiamport")
	}
	// Two users, since the examples may share one database.
	for example, user := range map[string]string{"nethttp": "alice", "gin": "bob"} {
		t.Run(example, func(t *testing.T) {
			srv := servers[example]
			flowMobile(t, chromium, srv, mobileCase{user: user, plan: "basic"})
			assert.Contains(t, srv.out.String(), "billkey: webhook received", "the shared fake's webhook reached the example")
		})
	}
}
