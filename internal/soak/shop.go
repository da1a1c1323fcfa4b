package soak

import "time"

// What the harness relies on of the net/http example (examples/internal/demo, which
// this package cannot import): its listening line, paths, demo users and timeouts.
const (
	listeningPrefix = "billkey example listening on "
	shutdownTimeout = 10 * time.Second
	serverReadLimit = 5 * time.Second
	billingPrefix   = "/billing"
	callbackPrefix  = "/iamport"
	webhookPath     = callbackPrefix + "/webhook"
	resultPath      = "/result"
	userAlice       = "alice"
	userBob         = "bob"
)

// demoUsers are the example's demo accounts.
var demoUsers = []string{userAlice, userBob}
