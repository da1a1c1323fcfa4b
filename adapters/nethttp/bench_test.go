package billkeyhttp_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/billkey/billkey/internal/httpapi"

	"github.com/billkey/billkey/adapters/adaptertest"
	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
	"github.com/billkey/billkey/core"
)

// benchMux serves the adapter's routes under /billing and, beside them, bare handlers
// making the same core calls directly, so the adapter's cost shows as a ratio.
func benchMux(b *testing.B) (*http.ServeMux, *adaptertest.BenchHarness) {
	bh := adaptertest.NewBenchHarness(b)
	mux := http.NewServeMux()
	billkeyhttp.Mount(mux, adaptertest.Prefix, bh.Service, billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
		return core.Buyer{UserID: r.Header.Get(adaptertest.UserHeader)}, nil
	}))
	mux.HandleFunc("GET "+adaptertest.BarePrefix+"/billing-key/request", func(w http.ResponseWriter, r *http.Request) {
		body, err := bh.BareRequest(r.Context(), r.Header.Get(adaptertest.UserHeader))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", httpapi.JSONContentType)
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST "+adaptertest.BarePrefix+"/charges", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Plan string `json:"plan"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, err := bh.BareCharge(r.Context(), r.Header.Get(adaptertest.UserHeader), in.Plan, r.Header.Get("Idempotency-Key"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", httpapi.JSONContentType)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	})
	return mux, bh
}

func BenchmarkRequest(b *testing.B) { adaptertest.BenchRequests(b, benchMux) }

func BenchmarkCharge(b *testing.B) { adaptertest.BenchCharges(b, benchMux) }
