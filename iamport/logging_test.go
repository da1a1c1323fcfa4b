package iamport

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLogged (R13): a run through every endpoint and error class, with a
// debug-level logger, leaves no secret, token, Authorization header or full customer_uid
// in the log or in any error text.
func TestSecretsNeverLogged(t *testing.T) {
	const customerUID = "cu_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/subscribe/customers/"):
			writeEnv(w, 200, 1, "요청하신 customer_uid("+customerUID+")로 등록된 정보를 찾을 수 없습니다.", nil)
		case r.URL.Path == epAgain:
			writeEnv(w, 200, 1, "등록되지 않은 구매자입니다. customer_uid="+customerUID, nil)
		case r.URL.Path == epSchedule:
			writeEnv(w, 502, 1, "upstream "+customerUID, nil)
		default:
			writeEnv(w, 503, -1, "busy", nil)
		}
	})
	var logBuf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newStubClient(t, s, func(cfg *Config) { cfg.Logger = logger })
	ctx := context.Background()

	var errs []error
	add := func(_ any, err error) { errs = append(errs, err) }
	add(c.GetCustomer(ctx, customerUID))
	add(c.DeleteCustomer(ctx, customerUID, "bye"))
	req := validAgain()
	req.CustomerUID = customerUID
	add(c.Again(ctx, req))
	add(c.Schedule(ctx, ScheduleRequest{CustomerUID: customerUID, Schedules: []ScheduleEntry{{MerchantUID: "s", ScheduleAt: 1, Amount: 1, Name: "n"}}}))
	add(c.Unschedule(ctx, UnscheduleRequest{CustomerUID: customerUID}))
	add(c.GetPayment(ctx, "imp_1", true))
	s.rotate() // a 401 and a refresh, logged too
	add(c.GetCustomer(ctx, customerUID))

	// Transport failures whose raw net/http errors would carry the full URL.
	s.srv.CloseClientConnections()
	s.srv.Close()
	add(c.GetCustomer(ctx, customerUID))
	add(c.Again(ctx, req))

	badCreds := newStubClient(t, newStub(t, nil), func(cfg *Config) { cfg.Logger = logger; cfg.Secret = "another_secret_value" })
	add(badCreds.GetCustomer(ctx, customerUID))

	logs := logBuf.String()
	require.NotEmpty(t, logs)
	var all strings.Builder
	all.WriteString(logs)
	for _, err := range errs {
		require.Error(t, err)
		all.WriteString(err.Error())
		all.WriteByte('\n')
	}
	text := all.String()
	for _, secret := range []string{stubSecret, "another_secret_value", "tok_1_secret_value", "tok_2_secret_value", "Bearer", "Authorization", "imp_secret", customerUID, "/subscribe/customers/cu_"} {
		assert.NotContains(t, text, secret)
	}
	assert.Contains(t, text, MaskID(customerUID), "the echoed customer_uid is masked, not dropped")

	// One line per attempt, with the fields promised.
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		assert.Equal(t, "iamport request", rec["msg"])
		for _, k := range []string{"method", "endpoint", "status", "duration", "attempt"} {
			assert.Contains(t, rec, k)
		}
	}
	assert.Contains(t, logs, `"endpoint":"/subscribe/customers/{customer_uid}"`)
}

func TestSilentWithoutLogger(t *testing.T) {
	s := newStub(t, okPayment)
	c := newStubClient(t, s)
	assert.Nil(t, c.log)
	_, err := c.GetPayment(context.Background(), "imp_1", false)
	require.NoError(t, err)
}
