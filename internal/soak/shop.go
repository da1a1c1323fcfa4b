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
	metricsPath     = "/metrics"
	userAlice       = "alice"
	userBob         = "bob"
	staffUser       = "dana"
	adminPath       = "/admin"
	adminAPIPrefix  = adminPath + "/api"
)

// demoUsers are the example's demo accounts; the attacker is the second, its victim the
// first.
var demoUsers = []string{userAlice, userBob, "carol", "dave"}
