package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport/iamporttest"
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
	t.Skip("chromium not found: skipping browser tests (install Debian's chromium, or set BILLKEY_TEST_CHROMIUM)")
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
	return &browser{t: t, ctx: ctx, dir: artifactDir(t)}
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
	b.do("sign in as "+user,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(css("#login-"+user)),
		chromedp.Click(css("#login-"+user)),
		chromedp.WaitVisible(css(`#signed-in-as[data-user="`+user+`"]`)),
		chromedp.WaitVisible(css(`#card-status:not([data-state="loading"])`)),
		chromedp.WaitEnabled(css("#register-card")),
	)
	assert.Equal(b.t, "none", attr(b, "#card-status", "data-state"), "a fresh user has no card")
	assert.Contains(b.t, b.text("#sandbox-banner"), "SANDBOX")
}

// attr returns an attribute of the first element matching sel ("" if absent).
func attr(b *browser, sel, name string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ''}).getAttribute(%q) || ''`, sel, name))
}

// typeCard fills the fake KCP window's card form and submits it. from is nil on the
// mobile page (the window is the page) or the overlay's iframe node on a PC.
func (b *browser) typeCard(card string, from *chromedp.Node) {
	b.t.Helper()
	var opts []chromedp.QueryOption
	if from != nil {
		opts = append(opts, chromedp.FromNode(from))
	}
	expiry := time.Now().AddDate(2, 0, 0).Format("01/06")
	b.do("type the card "+card,
		chromedp.WaitVisible(css("#card-number"), opts...),
		chromedp.SendKeys(css("#card-number"), card, opts...),
		chromedp.SendKeys(css("#card-expiry"), expiry, opts...),
		chromedp.SendKeys(css("#card-birth"), "900101", opts...),
		chromedp.SendKeys(css("#card-pwd"), "12", opts...),
		chromedp.Click(css("#card-submit"), opts...),
	)
}

// registerCardPC clicks "Register card", waits for the fake window's overlay to show
// its card form and types card into it.
func (b *browser) registerCardPC(card string) {
	b.t.Helper()
	b.do("open the payment window", chromedp.Click(css("#register-card")), chromedp.WaitVisible(css("#iamporttest-frame")))
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
	b.typeCard(card, frames[0])
}

// subscribe clicks a plan's Subscribe button and waits for the outcome code.
func (b *browser) subscribe(plan, wantCode string) {
	b.t.Helper()
	b.do("subscribe to "+plan,
		chromedp.WaitEnabled(css("#plan-"+plan+"-subscribe")),
		chromedp.Click(css("#plan-"+plan+"-subscribe")),
		chromedp.WaitVisible(css(`#message[data-code="`+wantCode+`"]`)),
		chromedp.WaitEnabled(css("#plan-"+plan+"-subscribe")),
	)
}

// keyStatus asks billkey from the page (with its session) whether the user has a key.
func keyStatus(b *browser) int {
	b.t.Helper()
	return eval[int](b, `fetch('/billing/billing-key', {headers: {Accept: 'application/json'}}).then(r => r.status)`)
}

// ---------------------------------------------------------------------------------------
// The flows.

// flowPC: sign in, register CardOK in the overlay window, see the masked card, subscribe
// to Basic, see it paid and in the history.
func flowPC(t *testing.T, chromium, example string, storage ...string) {
	srv := startExample(t, example, storage...)
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
	assert.Equal(t, 200, keyStatus(b))

	b.subscribe("basic", "paid")
	b.do("the history shows the charge", chromedp.WaitVisible(css(`#charges tbody tr[data-status="paid"]`)))
	assert.Equal(t, 1, eval[int](b, `document.querySelectorAll('#charges tbody tr').length`))
	row := b.text(`#charges tbody tr[data-status="paid"]`)
	assert.Contains(t, row, "9,900원")
	assert.Contains(t, row, "Paid")
	assert.Contains(t, b.text("#message"), "9,900원")

	// A second click is a new charge (a fresh Idempotency-Key per click).
	b.subscribe("pro", "paid")
	b.do("the history shows both", chromedp.WaitVisible(css(`#charges tbody tr:nth-child(2)[data-status="paid"]`)))
	assert.Contains(t, b.text(`#charges tbody tr:first-child`), "29,000원", "newest first")
	b.screenshot(strings.ReplaceAll(strings.TrimPrefix(t.Name(), "TestBrowser/"), "/", "-"))

	// Removing the card deletes the key; the history stays.
	b.do("remove the card",
		chromedp.Click(css("#remove-card")),
		chromedp.WaitVisible(css(`#message[data-code="removed"]`)),
		chromedp.WaitVisible(css(`#card-status[data-state="none"]`)),
		chromedp.WaitNotVisible(css("#remove-card")),
	)
	assert.Equal(t, 404, keyStatus(b))
	assert.Equal(t, 2, eval[int](b, `document.querySelectorAll('#charges tbody tr[data-status="paid"]').length`))
}

// flowMobile: on a phone the window replaces the page and comes back through
// m_redirect_url; billkey's redirect handler lands on /result, and back on the
// subscribe page the masked card shows.
func flowMobile(t *testing.T, chromium, example string) {
	srv := startExample(t, example)
	b := newBrowser(t, chromium)
	b.do("emulate a phone", chromedp.Emulate(device.IPhone13))
	b.login(srv.URL, "alice")

	b.do("open the payment window", chromedp.Click(css("#register-card")),
		chromedp.WaitVisible(css(`body[data-mode="mobile"] #card-number`)))
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Contains(t, loc, "/__fake_iamport__/window/pay", "the window replaces the page on a phone")

	b.typeCard(iamporttest.CardOK, nil)
	b.do("land on the result page", chromedp.WaitVisible(css(`#result[data-code="issued"]`)))
	loc, err = chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, srv.URL+"/result?result=issued", loc)
	assert.Contains(t, b.text("#result"), "카드가 등록되었습니다")
	assert.Equal(t, maskedOK, b.text("#result-card .masked"))
	b.screenshot(example + "-mobile-result")

	b.do("back to the subscribe page",
		chromedp.Click(css("#back")),
		chromedp.WaitVisible(css(`#card-status[data-state="registered"]`)),
	)
	assert.Equal(t, maskedOK, b.text("#card-masked"))
	assert.Equal(t, 200, keyStatus(b))
	b.do("the test cards stay readable on a phone", chromedp.WaitVisible(css("#test-cards td code")))
	b.screenshot(example + "-mobile")
}

// flowRefused: CardRefused is refused at issuance: a clear message, and no key stored.
func flowRefused(t *testing.T, chromium, example string) {
	srv := startExample(t, example)
	b := newBrowser(t, chromium)
	b.login(srv.URL, "alice")

	// Subscribing without a card explains itself instead of charging.
	b.do("subscribe without a card", chromedp.Click(css("#plan-basic-subscribe")),
		chromedp.WaitVisible(css(`#message[data-code="billing_key_missing"]`)))

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
	assert.Equal(t, 404, keyStatus(b), "no billing key is stored")
	assert.Equal(t, 0, eval[int](b, `document.querySelectorAll('#charges tbody tr').length`))
	b.screenshot(example + "-refused")
}

// flowDeclined: CardDeclined is issued, but its charge is declined: a clear message, and
// the charge shows failed.
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
	assert.Equal(t, "error", attr(b, "#message", "data-kind"))
	b.do("the history shows the failed charge", chromedp.WaitVisible(css(`#charges tbody tr[data-status="failed"]`)))
	assert.Equal(t, 0, eval[int](b, `document.querySelectorAll('#charges tbody tr[data-status="paid"]').length`))
	assert.Contains(t, b.text(`#charges tbody tr[data-status="failed"]`), "Failed")
	assert.Equal(t, "registered", attr(b, "#card-status", "data-state"), "the key stays; the customer may retry")
	b.screenshot(example + "-declined")
}

func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	t.Run("nethttp", func(t *testing.T) {
		t.Run("pc", func(t *testing.T) { flowPC(t, chromium, "nethttp") })
		t.Run("mobile", func(t *testing.T) { flowMobile(t, chromium, "nethttp") })
		t.Run("refused", func(t *testing.T) { flowRefused(t, chromium, "nethttp") })
		t.Run("declined", func(t *testing.T) { flowDeclined(t, chromium, "nethttp") })
		t.Run("pc-postgres", func(t *testing.T) {
			flowPC(t, chromium, "nethttp", "-postgres", postgresDSN(t))
		})
	})
	for _, example := range []string{"gin", "fiber"} {
		t.Run(example, func(t *testing.T) {
			t.Run("pc", func(t *testing.T) { flowPC(t, chromium, example) })
			t.Run("mobile", func(t *testing.T) { flowMobile(t, chromium, example) })
		})
	}
}
