package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/billkey/billkey/core"
)

// Floors: what the other contestants' charges per second are divided by.
const (
	floorHTTP = "floor"
	floorGo   = "go-floor"
)

// Contestant is one way of charging a billing key that the benchmark measures.
type Contestant struct {
	Name  string
	Floor string // the contestant of the same round this one is compared with; "" for a floor
	Store string // memstore, sqlite or postgres for billkey; "" otherwise
	About string
	build func(ctx context.Context, env *cellEnv) (*target, error)
}

// target is a contestant set up for one cell.
type target struct {
	charge chargeFunc
	db     *sql.DB // the SQL store's pool, for its statistics; nil otherwise
	close  func()
}

// cellEnv is what a contestant is built from.
type cellEnv struct {
	spec  *cellSpec
	ctl   *control
	users []string // worker w charges as users[w % len(users)]
}

func (e *cellEnv) user(w int) string { return e.users[w%len(e.users)] }

// Contestants lists every contestant, in the order -list shows them.
func Contestants() []Contestant {
	out := []Contestant{
		{Name: floorHTTP, About: "a bare net/http handler doing one `again` with a keep-alive client and a cached token",
			build: func(ctx context.Context, env *cellEnv) (*target, error) { return buildFloorHTTP(ctx, env, false) }},
		{Name: "tutorial", Floor: floorHTTP, About: "the same handler getting a new token with a new http.Client (and connection) per charge",
			build: func(ctx context.Context, env *cellEnv) (*target, error) { return buildFloorHTTP(ctx, env, true) }},
	}
	for _, st := range []string{storeMem, storeSQLite, storePostgres} {
		for _, ad := range []string{"nethttp", "gin", "fiber"} {
			out = append(out, Contestant{
				Name: ad + "/" + st, Floor: floorHTTP, Store: st,
				About: "billkey's POST /charges mounted with the " + ad + " adapter, on " + storeAbout[st],
				build: func(ctx context.Context, env *cellEnv) (*target, error) { return buildBillkeyHTTP(ctx, env, ad, st) },
			})
		}
	}
	out = append(out, Contestant{Name: floorGo, About: "the floor's `again` called as a Go function, no HTTP in front",
		build: buildGoFloor})
	for _, st := range []string{storeMem, storeSQLite, storePostgres} {
		out = append(out, Contestant{
			Name: "go/" + st, Floor: floorGo, Store: st,
			About: "billkey's Service.Charge called from Go, on " + storeAbout[st],
			build: func(ctx context.Context, env *cellEnv) (*target, error) { return buildGoAPI(ctx, env, st) },
		})
	}
	return out
}

var storeAbout = map[string]string{
	storeMem:      "memstore",
	storeSQLite:   "SQLite (sqlitedb.Open, a file)",
	storePostgres: "PostgreSQL (pgdb.Open)",
}

// DefaultContestants is the selection of a run without -contestants: everything but the
// Go API on the SQL stores.
var DefaultContestants = []string{
	floorHTTP, "tutorial",
	"nethttp/memstore", "gin/memstore", "fiber/memstore",
	"nethttp/sqlite", "gin/sqlite", "fiber/sqlite",
	"nethttp/postgres", "gin/postgres", "fiber/postgres",
	floorGo, "go/memstore",
}

func contestantByName(name string) (Contestant, bool) {
	for _, c := range Contestants() {
		if c.Name == name {
			return c, true
		}
	}
	return Contestant{}, false
}

// closers runs cleanups in reverse order of registration.
type closers []func()

func (c *closers) add(f func()) { *c = append(*c, f) }

func (c closers) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

func buildFloorHTTP(ctx context.Context, env *cellEnv, fresh bool) (*target, error) {
	users, err := registerFloorUsers(ctx, env.ctl, env.users)
	if err != nil {
		return nil, err
	}
	fc := newFloorCharger(env.spec.FakeAPI, users, fresh)
	if err := fc.warm(ctx); err != nil {
		fc.close()
		return nil, err
	}
	srv, err := serveHTTP(floorHandler(fc))
	if err != nil {
		fc.close()
		return nil, err
	}
	load := newHTTPLoad(srv.base+"/charges", env.user, env.spec.Concurrency)
	return &target{charge: load.charge, close: closers{fc.close, srv.close, load.close}.run}, nil
}

func buildGoFloor(ctx context.Context, env *cellEnv) (*target, error) {
	users, err := registerFloorUsers(ctx, env.ctl, env.users)
	if err != nil {
		return nil, err
	}
	fc := newFloorCharger(env.spec.FakeAPI, users, false)
	if err := fc.warm(ctx); err != nil {
		fc.close()
		return nil, err
	}
	charge := func(ctx context.Context, w int) error {
		_, err := fc.charge(ctx, env.user(w))
		return err
	}
	return &target{charge: charge, close: fc.close}, nil
}

// billkeyService opens the store, builds the service and registers the users.
func billkeyService(ctx context.Context, env *cellEnv, storeKind string, cl *closers) (*core.Service, *sql.DB, error) {
	st, db, closeStore, err := openStore(ctx, env.spec, storeKind)
	if err != nil {
		return nil, nil, err
	}
	cl.add(closeStore)
	svc, err := newService(env.spec.FakeAPI, st)
	if err != nil {
		return nil, nil, err
	}
	if err := registerBillkeyUsers(ctx, svc, env.ctl, env.users); err != nil {
		return nil, nil, err
	}
	return svc, db, nil
}

func buildBillkeyHTTP(ctx context.Context, env *cellEnv, adapter, storeKind string) (_ *target, err error) {
	var cl closers
	defer func() {
		if err != nil {
			cl.run()
		}
	}()
	svc, db, err := billkeyService(ctx, env, storeKind, &cl)
	if err != nil {
		return nil, err
	}
	var srv *server
	switch adapter {
	case "nethttp":
		srv, err = serveHTTP(nethttpHandler(svc))
	case "gin":
		srv, err = serveHTTP(ginHandler(svc))
	case "fiber":
		srv, err = serveFiber(fiberApp(svc))
	default:
		err = fmt.Errorf("unknown adapter %q", adapter)
	}
	if err != nil {
		return nil, err
	}
	cl.add(srv.close)
	load := newHTTPLoad(srv.base+billingPrefix+"/charges", env.user, env.spec.Concurrency)
	cl.add(load.close)
	return &target{charge: load.charge, db: db, close: cl.run}, nil
}

func buildGoAPI(ctx context.Context, env *cellEnv, storeKind string) (_ *target, err error) {
	var cl closers
	defer func() {
		if err != nil {
			cl.run()
		}
	}()
	svc, db, err := billkeyService(ctx, env, storeKind, &cl)
	if err != nil {
		return nil, err
	}
	var keys atomic.Int64
	charge := func(ctx context.Context, w int) error {
		v, err := svc.Charge(ctx, core.ChargeRequest{
			UserID: env.user(w), PlanID: planID, IdempotencyKey: "k" + strconv.FormatInt(keys.Add(1), 10),
		})
		if err != nil {
			return &failure{kind: goAPIKind(err)}
		}
		if v.Status != core.ChargePaid {
			return &failure{kind: "status " + string(v.Status)}
		}
		return nil
	}
	return &target{charge: charge, db: db, close: cl.run}, nil
}

// goAPIKind names a Service.Charge error as the HTTP contestants' kinds are named: by
// status and code.
func goAPIKind(err error) string {
	var e *core.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("HTTP %d %s", e.HTTPStatus(), e.Code)
	}
	return "error " + core.ErrorCode(err)
}
