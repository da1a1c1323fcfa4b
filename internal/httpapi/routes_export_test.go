package httpapi

import "time"

// SetWebhookTimeoutForTest shortens the webhook deadline for a test and returns the
// function that restores it. Not for parallel tests.
func SetWebhookTimeoutForTest(d time.Duration) (restore func()) {
	old := webhookTimeout
	webhookTimeout = d
	return func() { webhookTimeout = old }
}
