package billkeyfiber_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/billkey/billkey/internal/httpapi"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/billkey/billkey/adapters/adaptertest"
	billkeyfiber "github.com/billkey/billkey/adapters/fiber"
	"github.com/billkey/billkey/core"
)

// benchApp serves the adapter's routes under /billing and, beside them, bare Fiber
// handlers making the same core calls directly, so the adapter's cost shows as a ratio.
// Requests go through app.Handler() on a reused fasthttp.RequestCtx, as Fiber's server
// runs them (app.Test would add a goroutine and an HTTP dump per request).
func benchApp(b *testing.B) (fasthttp.RequestHandler, *adaptertest.BenchHarness) {
	bh := adaptertest.NewBenchHarness(b)
	user := func(c *fiber.Ctx) string { return string(c.Request().Header.Peek(adaptertest.UserHeader)) }
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	billkeyfiber.Mount(app.Group(adaptertest.Prefix), bh.Service, billkeyfiber.WithBuyer(func(c *fiber.Ctx) (core.Buyer, error) {
		return core.Buyer{UserID: user(c)}, nil
	}))
	app.Get(adaptertest.BarePrefix+"/billing-key/request", func(c *fiber.Ctx) error {
		body, err := bh.BareRequest(c.UserContext(), user(c))
		if err != nil {
			return c.Status(http.StatusInternalServerError).SendString(err.Error())
		}
		c.Set(fiber.HeaderContentType, httpapi.JSONContentType)
		return c.Status(http.StatusOK).Send(body)
	})
	app.Post(adaptertest.BarePrefix+"/charges", func(c *fiber.Ctx) error {
		var in struct {
			Plan string `json:"plan"`
		}
		if err := json.Unmarshal(c.Request().Body(), &in); err != nil {
			return c.Status(http.StatusBadRequest).SendString(err.Error())
		}
		body, err := bh.BareCharge(c.UserContext(), user(c), in.Plan, string(c.Request().Header.Peek("Idempotency-Key")))
		if err != nil {
			return c.Status(http.StatusInternalServerError).SendString(err.Error())
		}
		c.Set(fiber.HeaderContentType, httpapi.JSONContentType)
		return c.Status(http.StatusCreated).Send(body)
	})
	return app.Handler(), bh
}

// benchServe sends b.N requests to path as BenchUser through the app, on one reused
// RequestCtx; fill adds what the route needs. Any status outside ok fails the benchmark.
func benchServe(b *testing.B, method, path string, fill func(*fasthttp.Request, *adaptertest.BenchHarness), ok ...int) {
	h, bh := benchApp(b)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("shop.example")
		ctx.Request.Header.Set(adaptertest.UserHeader, adaptertest.BenchUser)
		if fill != nil {
			fill(&ctx.Request, bh)
		}
		h(&ctx)
		if s := ctx.Response.StatusCode(); !slices.Contains(ok, s) {
			b.Fatalf("status %d: %s", s, ctx.Response.Body())
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	adaptertest.BenchRoutes(b, "/billing-key/request", func(b *testing.B, path string) {
		benchServe(b, http.MethodGet, path, nil, http.StatusOK)
	})
}

func BenchmarkCharge(b *testing.B) {
	adaptertest.BenchRoutes(b, "/charges", func(b *testing.B, path string) {
		benchServe(b, http.MethodPost, path, func(req *fasthttp.Request, bh *adaptertest.BenchHarness) {
			req.Header.SetContentType("application/json")
			req.Header.Set("Idempotency-Key", bh.NextKey())
			req.SetBodyString(adaptertest.ChargeBody)
		}, http.StatusOK, http.StatusCreated)
	})
}
