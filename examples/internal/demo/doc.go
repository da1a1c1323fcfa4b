// Package demo is everything billkey's runnable examples (examples/nethttp, examples/gin,
// examples/fiber) share, so that each example's main.go is only its framework's wiring:
//
//   - configuration from flags and the environment (ParseConfig): sandbox by default, the
//     real iamport with IMP_CODE, IMP_KEY and IMP_SECRET, never both;
//   - the App (NewApp): SQLite or PostgreSQL storage through package sqlstore, the iamport
//     client, in the sandbox the fake iamport of package iamporttest served by the same
//     process under FakePrefix, and the billkey service with a small plan catalogue;
//   - a demo login (pick a user; an HMAC-signed, HttpOnly, SameSite=Lax cookie) whose check
//     the wirings call from their own login middleware (App.UserFromRequest,
//     App.UserFromCookie, Unauthenticated);
//   - the pages (App.Handler): the subscribe page with its script and style sheet, the
//     login page and the result page the mobile redirect lands on;
//   - the life cycle (Run, Main): listen, print the banner and the URL, run the
//     reconciler, serve, shut down gracefully on SIGINT or SIGTERM.
//
// A wiring mounts App.Service's routes under BillingPrefix behind its login middleware,
// the webhook at WebhookPath outside it, and App.Handler for every other path.
package demo
