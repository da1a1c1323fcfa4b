package billkeygin_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/billkey/billkey/internal/httpapi"

	"github.com/gin-gonic/gin"

	"github.com/billkey/billkey/adapters/adaptertest"
	billkeygin "github.com/billkey/billkey/adapters/gin"
	"github.com/billkey/billkey/core"
)

// benchEngine serves the adapter's routes under /billing and, beside them, bare Gin
// handlers making the same core calls directly, so the adapter's cost shows as a ratio.
func benchEngine(b *testing.B) (*gin.Engine, *adaptertest.BenchHarness) {
	gin.SetMode(gin.ReleaseMode)
	bh := adaptertest.NewBenchHarness(b)
	engine := gin.New()
	billkeygin.Mount(engine.Group(adaptertest.Prefix), bh.Service, billkeygin.WithBuyer(func(c *gin.Context) (core.Buyer, error) {
		return core.Buyer{UserID: c.GetHeader(adaptertest.UserHeader)}, nil
	}))
	engine.GET(adaptertest.BarePrefix+"/billing-key/request", func(c *gin.Context) {
		body, err := bh.BareRequest(c.Request.Context(), c.GetHeader(adaptertest.UserHeader))
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.Data(http.StatusOK, httpapi.JSONContentType, body)
	})
	engine.POST(adaptertest.BarePrefix+"/charges", func(c *gin.Context) {
		var in struct {
			Plan string `json:"plan"`
		}
		if err := json.NewDecoder(c.Request.Body).Decode(&in); err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		body, err := bh.BareCharge(c.Request.Context(), c.GetHeader(adaptertest.UserHeader), in.Plan, c.GetHeader("Idempotency-Key"))
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.Data(http.StatusCreated, httpapi.JSONContentType, body)
	})
	return engine, bh
}

func BenchmarkRequest(b *testing.B) { adaptertest.BenchRequests(b, benchEngine) }

func BenchmarkCharge(b *testing.B) { adaptertest.BenchCharges(b, benchEngine) }
