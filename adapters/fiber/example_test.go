package billkeyfiber_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gofiber/fiber/v2"

	billkeyfiber "github.com/billkey/billkey/adapters/fiber"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/memstore"
)

// requireLogin stands in for the merchant's own authentication middleware.
func requireLogin(c *fiber.Ctx) error {
	if user := c.Get("X-Session-User"); user != "" {
		c.Locals("user", strings.Clone(user)) // c.Get's string is Fiber's buffer
	}
	return c.Next()
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

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	billkeyfiber.Mount(app.Group("/billing", requireLogin), svc,
		billkeyfiber.WithBuyer(func(c *fiber.Ctx) (core.Buyer, error) {
			user, _ := c.Locals("user").(string)
			return core.Buyer{UserID: user}, nil // "" = nobody signed in: 401
		}))
	billkeyfiber.MountCallbacks(app, "/iamport", svc) // webhook and mobile return, outside the group

	for _, user := range []string{"", "alice"} {
		req := httptest.NewRequest(http.MethodGet, "/billing/billing-key/request", nil)
		req.Header.Set("X-Session-User", user)
		resp, err := app.Test(req, -1)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), strings.Contains(string(body), `"pg":"kcp_billing"`))
	}
	// Output:
	// 401 application/problem+json false
	// 200 application/json; charset=utf-8 true
}
