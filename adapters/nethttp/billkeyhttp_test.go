package billkeyhttp_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/adapters/adaptertest"
	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
)

// handlerRow mounts Handler under the prefix with http.StripPrefix, the other way the
// package offers.
var handlerRow = adaptertest.Adapter{
	Name: "nethttp-handler",
	New: func(_ testing.TB, h *adaptertest.Harness) http.Handler {
		mux := http.NewServeMux()
		mux.Handle(adaptertest.Prefix+"/", adaptertest.Middleware(
			http.StripPrefix(adaptertest.Prefix, billkeyhttp.Handler(h.Service, h.HTTPOptions()...))))
		mux.Handle(adaptertest.CallbackPrefix+"/", http.StripPrefix(adaptertest.CallbackPrefix, billkeyhttp.CallbacksHandler(h.Service, h.HTTPOptions()...)))
		mux.Handle(adaptertest.AdminPrefix+"/", adaptertest.AdminMiddleware(
			http.StripPrefix(adaptertest.AdminPrefix, billkeyhttp.AdminHandler(h.Service, h.HTTPOptions()...))))
		return mux
	},
}

// TestMain checks that no goroutine outlives the tests (fakes, servers, handlers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformanceMount(t *testing.T) {
	adaptertest.Run(t, adaptertest.Reference)
}

func TestConformanceHandler(t *testing.T) {
	adaptertest.Run(t, handlerRow)
}

func TestWriteFailure(t *testing.T) {
	adaptertest.WriteFailure(t, adaptertest.Reference)
	adaptertest.WriteFailure(t, handlerRow)
}

func TestMountPanicsOnBadPrefix(t *testing.T) {
	h := adaptertest.NewHarness(t)
	assert.Panics(t, func() { billkeyhttp.Mount(http.NewServeMux(), "billing", h.Service) })
	assert.Panics(t, func() { billkeyhttp.MountCallbacks(http.NewServeMux(), "hook", h.Service) })
	assert.NotPanics(t, func() { billkeyhttp.Mount(http.NewServeMux(), "/billing/", h.Service) })
}
