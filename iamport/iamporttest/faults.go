package iamporttest

import (
	"net/http"
	"strconv"
	"time"
)

// Fault is one scripted misbehaviour for the next call of an endpoint. Fields combine:
// Latency applies first, then at most one of DropBefore, Status, Code (which do not act),
// or DropAfter, Truncate, Stall (which act first). Code with Message answers a refusal
// such as again's code -1 (nothing charged) or any other code iamport may send.
type Fault struct {
	Latency    time.Duration // wait before handling (honours the request context)
	Status     int           // answer this HTTP status (5xx) with an error envelope, without acting
	Code       int           // answer HTTP 200 with this non-zero code and Message, without acting
	Message    string
	DropBefore bool          // close the connection before doing anything
	DropAfter  bool          // do the work (record the payment), then close the connection unanswered
	Truncate   bool          // do the work, then send only part of the body and close
	Stall      time.Duration // do the work, then hold the answer this long (or until the client goes)
	// AmountJSON, a JSON number such as "9900.5", is stored as the written amount of the
	// payment the call answers with (again, a lookup by imp_uid or merchant_uid, cancel),
	// as SetAmountJSON does: this answer and every later one show it.
	AmountJSON string
}

// Call is one request the fake served. Endpoint is "" for a path the fake does not serve.
// Status is the HTTP status written, 0 while the call is in progress or when the
// connection was dropped unanswered.
type Call struct {
	Endpoint Endpoint
	Method   string
	Path     string
	Status   int
	At       time.Time // fake clock
}

// Inject queues faults for the next calls of ep, one fault per call, in order.
func (f *Fake) Inject(ep Endpoint, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[ep] = append(f.faults[ep], faults...)
}

// QueuedFaults is how many faults wait for the next calls of ep.
func (f *Fake) QueuedFaults(ep Endpoint) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.faults[ep])
}

// ClearFaults drops every queued fault.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.faults)
}

// Count is how many calls of ep arrived (faulted ones included).
func (f *Fake) Count(ep Endpoint) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[ep]
}

// Calls is the full log of API calls, oldest first.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Call, len(f.calls))
	copy(out, f.calls)
	return out
}

// arrive counts and logs a call and takes its fault, if one is queued.
func (f *Fake) arrive(ep Endpoint, r *http.Request) (int, Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ft Fault
	if ep != "" {
		f.counts[ep]++
		if q := f.faults[ep]; len(q) > 0 {
			ft = q[0]
			if len(q) == 1 {
				delete(f.faults, ep)
			} else {
				f.faults[ep] = q[1:]
			}
		}
	}
	f.calls = append(f.calls, Call{Endpoint: ep, Method: r.Method, Path: r.URL.Path, At: f.nowLocked()})
	return len(f.calls) - 1, ft
}

// finish records the status a call ended with.
func (f *Fake) finish(idx, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if idx >= 0 && idx < len(f.calls) {
		f.calls[idx].Status = status
	}
}

// wait blocks for d, until the client goes away or until the fake is closed. It reports
// false when the client went away (the call should then do nothing more).
func (f *Fake) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.done:
		return true
	case <-r.Context().Done():
		return false
	}
}

// abortConn closes the client connection without (further) answer: by hijacking it, or,
// where the writer cannot be hijacked, by the panic net/http turns into an abort.
func abortConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		conn, buf, err := hj.Hijack()
		if err == nil {
			if buf != nil {
				_ = buf.Flush()
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// writeTruncated announces the full body length, sends half of it and closes.
func writeTruncated(w http.ResponseWriter, rp apiReply) {
	body := rp.encode()
	h := w.Header()
	for k, v := range rp.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rp.status)
	_, _ = w.Write(body[:len(body)/2])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	abortConn(w)
}
