// Package demo is everything billkey's runnable examples (examples/nethttp, examples/gin,
// examples/fiber) share, so that each example's main.go is only its framework's wiring:
//
//   - configuration from flags and the environment (ParseConfig): sandbox by default, the
//     real iamport with IMP_CODE, IMP_KEY and IMP_SECRET, never both; in the sandbox a
//     private in-process fake, or with -iamport-url (IAMPORT_BASE_URL) a fake that several
//     examples share (go run ./cmd/fakeiamport); one SQLite file per framework and mode;
//   - the App (NewApp): SQLite or PostgreSQL storage through package sqlstore, the iamport
//     client (its credentials checked by one token request when iamport is another
//     process), in the sandbox the private fake of package iamporttest served by the same
//     process under FakePrefix, and the billkey service with a small plan catalogue. On
//     PostgreSQL an advisory lock keeps an example with a private fake alone on its
//     database (lock.go): the others would settle its charges against another iamport;
//   - a demo login (pick a user; an HMAC-signed, HttpOnly, SameSite=Lax cookie) whose check
//     the wirings call from their own login middleware (App.UserFromRequest,
//     App.UserFromCookie, Unauthenticated);
//   - the pages (App.Handler): the subscribe page with its script and style sheet, the
//     login page, the result page the mobile return lands on (with or without a session),
//     the favicon and the health endpoint (HealthPath);
//   - the life cycle (Run, Main): listen, print the banner and the URL, run the
//     reconciler, serve with read, write and idle timeouts (App.HTTPServer, Timeouts),
//     shut down gracefully on SIGINT or SIGTERM.
//
// A wiring mounts App.Service's routes under BillingPrefix behind its login middleware,
// the callback routes (webhook and mobile return) under CallbackPrefix outside it, and
// App.Handler for every other path.
package demo
