//go:build !race

package e2e_test

// raceEnabled: this test runs without -race.
const raceEnabled = false
