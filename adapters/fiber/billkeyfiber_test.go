package billkeyfiber_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/adapters/adaptertest"
	billkeyfiber "github.com/billkey/billkey/adapters/fiber"
	"github.com/billkey/billkey/core"
)

// viaTest serves an http.Request through app.Test, with no timeout, and copies Fiber's
// answer back: how the suite drives a Fiber app through net/http.
type viaTest struct{ app *fiber.App }

func (v viaTest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := r.Clone(r.Context())
	req.TransferEncoding = nil
	req.ContentLength = int64(len(body))
	req.Body = http.NoBody
	req.Header.Del("Content-Length")
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	resp, err := v.app.Test(req, -1)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// fiberRow mounts the routes on a group running the merchant middleware, and the webhook
// on the app.
var fiberRow = adaptertest.Adapter{
	Name: "fiber",
	New: func(_ testing.TB, h *adaptertest.Harness) http.Handler {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		group := app.Group(adaptertest.Prefix, func(c *fiber.Ctx) error {
			c.Set(adaptertest.MerchantHeader, adaptertest.MerchantHeaderValue)
			if u := c.Get(adaptertest.UserHeader); u != "" {
				c.Locals(adaptertest.UserKey, utils.CopyString(u))
			}
			return c.Next()
		})
		opts := []billkeyfiber.Option{
			billkeyfiber.WithBuyer(func(c *fiber.Ctx) (core.Buyer, error) {
				return h.Buyer(c.Locals(adaptertest.UserKey))
			}),
			billkeyfiber.WithOperator(func(c *fiber.Ctx) (string, error) {
				return h.Operator(c.Locals(adaptertest.OperatorKey))
			}),
			billkeyfiber.WithErrorHook(func(_ *fiber.Ctx, err error) { h.ReportError(err) }),
		}
		billkeyfiber.Mount(group, h.Service, opts...)
		billkeyfiber.MountCallbacks(app, adaptertest.CallbackPrefix, h.Service, opts...)
		admin := app.Group(adaptertest.AdminPrefix, func(c *fiber.Ctx) error {
			if op := c.Get(adaptertest.OperatorHeader); op != "" {
				c.Locals(adaptertest.OperatorKey, utils.CopyString(op))
			}
			return c.Next()
		})
		billkeyfiber.MountAdmin(admin, h.Service, opts...)
		return viaTest{app}
	},
}

// TestMain checks that no goroutine outlives the tests (fakes, servers, handlers), apart
// from fasthttp's process-wide Date header ticker.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

func TestConformance(t *testing.T) {
	adaptertest.Run(t, fiberRow)
}

func TestMountPanicsOnBadPath(t *testing.T) {
	h := adaptertest.NewHarness(t)
	assert.Panics(t, func() { billkeyfiber.MountCallbacks(fiber.New(), "hook", h.Service) })
}
