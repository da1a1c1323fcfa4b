package main

import (
	"testing"

	"github.com/billkey/billkey/examples/internal/demotest"
)

// A client that sends its request body slowly, or keeps a connection idle, cannot hold
// the server (read, write and idle timeouts).
func TestSlowClientsCannotHoldTheServer(t *testing.T) {
	demotest.SlowClients(t, wire)
}

// /readyz and /metrics answer outside the logins; the admin API stays behind the staff's.
func TestOperationsEndpoints(t *testing.T) {
	demotest.Operations(t, wire)
}
