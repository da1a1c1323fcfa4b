// Command gin is billkey's example shop on Gin: a demo login, a subscribe page
// that registers a card in the KCP billing window and charges it, the iamport webhook and
// the mobile return (outside the login), and a health endpoint. Sandbox by default: a
// private in-process fake of iamport, or with -iamport-url a shared one (go run
// ./cmd/fakeiamport); nothing is real unless IMP_CODE, IMP_KEY and IMP_SECRET are set.
//
//	go run ./examples/gin [-addr 127.0.0.1:8080] [-db billkey-demo-gin.db] [-postgres DSN] [-iamport-url URL]
//
// Everything but the wiring below lives in examples/internal/demo.
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	billkeygin "github.com/billkey/billkey/adapters/gin"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/examples/internal/demo"
)

func main() { demo.Main("gin", wire) }

// buyerKey is where requireLogin stores the signed-in buyer with c.Set.
const buyerKey = "billkey.demo.buyer"

// requireLogin is the shop's login middleware: 401 without a session, otherwise the
// buyer goes into the gin.Context.
func requireLogin(app *demo.App) gin.HandlerFunc {
	return func(c *gin.Context) {
		cookie, _ := c.Cookie(demo.SessionCookie)
		buyer, ok := app.UserFromCookie(cookie)
		if !ok {
			status, contentType, body := demo.Unauthenticated()
			c.Header("Cache-Control", "no-store")
			c.Data(status, contentType, body)
			c.Abort()
			return
		}
		c.Set(buyerKey, buyer)
		c.Next()
	}
}

// operatorKey is where requireStaff stores the signed-in member of staff with c.Set.
const operatorKey = "billkey.demo.operator"

// requireStaff is the shop's admin login middleware: 401 without a staff session,
// otherwise the member of staff goes into the gin.Context.
func requireStaff(app *demo.App) gin.HandlerFunc {
	return func(c *gin.Context) {
		cookie, _ := c.Cookie(demo.StaffCookie)
		op, ok := app.OperatorFromCookie(cookie)
		if !ok {
			status, contentType, body := demo.Unauthenticated()
			c.Header("Cache-Control", "no-store")
			c.Data(status, contentType, body)
			c.Abort()
			return
		}
		c.Set(operatorKey, op)
		c.Next()
	}
}

// operator is billkey's operator hook: the member of staff requireStaff stored.
func operator(c *gin.Context) (string, error) {
	return c.GetString(operatorKey), nil // "" makes billkey answer 401
}

// buyer is billkey's buyer hook: the user requireLogin stored.
func buyer(c *gin.Context) (core.Buyer, error) {
	v, _ := c.Get(buyerKey)
	b, _ := v.(core.Buyer)
	return b, nil // a zero Buyer makes billkey answer 401
}

func wire(app *demo.App) (demo.Server, error) {
	gin.SetMode(gin.ReleaseMode)
	svc := app.Service()
	router := gin.New()
	router.Use(gin.Recovery())

	billing := router.Group(demo.BillingPrefix, requireLogin(app))
	billkeygin.Mount(billing, svc, billkeygin.WithBuyer(buyer))
	admin := router.Group(demo.AdminAPIPrefix, requireStaff(app))
	billkeygin.MountAdmin(admin, svc, billkeygin.WithOperator(operator))
	billkeygin.MountCallbacks(router, demo.CallbackPrefix, svc) // webhook and mobile return: outside the login group

	// Pages, and the fake iamport in the sandbox. Gin presets 404 for NoRoute handlers;
	// start from 200 so handlers that write without WriteHeader answer 200.
	pages := app.Handler()
	router.NoRoute(func(c *gin.Context) {
		c.Status(http.StatusOK)
		pages.ServeHTTP(c.Writer, c.Request)
	})

	srv := app.HTTPServer(router) // read, write and idle timeouts: demo.DefaultTimeouts
	return demo.Server{Serve: srv.Serve, Shutdown: srv.Shutdown}, nil
}
