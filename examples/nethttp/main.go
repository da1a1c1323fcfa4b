// Command nethttp is billkey's example shop on net/http: a demo login, a subscribe page
// that registers a card in the KCP billing window and charges it, and the iamport
// webhook. Sandbox by default: nothing is real unless IMP_CODE, IMP_KEY and IMP_SECRET
// are set.
//
//	go run ./examples/nethttp [-addr 127.0.0.1:8080] [-db billkey-demo.db] [-postgres DSN]
//
// Everything but the wiring below lives in examples/internal/demo.
package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"time"

	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/examples/internal/demo"
)

func main() { demo.Main("net/http", wire) }

// buyerKey is the context key under which requireLogin stores the signed-in buyer.
type buyerKey struct{}

// requireLogin is the shop's login middleware: it answers 401 without a session and
// otherwise passes the buyer on in the request's context.
func requireLogin(app *demo.App, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buyer, ok := app.UserFromRequest(r)
		if !ok {
			demo.WriteUnauthenticated(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), buyerKey{}, buyer)))
	})
}

// buyer is billkey's buyer hook: the user requireLogin stored.
func buyer(r *http.Request) (core.Buyer, error) {
	b, _ := r.Context().Value(buyerKey{}).(core.Buyer)
	return b, nil // a zero Buyer makes billkey answer 401
}

func wire(app *demo.App) (demo.Server, error) {
	svc := app.Service()

	billing := http.NewServeMux()
	billkeyhttp.Mount(billing, demo.BillingPrefix, svc, billkeyhttp.WithBuyer(buyer))

	root := http.NewServeMux()
	root.Handle(demo.BillingPrefix+"/", requireLogin(app, billing))
	billkeyhttp.MountWebhook(root, demo.WebhookPath, svc) // outside the login
	root.Handle("/", app.Handler())                       // pages, and the fake iamport in the sandbox

	srv := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	return demo.Server{Serve: srv.Serve, Shutdown: srv.Shutdown}, nil
}
