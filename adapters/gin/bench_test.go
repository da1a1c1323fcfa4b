package billkeygin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
	svc := bh.Service
	engine := gin.New()
	billkeygin.Mount(engine.Group("/billing"), svc, billkeygin.WithBuyer(func(c *gin.Context) (core.Buyer, error) {
		return core.Buyer{UserID: c.GetHeader(adaptertest.UserHeader)}, nil
	}))
	engine.GET("/bare/billing-key/request", func(c *gin.Context) {
		ir, err := svc.PrepareIssuance(c.Request.Context(), core.Buyer{UserID: c.GetHeader(adaptertest.UserHeader)}, "")
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		body, _ := json.Marshal(ir)
		c.Data(http.StatusOK, core.JSONContentType, body)
	})
	engine.POST("/bare/charges", func(c *gin.Context) {
		var in struct {
			Plan string `json:"plan"`
		}
		if err := json.NewDecoder(c.Request.Body).Decode(&in); err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		cv, err := svc.Charge(c.Request.Context(), core.ChargeRequest{
			UserID: c.GetHeader(adaptertest.UserHeader), PlanID: in.Plan, IdempotencyKey: c.GetHeader("Idempotency-Key"),
		})
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		body, _ := json.Marshal(cv)
		c.Data(http.StatusCreated, core.JSONContentType, body)
	})
	return engine, bh
}

func benchRequest(b *testing.B, path string) {
	engine, _ := benchEngine(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set(adaptertest.UserHeader, adaptertest.BenchUser)
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func benchCharge(b *testing.B, path string) {
	engine, bh := benchEngine(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(adaptertest.ChargeBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(adaptertest.UserHeader, adaptertest.BenchUser)
		req.Header.Set("Idempotency-Key", bh.NextKey())
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	b.Run("adapter", func(b *testing.B) { benchRequest(b, "/billing/billing-key/request") })
	b.Run("bare", func(b *testing.B) { benchRequest(b, "/bare/billing-key/request") })
}

func BenchmarkCharge(b *testing.B) {
	b.Run("adapter", func(b *testing.B) { benchCharge(b, "/billing/charges") })
	b.Run("bare", func(b *testing.B) { benchCharge(b, "/bare/charges") })
}
