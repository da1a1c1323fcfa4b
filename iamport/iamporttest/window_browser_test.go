package iamporttest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/billkey/billkey/internal/skipnote"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Layout checks of the window in headless Chromium. They skip when no Chromium is found
// (BILLKEY_TEST_CHROMIUM names one).

func chromium(t *testing.T) string {
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
	skipnote.Skip(t, "Chromium", skipnote.EnableChromium, "the window's layout checks")
	return ""
}

// newBrowser starts a headless Chromium; the context ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx))
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shopPage is a merchant page that opens the window through the shim.
const shopPage = `<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="/iamport.js"></script></head><body><button id="pay">pay</button>
<script>
document.getElementById('pay').addEventListener('click', function () {
  IMP.init('` + MerchantCode + `');
  IMP.request_pay({pg: 'kcp_billing', pay_method: 'card', merchant_uid: 'm1', customer_uid: 'c1', name: '베이직 (월간)', amount: 0}, function () {});
});
</script></body></html>`

func newShop(t *testing.T) (*httptest.Server, *Fake) {
	t.Helper()
	f := New()
	mux := http.NewServeMux()
	mux.Handle("/", f.Handler())
	mux.HandleFunc("/shop.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(shopPage))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		f.Close()
	})
	return srv, f
}

// A field's message appearing or clearing must not move the Register button: the first
// click on it blurs the field, and a button that moves between press and release misses
// the click.
func TestWindowButtonStaysPut(t *testing.T) {
	ctx := newBrowser(t)
	for _, size := range [][2]int64{{1280, 1000}, {390, 844}, {320, 640}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			srv, fake := newShop(t)
			open := srv.URL + "/window/open?pg=kcp_billing&merchant_uid=m1&customer_uid=c1&name=n&amount=0"
			require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(size[0], size[1]),
				chromedp.Navigate(open), chromedp.WaitVisible(chromedp.CSS("#card-submit"))))

			top := func() float64 {
				y, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('card-submit').getBoundingClientRect().top`))
				require.NoError(t, err)
				return y
			}
			blurWith := func(id, value string) {
				js := fmt.Sprintf(`(function () { const f = document.getElementById(%q); f.value = %q; f.dispatchEvent(new Event('blur')); return true; })()`, id, value)
				_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
				require.NoError(t, err)
			}
			start := top()
			for _, f := range []struct{ id, bad, good string }{
				{"card-number", "4111", CardOK},
				{"card-expiry", "13/99", "12/99"},
				{"card-pwd", "1", "12"},
				{"card-birth", "9001", "900101"},
			} {
				blurWith(f.id, f.bad)
				msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#"+f.id+"-error")))
				require.NoError(t, err)
				require.NotEmpty(t, msg, f.id)
				fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
					`(function () { const e = document.getElementById(%q); return e.scrollHeight <= e.clientHeight; })()`, f.id+"-error")))
				require.NoError(t, err)
				assert.True(t, fits, "%s: the message %q does not fit its line", f.id, msg)
				assert.Equal(t, start, top(), "%s: its message moved the button", f.id)
			}
			for _, f := range []struct{ id, good string }{{"card-number", CardOK}, {"card-expiry", "12/99"}, {"card-pwd", "12"}, {"card-birth", "900101"}} {
				blurWith(f.id, f.good)
				assert.Equal(t, start, top(), "%s: clearing its message moved the button", f.id)
			}

			// The real thing: a field still showing its message is fixed, and the very first
			// click on Register submits.
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(open), chromedp.WaitVisible(chromedp.CSS("#card-submit")),
				chromedp.SendKeys(chromedp.CSS("#card-number"), "4111"),
				chromedp.SendKeys(chromedp.CSS("#card-expiry"), "12/99"),
				chromedp.SendKeys(chromedp.CSS("#card-pwd"), "12"),
				chromedp.SendKeys(chromedp.CSS("#card-birth"), "900101"),
				chromedp.Focus(chromedp.CSS("#card-number")),
			))
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
				`(function () { document.getElementById('card-number').value = %q; return true; })()`, CardOK)))
			require.NoError(t, err)
			msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#card-number-error")))
			require.NoError(t, err)
			require.NotEmpty(t, msg, "the number's message still shows while it has focus")
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#card-submit"))))
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			assert.NoError(t, chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#result"))), "the first click submitted the form")
			_, issued := fake.Customer("c1")
			assert.True(t, issued)
		})
	}
}

// The overlay's close button must not cover the window's test-mode banner.
func TestOverlayCloseClearOfBanner(t *testing.T) {
	ctx := newBrowser(t)
	for _, size := range [][2]int64{{1280, 1000}, {390, 844}, {320, 640}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			srv, _ := newShop(t)
			require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(size[0], size[1]),
				chromedp.Navigate(srv.URL+"/shop.html"),
				chromedp.Click(chromedp.CSS("#pay")),
				chromedp.WaitVisible(chromedp.CSS("#iamporttest-frame")),
			))
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(function () {
				const f = document.getElementById('iamporttest-frame');
				const d = f && f.contentDocument;
				return !!(d && d.getElementById('test-mode-banner') && d.readyState === 'complete');
			})()`))
			require.NoError(t, err)
			overlap, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
					const f = document.getElementById('iamporttest-frame');
					const fr = f.getBoundingClientRect();
					const d = f.contentDocument;
					const range = d.createRange();
					range.selectNodeContents(d.getElementById('test-mode-banner'));
					const c = document.getElementById('iamporttest-close').getBoundingClientRect();
					for (const r of range.getClientRects()) {
						const l = r.left + fr.left, t = r.top + fr.top, rt = r.right + fr.left, b = r.bottom + fr.top;
						if (r.width > 0 && l < c.right && c.left < rt && t < c.bottom && c.top < b) {
							return 'text ' + [l, t, rt, b].map(Math.round) + ' under close ' + [c.left, c.top, c.right, c.bottom].map(Math.round);
						}
					}
					return '';
				})()`))
			require.NoError(t, err)
			assert.Empty(t, overlap)
		})
	}
}
