// Package e2e holds the browser test of billkey's examples: it builds examples/nethttp,
// examples/gin and examples/fiber, starts each in the sandbox on a free port with a fresh
// SQLite file, and drives headless Chromium through what a customer does: sign in,
// register a card in the (fake) KCP billing window on a PC and on a phone, subscribe to a
// plan (or, without a card, register one and pay the first month in one go), close the
// window, and meet a card refused at issuance and one declined at charge. On the phone the
// cookies are cleared right before the window submits, as when a card app brings the
// customer back in another browser: the card is registered all the same, the result page
// asks to sign in, and after signing in the card (and the plan's payment) shows. The
// customer's pages must log no console error (no missing favicon, no 404 for a customer
// without a card). One flow runs two examples against one cmd/fakeiamport (-iamport-url),
// on one PostgreSQL database when one is configured, where an example with a private fake
// must refuse to start.
//
// It needs Chromium: $BILLKEY_TEST_CHROMIUM, or chromium / chromium-browser /
// google-chrome in PATH; without one it skips. Screenshots of each flow's pages go to
// $BILLKEY_TEST_ARTIFACTS (default: billkey-e2e-artifacts in the temporary directory)
// and are named in the test log. $BILLKEY_TEST_POSTGRES_DSN adds a flow on PostgreSQL (in a
// schema of its own, dropped afterwards) and puts the shared-fake flow's examples on one
// database. An example's output is logged when its flow fails, or always with
// BILLKEY_E2E_SHOW_OUTPUT=1.
package e2e
