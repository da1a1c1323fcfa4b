// Command fiber is billkey's example shop on Fiber v2: a demo login, a subscribe page
// that registers a card in the KCP billing window and charges it, the iamport webhook and
// the mobile return (outside the login), and a health endpoint. Sandbox by default: a
// private in-process fake of iamport, or with -iamport-url a shared one (go run
// ./cmd/fakeiamport); nothing is real unless IMP_CODE, IMP_KEY and IMP_SECRET are set.
//
//	go run ./examples/fiber [-addr 127.0.0.1:8080] [-db billkey-demo-fiber.db] [-postgres DSN] [-iamport-url URL]
//
// Everything but the wiring below lives in examples/internal/demo.
package main

import (
	"context"
	"net/http"

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

// operatorKey is where requireStaff stores the signed-in member of staff with c.Locals.
const operatorKey = "billkey.demo.operator"

// requireStaff is the shop's admin login middleware: 401 without a staff session,
// otherwise the member of staff goes into the request's locals.
func requireStaff(app *demo.App) fiber.Handler {
	return func(c *fiber.Ctx) error {
		op, ok := app.OperatorFromCookie(c.Cookies(demo.StaffCookie))
		if !ok {
			status, contentType, body := demo.Unauthenticated()
			c.Set(fiber.HeaderContentType, contentType)
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Status(status).Send(body)
		}
		c.Locals(operatorKey, op)
		return c.Next()
	}
}

// operator is billkey's operator hook: the member of staff requireStaff stored.
func operator(c *fiber.Ctx) (string, error) {
	op, _ := c.Locals(operatorKey).(string)
	return op, nil // "" makes billkey answer 401
}

// buyer is billkey's buyer hook: the user requireLogin stored.
func buyer(c *fiber.Ctx) (core.Buyer, error) {
	b, _ := c.Locals(buyerKey).(core.Buyer)
	return b, nil // a zero Buyer makes billkey answer 401
}

func wire(app *demo.App) (demo.Server, error) {
	svc := app.Service()
	t := app.Config().Timeouts // demo.DefaultTimeouts
	f := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// A whole request, body included. fasthttp also counts a connection that has not
		// sent its first request (a browser's preconnect) as busy until ReadTimeout, and
		// its shutdown waits for it: demo.DefaultTimeouts keeps it well under
		// demo.ShutdownTimeout so Ctrl-C never waits on an idle browser.
		ReadTimeout:  t.Read,
		WriteTimeout: t.Write,
		IdleTimeout:  t.Idle, // a keep-alive connection between requests
	})
	f.Use(recover.New())
	// Sandbox: the time machine never jumps in the middle of a billing request (the
	// net/http and Gin examples get this from app.HTTPServer).
	f.Use(func(c *fiber.Ctx) error {
		release := app.HoldClock(c.Path())
		defer release()
		return c.Next()
	})

	// A group's middleware runs for every path under its prefix, so the webhook lives
	// outside demo.BillingPrefix.
	billing := f.Group(demo.BillingPrefix, requireLogin(app))
	billkeyfiber.Mount(billing, svc, billkeyfiber.WithBuyer(buyer))
	billkeyfiber.MountCallbacks(f, demo.CallbackPrefix, svc)
	admin := f.Group(demo.AdminAPIPrefix, requireStaff(app)) // the staff's routes, behind the staff login
	billkeyfiber.MountAdmin(admin, svc, billkeyfiber.WithOperator(operator))

	// Pages, and the fake iamport in the sandbox, through Fiber's net/http adaptor. The
	// adaptor makes fasthttp's RequestCtx the request's context, and watching its Done
	// while the server shuts down is a data race inside fasthttp; the pages get a context
	// of their own instead (like c.UserContext() for Fiber handlers), and a request whose
	// strings are their own (detached).
	pages := app.Handler()
	f.Use(adaptor.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.ServeHTTP(w, detached(r.WithContext(context.Background())))
	})))

	return demo.Server{Serve: f.Listener, Shutdown: f.ShutdownWithContext}, nil
}
