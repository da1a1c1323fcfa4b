package billkeyfiber_test

import (
	"encoding/json"
	"net/http"
	"testing"

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
	svc := bh.Service
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	billkeyfiber.Mount(app.Group("/billing"), svc, billkeyfiber.WithBuyer(func(c *fiber.Ctx) (core.Buyer, error) {
		return core.Buyer{UserID: string(c.Request().Header.Peek(adaptertest.UserHeader))}, nil
	}))
	app.Get("/bare/billing-key/request", func(c *fiber.Ctx) error {
		ir, err := svc.PrepareIssuance(c.UserContext(), core.Buyer{UserID: string(c.Request().Header.Peek(adaptertest.UserHeader))}, "")
		if err != nil {
			return c.Status(http.StatusInternalServerError).SendString(err.Error())
		}
		body, _ := json.Marshal(ir)
		c.Set(fiber.HeaderContentType, core.JSONContentType)
		return c.Status(http.StatusOK).Send(body)
	})
	app.Post("/bare/charges", func(c *fiber.Ctx) error {
		var in struct {
			Plan string `json:"plan"`
		}
		if err := json.Unmarshal(c.Request().Body(), &in); err != nil {
			return c.Status(http.StatusBadRequest).SendString(err.Error())
		}
		cv, err := svc.Charge(c.UserContext(), core.ChargeRequest{
			UserID:         string(c.Request().Header.Peek(adaptertest.UserHeader)),
			PlanID:         in.Plan,
			IdempotencyKey: string(c.Request().Header.Peek("Idempotency-Key")),
		})
		if err != nil {
			return c.Status(http.StatusInternalServerError).SendString(err.Error())
		}
		body, _ := json.Marshal(cv)
		c.Set(fiber.HeaderContentType, core.JSONContentType)
		return c.Status(http.StatusCreated).Send(body)
	})
	return app.Handler(), bh
}

func benchRequest(b *testing.B, path string) {
	h, _ := benchApp(b)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(http.MethodGet)
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("shop.example")
		ctx.Request.Header.Set(adaptertest.UserHeader, adaptertest.BenchUser)
		h(&ctx)
		if ctx.Response.StatusCode() != http.StatusOK {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

func benchCharge(b *testing.B, path string) {
	h, bh := benchApp(b)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(http.MethodPost)
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("shop.example")
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.Header.Set(adaptertest.UserHeader, adaptertest.BenchUser)
		ctx.Request.Header.Set("Idempotency-Key", bh.NextKey())
		ctx.Request.SetBodyString(adaptertest.ChargeBody)
		h(&ctx)
		if s := ctx.Response.StatusCode(); s != http.StatusOK && s != http.StatusCreated {
			b.Fatalf("status %d: %s", s, ctx.Response.Body())
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	b.Run("adapter", func(b *testing.B) { benchRequest(b, "/billing/billing-key/request") })
	b.Run("bare", func(b *testing.B) { benchRequest(b, "/bare/billing-key/request") })
}

func BenchmarkCharge(b *testing.B) {
	b.Run("adapter", func(b *testing.B) { benchCharge(b, "/billing/charges") })
	b.Run("bare", func(b *testing.B) { benchCharge(b, "/bare/charges") })
}
