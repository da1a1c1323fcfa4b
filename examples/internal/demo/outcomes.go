package demo

import (
	"sync"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/event"
)

// outcomeTTL is how long after a failure the result page still explains it.
const outcomeTTL = 10 * time.Minute

// outcome is the latest failure of one user, as billkey's events told it.
type outcome struct {
	kind   event.Kind
	reason string // the window's or the card company's words
	at     time.Time
}

// outcomes remembers each demo user's latest failure, so that the result page the mobile
// return lands on (it carries only a result code) can say why, as the PC page does with
// the window's answer. A later success of the same kind forgets it. Only the demo's users
// are kept, so the map stays as small as Users.
type outcomes struct {
	now  func() time.Time
	mu   sync.Mutex
	last map[string]outcome // user id -> latest failure
}

func newOutcomes(now func() time.Time) *outcomes {
	return &outcomes{now: now, last: make(map[string]outcome)}
}

// note records an issuance or charge failure, and forgets it on the success that follows.
func (o *outcomes) note(e event.Event) {
	if _, known := findUser(e.UserID); !known {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Kind {
	case event.IssuanceFailed, event.ChargeFailed:
		o.last[e.UserID] = outcome{kind: e.Kind, reason: e.Reason, at: o.now()}
	case event.BillingKeyIssued, event.ChargePaid:
		if cur, ok := o.last[e.UserID]; ok && cur.kind == failureOf(e.Kind) {
			delete(o.last, e.UserID)
		}
	}
}

// failureOf is the failure a success of kind settles.
func failureOf(kind event.Kind) event.Kind {
	if kind == event.BillingKeyIssued {
		return event.IssuanceFailed
	}
	return event.ChargeFailed
}

// reason returns the words of userID's recent failure that result code stands for: an
// issuance failure for issuance_failed, a charge failure for card_declined.
func (o *outcomes) reason(userID, code string) (string, bool) {
	var want event.Kind
	switch code {
	case codes.IssuanceFailed:
		want = event.IssuanceFailed
	case codes.CardDeclined:
		want = event.ChargeFailed
	default:
		return "", false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cur, ok := o.last[userID]
	if !ok || cur.kind != want || o.now().Sub(cur.at) > outcomeTTL {
		return "", false
	}
	return cur.reason, true
}
