// Command nethttp is billkey's example shop on net/http: a demo login, a subscribe page
// that registers a card in the KCP billing window and charges it, the iamport webhook and
// the mobile return (outside the login), and a health endpoint. Sandbox by default: a
// private in-process fake of iamport, or with -iamport-url a shared one (go run
// ./cmd/fakeiamport); nothing is real unless IMP_CODE, IMP_KEY and IMP_SECRET are set.
//
//	go run ./examples/nethttp [-addr 127.0.0.1:8080] [-db billkey-demo-nethttp.db] [-postgres DSN] [-iamport-url URL]
//
// Everything but the wiring below lives in examples/internal/demo.
package main

import (
	"context"
	"net/http"

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

// operatorKey is the context key under which requireStaff stores the signed-in member
// of staff.
type operatorKey struct{}

// requireStaff is the shop's admin login middleware: 401 without a staff session,
// otherwise the member of staff goes into the request's context.
func requireStaff(app *demo.App, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := app.OperatorFromRequest(r)
		if !ok {
			demo.WriteUnauthenticated(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, op)))
	})
}

// operator is billkey's operator hook: the member of staff requireStaff stored.
func operator(r *http.Request) (string, error) {
	op, _ := r.Context().Value(operatorKey{}).(string)
	return op, nil // "" makes billkey answer 401
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

	admin := http.NewServeMux()
	billkeyhttp.MountAdmin(admin, demo.AdminAPIPrefix, svc, billkeyhttp.WithOperator(operator))

	root := http.NewServeMux()
	root.Handle(demo.BillingPrefix+"/", requireLogin(app, billing))
	root.Handle(demo.AdminAPIPrefix+"/", requireStaff(app, admin)) // the staff's routes, behind the staff login
	billkeyhttp.MountCallbacks(root, demo.CallbackPrefix, svc)     // webhook and mobile return: outside the login
	root.Handle("/", app.Handler())                                // pages, and the fake iamport in the sandbox

	srv := app.HTTPServer(root) // read, write and idle timeouts: demo.DefaultTimeouts
	return demo.Server{Serve: srv.Serve, Shutdown: srv.Shutdown}, nil
}
