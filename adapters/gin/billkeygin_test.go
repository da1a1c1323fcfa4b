package billkeygin_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/adapters/adaptertest"
	billkeygin "github.com/billkey/billkey/adapters/gin"
	"github.com/billkey/billkey/core"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// ginRow mounts the routes on a group running the merchant middleware, and the webhook on
// the engine.
var ginRow = adaptertest.Adapter{
	Name: "gin",
	New: func(_ testing.TB, h *adaptertest.Harness) http.Handler {
		engine := gin.New()
		group := engine.Group(adaptertest.Prefix, func(c *gin.Context) {
			c.Header(adaptertest.MerchantHeader, adaptertest.MerchantHeaderValue)
			if u := c.GetHeader(adaptertest.UserHeader); u != "" {
				c.Set(adaptertest.UserKey, u)
			}
			c.Next()
		})
		opts := []billkeygin.Option{
			billkeygin.WithBuyer(func(c *gin.Context) (core.Buyer, error) {
				v, _ := c.Get(adaptertest.UserKey)
				return h.Buyer(v)
			}),
			billkeygin.WithOperator(func(c *gin.Context) (string, error) {
				v, _ := c.Get(adaptertest.OperatorKey)
				return h.Operator(v)
			}),
			billkeygin.WithErrorHook(func(_ *gin.Context, err error) { h.ReportError(err) }),
		}
		billkeygin.Mount(group, h.Service, opts...)
		billkeygin.MountCallbacks(engine, adaptertest.CallbackPrefix, h.Service, opts...)
		admin := engine.Group(adaptertest.AdminPrefix, func(c *gin.Context) {
			if op := c.GetHeader(adaptertest.OperatorHeader); op != "" {
				c.Set(adaptertest.OperatorKey, op)
			}
			c.Next()
		})
		billkeygin.MountAdmin(admin, h.Service, opts...)
		return engine
	},
}

func TestConformance(t *testing.T) {
	adaptertest.Run(t, ginRow)
}

func TestWriteFailure(t *testing.T) {
	adaptertest.WriteFailure(t, ginRow)
}

func TestMountPanicsOnBadPath(t *testing.T) {
	h := adaptertest.NewHarness(t)
	assert.Panics(t, func() { billkeygin.MountCallbacks(gin.New(), "hook", h.Service) })
}
