package adaptertest

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/memstore"
)

// Mount points and names every row uses.
const (
	// Prefix is where the user routes are mounted, inside the merchant's group.
	Prefix = "/billing"
	// CallbackPrefix is where the callback routes (webhook, mobile return) are mounted,
	// outside the group.
	CallbackPrefix = "/iamport"
	// WebhookPath is the webhook's path under CallbackPrefix.
	WebhookPath = CallbackPrefix + "/webhook"
	// ReturnPath is the mobile return's path under CallbackPrefix.
	ReturnPath = CallbackPrefix + "/return"
	// Host is the Host header of every request, and the host of PublicURL.
	Host = "shop.example"
	// UserHeader carries the demo user; the group middleware moves it into the native
	// context under UserKey.
	UserHeader = "X-Demo-User"
	// UserKey is the key the group middleware stores the user under (gin c.Set, fiber
	// c.Locals). net/http rows use ContextWithUser.
	UserKey = "billkey.adaptertest.user"
	// MerchantHeader is the response header the group middleware sets, to show that an
	// adapter keeps the merchant's headers beside core's.
	MerchantHeader = "X-Merchant-Group"
	// MerchantHeaderValue is its value.
	MerchantHeaderValue = "billing"
	// AdminPrefix is where the admin routes are mounted, in a group running the merchant's
	// admin middleware, which moves OperatorHeader into the native context under
	// OperatorKey.
	AdminPrefix    = "/staff/billing"
	OperatorHeader = "X-Demo-Operator"
	OperatorKey    = "billkey.adaptertest.operator"
	// BodyLimit is the harness's Config.MaxBodyBytes: the one cap on request bodies.
	BodyLimit int64 = 4 << 10

	// PanicUser makes Harness.Buyer panic; ErrorUser makes it fail.
	PanicUser = "panicking-user"
	ErrorUser = "erroring-user"

	publicURL   = "https://" + Host + Prefix
	callbackURL = "https://" + Host + CallbackPrefix
	successURL  = "https://" + Host + "/account/card?from=billing"
	failureURL  = "https://" + Host + "/account/card-failed"
)

// Plans of the harness's catalogue.
var (
	PlanBasic = core.Plan{ID: "basic", Name: "Basic monthly", Amount: 9900}
	PlanPro   = core.Plan{ID: "pro", Name: "Pro monthly", Amount: 29900}
	// PlanMonthly and PlanMonthlyPro are subscription plans of one group.
	PlanMonthly    = core.Plan{ID: "monthly", Name: "Monthly subscription", Amount: 9900, Every: core.Period{Months: 1}, Group: "main"}
	PlanMonthlyPro = core.Plan{ID: "monthly-pro", Name: "Monthly Pro subscription", Amount: 29900, Every: core.Period{Months: 1}, Group: "main"}
)

// epoch is the fake's (frozen) clock, so timestamps repeat from run to run.
var epoch = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// Harness is what a row mounts: a core.Service wired to an iamporttest fake on loopback
// and a memstore, plus the hooks the row hands to its adapter.
type Harness struct {
	// Service is the billing service to mount.
	Service *core.Service
	// Fake is the iamport fake the service talks to.
	Fake *iamporttest.Server

	mu   sync.Mutex
	errs []error
}

// NewHarness starts a fake iamport and builds a Service on a fresh memstore. Everything is
// closed when t ends.
func NewHarness(t testing.TB) *Harness {
	t.Helper()
	fake := iamporttest.NewServer(iamporttest.WithClock(epoch))
	t.Cleanup(fake.Close)
	svc, err := core.New(core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       fake.Client(),
		Store:        memstore.New(),
		Company:      "Adapter Test Shop",
		Plans:        []core.Plan{PlanBasic, PlanPro, PlanMonthly, PlanMonthlyPro},
		PublicURL:    publicURL,
		CallbackURL:  callbackURL,
		MaxBodyBytes: BodyLimit,
		SuccessURL:   successURL,
		FailureURL:   failureURL,
		TestMode:     true,
		Now:          fake.Now,
		InstanceID:   "adaptertest",
	})
	require.NoError(t, err)
	return &Harness{Service: svc, Fake: fake}
}

// Buyer turns the value the group middleware stored (a string, or nil when the request
// named no user) into a core.Buyer. Rows call it from their WithBuyer hook, so a scenario
// passes only if the middleware's value reached the hook.
func (h *Harness) Buyer(v any) (core.Buyer, error) {
	user, _ := v.(string)
	switch user {
	case "":
		return core.Buyer{}, nil
	case PanicUser:
		panic("adaptertest: the buyer hook panics on purpose")
	case ErrorUser:
		return core.Buyer{}, errors.New("adaptertest: session store unavailable")
	}
	return core.Buyer{UserID: user, Name: "Buyer " + user, Email: user + "@example.com"}, nil
}

// Operator turns the value the admin middleware stored into the operator's name. Rows call
// it from their WithOperator hook.
func (h *Harness) Operator(v any) (string, error) {
	op, _ := v.(string)
	return op, nil
}

// ReportError records what the adapter handed to its error hook. Rows call it from
// WithErrorHook.
func (h *Harness) ReportError(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
}

// Errors returns what the error hook received so far.
func (h *Harness) Errors() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

type userKey struct{}

type operatorKey struct{}

// ContextWithUser stores the demo user in ctx, as a net/http login middleware would.
func ContextWithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// UserFromContext returns the user ContextWithUser stored, or nil.
func UserFromContext(ctx context.Context) any {
	return ctx.Value(userKey{})
}

// AdminMiddleware is the net/http form of the merchant's admin middleware.
func AdminMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op := r.Header.Get(OperatorHeader); op != "" {
			r = r.WithContext(context.WithValue(r.Context(), operatorKey{}, op))
		}
		next.ServeHTTP(w, r)
	})
}

// Middleware is the net/http form of the merchant's group middleware.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(MerchantHeader, MerchantHeaderValue)
		if u := r.Header.Get(UserHeader); u != "" {
			r = r.WithContext(ContextWithUser(r.Context(), u))
		}
		next.ServeHTTP(w, r)
	})
}

// HTTPOptions are the billkeyhttp options a net/http row passes for h.
func (h *Harness) HTTPOptions() []billkeyhttp.Option {
	return []billkeyhttp.Option{
		billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) { return h.Buyer(UserFromContext(r.Context())) }),
		billkeyhttp.WithOperator(func(r *http.Request) (string, error) { return h.Operator(r.Context().Value(operatorKey{})) }),
		billkeyhttp.WithErrorHook(func(_ *http.Request, err error) { h.ReportError(err) }),
	}
}

// Adapter is one row of the suite.
type Adapter struct {
	// Name labels the row in failures.
	Name string
	// New returns the handler serving h.Service: the customer's routes under Prefix in a
	// group running the merchant middleware, the callback routes under CallbackPrefix
	// outside it, and the admin routes under AdminPrefix in a group running the admin
	// middleware.
	New func(t testing.TB, h *Harness) http.Handler
}

// Reference is the net/http row every other row is compared with: billkeyhttp.Mount on a
// ServeMux behind Middleware, the callbacks on the outer mux.
var Reference = Adapter{
	Name: "nethttp-mount",
	New: func(_ testing.TB, h *Harness) http.Handler {
		inner := http.NewServeMux()
		billkeyhttp.Mount(inner, Prefix, h.Service, h.HTTPOptions()...)
		outer := http.NewServeMux()
		outer.Handle(Prefix+"/", Middleware(inner))
		billkeyhttp.MountCallbacks(outer, CallbackPrefix, h.Service, h.HTTPOptions()...)
		admin := http.NewServeMux()
		billkeyhttp.MountAdmin(admin, AdminPrefix, h.Service, h.HTTPOptions()...)
		outer.Handle(AdminPrefix+"/", AdminMiddleware(admin))
		return outer
	},
}
