package bench

import (
	"context"
	"errors"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// chargeFunc makes one charge for worker w (each worker charges as its own user) and
// returns nil when the charge was paid.
type chargeFunc func(ctx context.Context, w int) error

// failure is a charge that did not end paid, with the kind it is counted under.
type failure struct{ kind string }

func (f *failure) Error() string { return f.kind }

// kindOf names the kind of a charge's failure for the error counts: the kind a
// contestant gave it, or the class of a transport error.
func kindOf(err error) string {
	var f *failure
	var ne net.Error
	switch {
	case errors.As(err, &f):
		return f.kind
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port free"
	default:
		return "transport error"
	}
}

// loadResult is what one phase of load produced.
type loadResult struct {
	OK      int
	Errors  map[string]int
	Latency []time.Duration // of paid charges, sorted
	Elapsed time.Duration
}

// runLoad runs conc workers that charge back to back until max charges were started or
// d has passed, whichever comes first; charges started before the end run to their end
// (each is bounded by its own timeout).
func runLoad(ctx context.Context, conc int, d time.Duration, max int, charge chargeFunc) loadResult {
	start := time.Now()
	deadline := start.Add(d)
	var started atomic.Int64
	type workerResult struct {
		lat  []time.Duration
		errs map[string]int
	}
	results := make([]workerResult, conc)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			r := workerResult{errs: map[string]int{}}
			for ctx.Err() == nil && started.Add(1) <= int64(max) && time.Now().Before(deadline) {
				t0 := time.Now()
				if err := charge(ctx, w); err != nil {
					r.errs[kindOf(err)]++
					continue
				}
				r.lat = append(r.lat, time.Since(t0))
			}
			results[w] = r
		})
	}
	wg.Wait()
	out := loadResult{Errors: map[string]int{}, Elapsed: time.Since(start)}
	for _, r := range results {
		out.Latency = append(out.Latency, r.lat...)
		for k, n := range r.errs {
			out.Errors[k] += n
		}
	}
	out.OK = len(out.Latency)
	slices.Sort(out.Latency)
	return out
}

// percentile is the nearest-rank q-quantile (0 < q <= 1) of sorted, 0 when empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
