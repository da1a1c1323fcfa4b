package demo

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// scrape reads one sample of the Prometheus text at base+MetricsPath: the value of the
// first series whose name and labels match series (a regexp over `name{labels}`), or -1.
func scrape(t *testing.T, base, series string) float64 {
	t.Helper()
	res, err := http.Get(base + MetricsPath)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + series + ` ([0-9.e+-]+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// A charge made through the example shows in /metrics: counted by result, with the
// `again` call timed.
func TestMetricsCountACharge(t *testing.T) {
	app, base := serveTestAppOut(t, io.Discard)
	paid := `billkey_charges_total\{[^}]*result="paid"[^}]*\}`
	again := `billkey_iamport_duration_seconds_count\{[^}]*endpoint="again"[^}]*\}`
	require.LessOrEqual(t, scrape(t, base, paid), 0.0, "nothing paid yet")

	mobileWindow(t, app, base, "basic", iamporttest.CardOK)
	// The first month may still be charging (the webhook's side) when the browser is back.
	require.Eventually(t, func() bool { return scrape(t, base, paid) >= 1 }, 20*time.Second, 20*time.Millisecond,
		"the first month's charge is counted")
	require.Equal(t, 1.0, scrape(t, base, paid), "counted once")
	require.Equal(t, 1.0, scrape(t, base, again), "one `again` call, timed")
}
