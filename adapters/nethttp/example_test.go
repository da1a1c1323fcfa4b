package billkeyhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/memstore"
)

type sessionKey struct{}

// requireLogin stands in for the merchant's own authentication middleware.
func requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user := r.Header.Get("X-Session-User"); user != "" {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, user))
		}
		next.ServeHTTP(w, r)
	})
}

func ExampleMount() {
	fake := iamporttest.NewServer() // the iamport fake; use iamport.New with real keys in production
	defer fake.Close()
	svc, err := core.New(core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       fake.Client(),
		Store:        memstore.New(),
		Plans:        []core.Plan{{ID: "basic", Name: "Basic monthly", Amount: 9900}},
		PublicURL:    "https://shop.example/billing",
		CallbackURL:  "https://shop.example/iamport",
		SuccessURL:   "https://shop.example/account",
		FailureURL:   "https://shop.example/account?card=failed",
		TestMode:     true,
	})
	if err != nil {
		panic(err)
	}

	billing := http.NewServeMux()
	billkeyhttp.Mount(billing, "/billing", svc, billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
		user, _ := r.Context().Value(sessionKey{}).(string)
		return core.Buyer{UserID: user}, nil // "" = nobody signed in: 401
	}))
	root := http.NewServeMux()
	root.Handle("/billing/", requireLogin(billing))
	billkeyhttp.MountCallbacks(root, "/iamport", svc) // webhook and mobile return: no session there

	for _, user := range []string{"", "alice"} {
		req := httptest.NewRequest(http.MethodGet, "/billing/billing-key/request", nil)
		req.Header.Set("X-Session-User", user)
		rec := httptest.NewRecorder()
		root.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"), strings.Contains(rec.Body.String(), `"pg":"kcp_billing"`))
	}
	// Output:
	// 401 application/problem+json false
	// 200 application/json; charset=utf-8 true
}

func ExampleHandler() {
	fake := iamporttest.NewServer()
	defer fake.Close()
	svc, err := core.New(core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       fake.Client(),
		Store:        memstore.New(),
		PublicURL:    "https://shop.example/billing",
		CallbackURL:  "https://shop.example/iamport",
		SuccessURL:   "https://shop.example/account",
		FailureURL:   "https://shop.example/account?card=failed",
		TestMode:     true,
	})
	if err != nil {
		panic(err)
	}
	h := billkeyhttp.Handler(svc, billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
		return core.Buyer{UserID: r.Header.Get("X-Session-User")}, nil
	}))
	mux := http.NewServeMux()
	mux.Handle("/billing/", http.StripPrefix("/billing", h))

	req := httptest.NewRequest(http.MethodGet, "/billing/billing-key", nil)
	req.Header.Set("X-Session-User", "alice")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// 404 application/problem+json
}
