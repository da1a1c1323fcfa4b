// Command gin is billkey's example shop on Gin: a demo login, a subscribe page that
// registers a card in the KCP billing window and charges it, and the iamport webhook.
// Sandbox by default: nothing is real unless IMP_CODE, IMP_KEY and IMP_SECRET are set.
//
//	go run ./examples/gin [-addr 127.0.0.1:8080] [-db billkey-demo.db] [-postgres DSN]
//
// Everything but the wiring below lives in examples/internal/demo.
package main

import (
	"io"
	"log"
	"net/http"
	"time"

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
	billkeygin.MountWebhook(router, demo.WebhookPath, svc) // outside the login group

	// Pages, and the fake iamport in the sandbox. Gin presets 404 for NoRoute handlers;
	// start from 200 so handlers that write without WriteHeader answer 200.
	pages := app.Handler()
	router.NoRoute(func(c *gin.Context) {
		c.Status(http.StatusOK)
		pages.ServeHTTP(c.Writer, c.Request)
	})

	srv := &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	return demo.Server{Serve: srv.Serve, Shutdown: srv.Shutdown}, nil
}
