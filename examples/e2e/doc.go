// Package e2e holds the browser test of billkey's examples: it builds examples/nethttp,
// examples/gin and examples/fiber, starts each in the sandbox on a free port with a fresh
// SQLite file, and drives headless Chromium through what a customer does: sign in,
// register a card in the (fake) KCP billing window on a PC and on a phone, subscribe to a
// plan, and meet a card refused at issuance and one declined at charge.
//
// It needs Chromium: $BILLKEY_TEST_CHROMIUM, or chromium / chromium-browser /
// google-chrome in PATH; without one it skips. Screenshots of each flow's final page go
// to $BILLKEY_TEST_ARTIFACTS (default: billkey-e2e-artifacts in the temporary directory)
// and are named in the test log. $BILLKEY_TEST_POSTGRES_DSN adds a flow on PostgreSQL (in a
// schema of its own, dropped afterwards). An example's output is logged when its flow
// fails, or always with BILLKEY_E2E_SHOW_OUTPUT=1.
package e2e
