// Command fiber is billkey's example shop on Fiber v2: a demo login, a subscribe page that
// registers a card in the KCP billing window and charges it, and the iamport webhook.
// Sandbox by default: nothing is real unless IMP_CODE, IMP_KEY and IMP_SECRET are set.
//
//	go run ./examples/fiber [-addr 127.0.0.1:8080] [-db billkey-demo.db] [-postgres DSN]
//
// Everything but the wiring below lives in examples/internal/demo.
package main

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"

	billkeyfiber "github.com/billkey/billkey/adapters/fiber"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/examples/internal/demo"
)

func main() { demo.Main("fiber", wire) }

// buyerKey is where requireLogin stores the signed-in buyer with c.Locals.
const buyerKey = "billkey.demo.buyer"

// requireLogin is the shop's login middleware: 401 without a session, otherwise the
// buyer goes into the request's locals.
func requireLogin(app *demo.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		buyer, ok := app.UserFromCookie(c.Cookies(demo.SessionCookie))
		if !ok {
			status, contentType, body := demo.Unauthenticated()
			c.Set(fiber.HeaderContentType, contentType)
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Status(status).Send(body)
		}
		c.Locals(buyerKey, buyer)
		return c.Next()
	}
}

// buyer is billkey's buyer hook: the user requireLogin stored.
func buyer(c *fiber.Ctx) (core.Buyer, error) {
	b, _ := c.Locals(buyerKey).(core.Buyer)
	return b, nil // a zero Buyer makes billkey answer 401
}

func wire(app *demo.App) (demo.Server, error) {
	svc := app.Service()
	f := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// fasthttp counts a connection that has not sent its first request (a browser's
		// preconnect) as busy until ReadTimeout, and its shutdown waits for it: keep it
		// well under demo.ShutdownTimeout so Ctrl-C never waits on an idle browser.
		ReadTimeout: 5 * time.Second,
	})
	f.Use(recover.New())

	// A group's middleware runs for every path under its prefix, so the webhook lives
	// outside demo.BillingPrefix.
	billing := f.Group(demo.BillingPrefix, requireLogin(app))
	billkeyfiber.Mount(billing, svc, billkeyfiber.WithBuyer(buyer))
	billkeyfiber.MountWebhook(f, demo.WebhookPath, svc)

	// Pages, and the fake iamport in the sandbox, through Fiber's net/http adaptor. The
	// adaptor makes fasthttp's RequestCtx the request's context, and watching its Done
	// while the server shuts down is a data race inside fasthttp; the pages get a context
	// of their own instead (like c.UserContext() for Fiber handlers).
	pages := app.Handler()
	f.Use(adaptor.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.ServeHTTP(w, r.WithContext(context.Background()))
	})))

	return demo.Server{Serve: f.Listener, Shutdown: f.ShutdownWithContext}, nil
}
