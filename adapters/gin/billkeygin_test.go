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
			billkeygin.WithErrorHook(func(_ *gin.Context, err error) { h.ReportError(err) }),
			billkeygin.WithBodyLimit(adaptertest.BodyLimit),
		}
		billkeygin.Mount(group, h.Service, opts...)
		billkeygin.MountWebhook(engine, adaptertest.WebhookPath, h.Service, opts...)
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
	assert.Panics(t, func() { billkeygin.MountWebhook(gin.New(), "hook", h.Service) })
}
