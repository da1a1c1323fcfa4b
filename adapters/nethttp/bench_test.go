package billkeyhttp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/billkey/billkey/adapters/adaptertest"
	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
	"github.com/billkey/billkey/core"
)

// benchMux serves the adapter's routes under /billing and, beside them, bare handlers
// making the same core calls directly, so the adapter's cost shows as a ratio.
func benchMux(b *testing.B) (*http.ServeMux, *adaptertest.BenchHarness) {
	bh := adaptertest.NewBenchHarness(b)
	svc := bh.Service
	mux := http.NewServeMux()
	billkeyhttp.Mount(mux, "/billing", svc, billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
		return core.Buyer{UserID: r.Header.Get(adaptertest.UserHeader)}, nil
	}))
	mux.HandleFunc("GET /bare/billing-key/request", func(w http.ResponseWriter, r *http.Request) {
		ir, err := svc.PrepareIssuance(r.Context(), core.Buyer{UserID: r.Header.Get(adaptertest.UserHeader)}, "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body, _ := json.Marshal(ir)
		w.Header().Set("Content-Type", core.JSONContentType)
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST /bare/charges", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Plan string `json:"plan"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cv, err := svc.Charge(r.Context(), core.ChargeRequest{
			UserID: r.Header.Get(adaptertest.UserHeader), PlanID: in.Plan, IdempotencyKey: r.Header.Get("Idempotency-Key"),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body, _ := json.Marshal(cv)
		w.Header().Set("Content-Type", core.JSONContentType)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	})
	return mux, bh
}

func benchRequest(b *testing.B, path string) {
	mux, _ := benchMux(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set(adaptertest.UserHeader, adaptertest.BenchUser)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func benchCharge(b *testing.B, path string) {
	mux, bh := benchMux(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(adaptertest.ChargeBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(adaptertest.UserHeader, adaptertest.BenchUser)
		req.Header.Set("Idempotency-Key", bh.NextKey())
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
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
