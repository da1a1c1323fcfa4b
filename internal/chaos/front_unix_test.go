//go:build unix

package chaos

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// Faults the front injects on `again`.
const (
	faultLatency    = "latency"
	fault5xx        = "5xx"
	faultDropBefore = "drop_before"
	faultDropAfter  = "drop_after"
	faultTruncate   = "truncate"
	faultStall      = "stall" // past the attempt's budget of ReconcileAfter/2
	faultRefused    = "refused"
)

// faultWeights is how often each kind is picked, stalls aside (they hold a sweep, and
// with it the clock, for seconds: the run gets a fixed number of them).
var faultWeights = []struct {
	kind   string
	weight int
}{
	{faultLatency, 3}, {fault5xx, 2}, {faultDropBefore, 2}, {faultDropAfter, 2}, {faultTruncate, 1}, {faultRefused, 2},
}

// Stages of an instance's renewal at which it is killed.
const (
	killBeforeAgain = "before_again" // its `again` reached the fake, which has not acted yet
	killAfterAgain  = "after_again"  // the fake acted and answered; nothing recorded yet
	killAfterEvent  = "after_event"  // right after it reported a charge's outcome
	killIdle        = "idle"         // the armed stage never came: killed wherever it was
)

// killPlan is one armed kill of the instance in slot at stage.
type killPlan struct {
	slot  int
	stage string
	kill  func(stage string)
	once  sync.Once
	fired chan struct{}
}

func (p *killPlan) fire(stage string) {
	p.once.Do(func() {
		p.kill(stage)
		close(p.fired)
	})
}

// front stands before the fake: one listener per instance slot, so it knows which
// instance sends each `again`. It injects faults on `again` at a rate (through
// Fake.Inject, counted by kind), records every merchant_uid sent, and fires armed kills.
type front struct {
	fake *iamporttest.Fake

	mu         sync.Mutex
	rng        *rand.Rand
	rate       float64
	stallsLeft int
	injected   map[string]int
	sent       map[string]int // merchant_uid → again requests
	plan       *killPlan
}

func newFront(fake *iamporttest.Fake, seed uint64, stalls int) *front {
	return &front{
		fake:       fake,
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		stallsLeft: stalls,
		injected:   make(map[string]int),
		sent:       make(map[string]int),
	}
}

// listen starts one loopback server per slot and returns their URLs.
func (fr *front) listen(t *testing.T, slots int) []string {
	urls := make([]string, slots)
	for i := range slots {
		srv := httptest.NewServer(fr.handler(i))
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
	}
	return urls
}

func (fr *front) setRate(r float64) {
	fr.mu.Lock()
	fr.rate = r
	fr.mu.Unlock()
	if r == 0 {
		fr.fake.ClearFaults()
	}
}

func (fr *front) arm(p *killPlan) {
	fr.mu.Lock()
	fr.plan = p
	fr.mu.Unlock()
}

// armed is the plan armed for slot, if any and not fired.
func (fr *front) armed(slot int) *killPlan {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.plan == nil || fr.plan.slot != slot {
		return nil
	}
	select {
	case <-fr.plan.fired:
		return nil
	default:
		return fr.plan
	}
}

func (fr *front) handler(slot int) http.Handler {
	next := fr.fake.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/subscribe/payments/again" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			return // the instance went away while sending
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			MerchantUID string `json:"merchant_uid"`
		}
		_ = json.Unmarshal(body, &req)
		fr.noteAgain(req.MerchantUID)
		if p := fr.armed(slot); p != nil {
			switch p.stage {
			case killBeforeAgain:
				p.fire(p.stage)
			case killAfterAgain:
				// Deferred: a dropped connection ends the fake's handler by panicking.
				defer p.fire(p.stage)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// noteAgain records one again for merchantUID and queues a fault for the next again at
// the front's rate.
func (fr *front) noteAgain(merchantUID string) {
	fr.mu.Lock()
	fr.sent[merchantUID]++
	if fr.rate == 0 || fr.rng.Float64() >= fr.rate {
		fr.mu.Unlock()
		return
	}
	kind, f := fr.pickLocked()
	fr.injected[kind]++
	fr.mu.Unlock()
	fr.fake.Inject(iamporttest.EPAgain, f)
}

func (fr *front) pickLocked() (string, iamporttest.Fault) {
	if fr.stallsLeft > 0 && fr.rng.IntN(20) == 0 {
		fr.stallsLeft--
		return faultStall, iamporttest.Fault{Stall: reconcileAfter}
	}
	total := 0
	for _, w := range faultWeights {
		total += w.weight
	}
	n := fr.rng.IntN(total)
	kind := faultWeights[0].kind
	for _, w := range faultWeights {
		if n < w.weight {
			kind = w.kind
			break
		}
		n -= w.weight
	}
	switch kind {
	case faultLatency:
		return kind, iamporttest.Fault{Latency: 50*time.Millisecond + time.Duration(fr.rng.IntN(250))*time.Millisecond}
	case fault5xx:
		return kind, iamporttest.Fault{Status: []int{500, 502, 503}[fr.rng.IntN(3)]}
	case faultDropBefore:
		return kind, iamporttest.Fault{DropBefore: true}
	case faultDropAfter:
		return kind, iamporttest.Fault{DropAfter: true}
	case faultTruncate:
		return kind, iamporttest.Fault{Truncate: true}
	}
	return faultRefused, iamporttest.Fault{Code: -1, Message: "일시적으로 결제를 처리할 수 없습니다."}
}

// sentUIDs is every merchant_uid an again was sent for.
func (fr *front) sentUIDs() map[string]int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	out := make(map[string]int, len(fr.sent))
	for k, v := range fr.sent {
		out[k] = v
	}
	return out
}

// injectedText is the count of faults by kind, e.g. "5xx:3 latency:7".
func (fr *front) injectedText() (string, int) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	kinds := make([]string, 0, len(fr.injected))
	total := 0
	for k, n := range fr.injected {
		kinds = append(kinds, k+":"+strconv.Itoa(n))
		total += n
	}
	sort.Strings(kinds)
	return strings.Join(kinds, " "), total
}
