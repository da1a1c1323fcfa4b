package iamporttest

import "time"

// DefaultTokenLifetime is how long an access token lives, as at iamport.
const DefaultTokenLifetime = 30 * time.Minute

// Option configures a Fake.
type Option func(*options)

type options struct {
	key, secret    string
	clock          time.Time
	sandbox        bool
	webhook        WebhookConfig
	tokenLifetime  time.Duration
	legacyNotFound bool
}

func defaultOptions() options {
	return options{
		key:           Key,
		secret:        Secret,
		clock:         time.Now(),
		tokenLifetime: DefaultTokenLifetime,
	}
}

// WithCredentials sets the key and secret the fake accepts.
func WithCredentials(key, secret string) Option {
	return func(o *options) { o.key, o.secret = key, secret }
}

// WithClock starts the fake clock at t (default: the real time at creation). The clock only
// moves when the test calls Advance.
func WithClock(t time.Time) Option {
	return func(o *options) { o.clock = t }
}

// WithSandbox marks every payment and customer the fake creates as sandbox (test channel).
// GET /payments/{imp_uid} then answers 404 for them unless include_sandbox=true.
func WithSandbox(sandbox bool) Option {
	return func(o *options) { o.sandbox = sandbox }
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

// WithLegacyNotFound makes GET and DELETE /subscribe/customers/{customer_uid} answer an
// unknown customer_uid the way older accounts were observed to: HTTP 200 with code 1 and
// "요청하신 customer_uid(…)로 등록된 정보를 찾을 수 없습니다." By default the fake answers
// HTTP 404 (the spec) with the same envelope.
func WithLegacyNotFound(legacy bool) Option {
	return func(o *options) { o.legacyNotFound = legacy }
}
