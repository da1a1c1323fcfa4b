package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"

	billkeyfiber "github.com/billkey/billkey/adapters/fiber"
	billkeygin "github.com/billkey/billkey/adapters/gin"
	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/memstore"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// Where the billkey contestants mount the customer's routes, and the URLs core.Config
// needs (no browser ever visits them here).
const (
	billingPrefix = "/billing"
	publicURL     = "https://shop.example" + billingPrefix
	callbackURL   = "https://shop.example/iamport"
	landingURL    = "https://shop.example/account/card"
)

// Stores a billkey contestant runs on.
const (
	storeMem      = "memstore"
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
)

// openStore opens kind as a merchant would: the shipped Open helper with no tuning, then
// sqlstore.New and Migrate. The *sql.DB is returned for its pool statistics (nil for
// memstore); close releases everything.
func openStore(ctx context.Context, spec *cellSpec, kind string) (st store.Store, db *sql.DB, closeFn func(), err error) {
	var dialect sqlstore.Dialect
	switch kind {
	case storeMem:
		return memstore.New(), nil, func() {}, nil
	case storeSQLite:
		if spec.SQLitePath == "" {
			return nil, nil, nil, errors.New("no SQLite path")
		}
		db, err = sqlitedb.Open(spec.SQLitePath)
		dialect = sqlstore.SQLite
	case storePostgres:
		if spec.PostgresDSN == "" {
			return nil, nil, nil, errors.New("no PostgreSQL DSN")
		}
		db, err = pgdb.Open(spec.PostgresDSN)
		dialect = sqlstore.Postgres
	default:
		return nil, nil, nil, fmt.Errorf("unknown store %q", kind)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := sqlstore.New(db, dialect)
	if err == nil {
		err = s.Migrate(ctx)
	}
	if err != nil {
		_ = db.Close()
		return nil, nil, nil, fmt.Errorf("%s store: %w", kind, err)
	}
	return s, db, func() { _ = db.Close() }, nil
}

// newService is billkey as the quick start configures it, against the fake: the
// iamport client's defaults, no logger, no events.
func newService(fakeAPI string, st store.Store) (*core.Service, error) {
	client, err := iamport.New(iamport.Config{Key: iamporttest.Key, Secret: iamporttest.Secret, BaseURL: fakeAPI})
	if err != nil {
		return nil, err
	}
	return core.New(core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       client,
		Store:        st,
		Plans:        []core.Plan{{ID: planID, Name: planName, Amount: planAmount}},
		PublicURL:    publicURL,
		CallbackURL:  callbackURL,
		SuccessURL:   landingURL,
		FailureURL:   landingURL,
		TestMode:     true,
	})
}

// registerBillkeyUsers gives each user a billing key through billkey's own issuance
// flow (PrepareIssuance, the fake's window, CompleteIssuance), 64 at a time.
func registerBillkeyUsers(ctx context.Context, svc *core.Service, ctl *control, users []string) error {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	errs := make([]error, len(users))
	for i, u := range users {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = registerBillkeyUser(ctx, svc, ctl, u)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func registerBillkeyUser(ctx context.Context, svc *core.Service, ctl *control, user string) error {
	ir, err := svc.PrepareIssuance(ctx, core.Buyer{UserID: user}, "")
	if err != nil {
		return fmt.Errorf("prepare issuance: %w", err)
	}
	p := ir.Params
	impUID, err := ctl.issue(ctx, iamporttest.IssueRequest{
		PG: p.PG, PayMethod: p.PayMethod, MerchantUID: p.MerchantUID, CustomerUID: p.CustomerUID,
		Name: p.Name, Amount: p.Amount, CardNumber: iamporttest.CardOK,
	})
	if err != nil {
		return err
	}
	res, err := svc.CompleteIssuance(ctx, user, core.CompleteInput{MerchantUID: p.MerchantUID, ImpUID: impUID, Source: core.SourceCallback})
	if err != nil {
		return fmt.Errorf("complete issuance: %w", err)
	}
	if res.Status != "issued" {
		return fmt.Errorf("complete issuance: status %q", res.Status)
	}
	return nil
}

// The merchant's login, reduced to reading the user from a header, on each framework.
func buyerOf(user string) (core.Buyer, error) { return core.Buyer{UserID: user}, nil }

func nethttpHandler(svc *core.Service) http.Handler {
	mux := http.NewServeMux()
	billkeyhttp.Mount(mux, billingPrefix, svc, billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
		return buyerOf(r.Header.Get(userHeader))
	}))
	return mux
}

func ginHandler(svc *core.Service) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter, gin.DefaultErrorWriter = io.Discard, io.Discard
	engine := gin.New()
	billkeygin.Mount(engine.Group(billingPrefix), svc, billkeygin.WithBuyer(func(c *gin.Context) (core.Buyer, error) {
		return buyerOf(c.GetHeader(userHeader))
	}))
	return engine
}

func fiberApp(svc *core.Service) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	billkeyfiber.Mount(app.Group(billingPrefix), svc, billkeyfiber.WithBuyer(func(c *fiber.Ctx) (core.Buyer, error) {
		return buyerOf(string(c.Request().Header.Peek(userHeader))) // a copy: Fiber reuses its buffers
	}))
	return app
}
