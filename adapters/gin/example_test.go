package billkeygin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	billkeygin "github.com/billkey/billkey/adapters/gin"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/memstore"
)

// requireLogin stands in for the merchant's own authentication middleware.
func requireLogin(c *gin.Context) {
	if user := c.GetHeader("X-Session-User"); user != "" {
		c.Set("user", user)
	}
	c.Next()
}

func ExampleMount() {
	gin.SetMode(gin.ReleaseMode)
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

	router := gin.New()
	billkeygin.Mount(router.Group("/billing", requireLogin), svc,
		billkeygin.WithBuyer(func(c *gin.Context) (core.Buyer, error) {
			return core.Buyer{UserID: c.GetString("user")}, nil // "" = nobody signed in: 401
		}))
	billkeygin.MountCallbacks(router, "/iamport", svc) // webhook and mobile return: no session there

	for _, user := range []string{"", "alice"} {
		req := httptest.NewRequest(http.MethodGet, "/billing/billing-key/request", nil)
		req.Header.Set("X-Session-User", user)
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"), strings.Contains(rec.Body.String(), `"pg":"kcp_billing"`))
	}
	// Output:
	// 401 application/problem+json false
	// 200 application/json; charset=utf-8 true
}
