//go:build race

package e2e_test

// raceEnabled: this test runs with -race, so the examples are built with it too.
const raceEnabled = true
