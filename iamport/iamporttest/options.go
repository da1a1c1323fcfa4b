package iamporttest

import "time"

// DefaultTokenLifetime is how long an access token lives, as at iamport.
const DefaultTokenLifetime = 30 * time.Minute

// Option configures a Fake.
type Option func(*options)

type options struct {
	key, secret    string
	clock          time.Time // zero: now
	realClock      bool
	sandbox        bool
	noSandboxField bool
	pgID           string
	webhook        WebhookConfig
	tokenLifetime  time.Duration
	latency        time.Duration
	legacyNotFound bool
	statePath      string
}

func defaultOptions() options {
	return options{
		key:           Key,
		secret:        Secret,
		tokenLifetime: DefaultTokenLifetime,
	}
}

// WithCredentials sets the key and secret the fake accepts.
func WithCredentials(key, secret string) Option {
	return func(o *options) { o.key, o.secret = key, secret }
}

// WithClock starts the fake clock at t (default: the real time at creation). Without
// WithRealClock the clock only moves when the test calls Advance.
func WithClock(t time.Time) Option {
	return func(o *options) { o.clock = t }
}

// WithRealClock makes the fake clock follow the wall clock: Now is the real time plus an
// offset that Advance grows (Advance still runs the schedules that became due, and
// schedules also run when they come due as time passes, at the next API call). With
// WithClock the offset starts so that Now is t at creation. The default is the frozen
// clock that only Advance moves.
func WithRealClock() Option {
	return func(o *options) { o.realClock = true }
}

// WithSandbox marks every payment and customer the fake creates as sandbox (test channel).
// GET /payments/{imp_uid} then answers 404 for them unless include_sandbox=true.
func WithSandbox(sandbox bool) Option {
	return func(o *options) { o.sandbox = sandbox }
}

// WithoutSandboxField makes answers carry no sandbox key on payments and billing keys, as
// the real answers captured from 2022 to 2024 do. Whether the fake is a sandbox
// (WithSandbox) still decides what include_sandbox hides and the default pg_id.
func WithoutSandboxField() Option {
	return func(o *options) { o.noSandboxField = true }
}

// WithPGID sets the pg_id (the PG's merchant id, for KCP its site code) of the keys the fake
// issues and of their payments, unless request_pay names a site as "kcp_billing.{site}".
// Default: TestSiteCode (KCP's test site code T0000) when the fake runs as a sandbox,
// LiveSiteCode otherwise.
func WithPGID(mid string) Option {
	return func(o *options) { o.pgID = mid }
}

// WithWebhook sets the notification configuration.
func WithWebhook(cfg WebhookConfig) Option {
	return func(o *options) { o.webhook = cfg }
}

// WithTokenLifetime overrides the 30-minute token lifetime (tests of expiry). A value <= 0
// keeps the default.
func WithTokenLifetime(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.tokenLifetime = d
		}
	}
}

// WithLatency makes every API call wait d (on the real clock, honouring the request's
// context) before it is handled, besides any Latency fault: a stand-in for the network and
// iamport's own time in load tests. A value <= 0 means none.
func WithLatency(d time.Duration) Option {
	return func(o *options) { o.latency = max(d, 0) }
}

// WithLegacyNotFound makes GET and DELETE /subscribe/customers/{customer_uid} answer an
// unknown customer_uid the way older accounts were observed to: HTTP 200 with code 1 and
// "요청하신 customer_uid(…)로 등록된 정보를 찾을 수 없습니다." By default the fake answers
// HTTP 404 (the spec) with the same envelope.
func WithLegacyNotFound(legacy bool) Option {
	return func(o *options) { o.legacyNotFound = legacy }
}

// WithStateFile keeps the fake's state in the file at path: New loads it when the file
// exists (customers with their test cards and charge counts, payments, schedules, sequence
// counters and the clock), and every change is written back at once, atomically (a
// temporary file renamed over it). A restarted fake thus still knows the billing keys a
// merchant's database remembers. Tokens, faults, counters and webhooks are not kept. Use
// NewWithState to get an unreadable file as an error.
func WithStateFile(path string) Option {
	return func(o *options) { o.statePath = path }
}
