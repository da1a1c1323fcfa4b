package soak

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// faultEndpoints are the calls faults land on: `again`, the lookups and cancels.
var faultEndpoints = []iamporttest.Endpoint{
	iamporttest.EPAgain, iamporttest.EPAgain, iamporttest.EPGetPayment, iamporttest.EPFindPayment,
	iamporttest.EPFindAll, iamporttest.EPCancel,
}

// faultKinds are the misbehaviours, by the name the figures count them under.
var faultKinds = []struct {
	name  string
	fault iamporttest.Fault
}{
	{"latency", iamporttest.Fault{Latency: 800 * time.Millisecond}},
	{"5xx", iamporttest.Fault{Status: http.StatusBadGateway}},
	{"non-zero code", iamporttest.Fault{Code: -1, Message: "soak: refused"}},
	{"drop before", iamporttest.Fault{DropBefore: true}},
	{"drop after", iamporttest.Fault{DropAfter: true}},
	{"stall past deadline", iamporttest.Fault{Stall: 3 * time.Minute}},
	{"truncated body", iamporttest.Fault{Truncate: true}},
}

// injectFaults queues one fault every interval until ctx ends, on an endpoint with none
// waiting: faults do not pile up on a rarely called endpoint (cancels), so some of its
// calls go through. The figures count the faults queued, less those still waiting when
// the faults stop.
func (r *run) injectFaults(ctx context.Context) {
	if r.cfg.FaultsPerSecond <= 0 {
		return
	}
	every := time.Duration(float64(time.Second) / r.cfg.FaultsPerSecond)
	t := time.NewTicker(every)
	defer t.Stop()
	waiting := map[iamporttest.Endpoint]string{} // the kind last queued on each endpoint
	defer func() {
		for ep, kind := range waiting {
			if r.up.fake.QueuedFaults(ep) > 0 {
				r.faults.addN(kind, -1) // never landed
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.rngMu.Lock()
		ep := faultEndpoints[r.rng.IntN(len(faultEndpoints))]
		k := faultKinds[r.rng.IntN(len(faultKinds))]
		r.rngMu.Unlock()
		if r.up.fake.QueuedFaults(ep) > 0 {
			continue
		}
		r.up.fake.Inject(ep, k.fault)
		r.faults.inc(k.name)
		waiting[ep] = k.name
	}
}

// terminateConnections ends every database connection of the run's instances
// (application_name is private to the run).
func terminateConnections(ctx context.Context, db *sql.DB, appName string) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}
