package iamport

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAPIErrorText(t *testing.T) {
	e := &APIError{HTTPStatus: 200, Code: 1, Message: "등록되지 않은 구매자입니다.", Method: "POST", Endpoint: epAgain}
	assert.Equal(t, "iamport: POST /subscribe/payments/again: HTTP 200 code 1: 등록되지 않은 구매자입니다.", e.Error())
	e = &APIError{HTTPStatus: 404, Code: -1, Method: "GET", Endpoint: epPayment}
	assert.Equal(t, "iamport: GET /payments/{imp_uid}: HTTP 404 code -1", e.Error())
}

func TestAPIErrorIs(t *testing.T) {
	notFoundMsg := "요청하신 customer_uid(cu_…)로 등록된 정보를 찾을 수 없습니다."
	cases := []struct {
		name         string
		err          *APIError
		notFound     bool
		customerGone bool
		unauthorized bool
	}{
		{"404 lookup", &APIError{HTTPStatus: 404, Code: -1, Method: "GET", Endpoint: epCustomer}, true, true, false},
		{"404 delete", &APIError{HTTPStatus: 404, Method: "DELETE", Endpoint: epCustomer}, true, true, false},
		{"200 code 1 customer lookup", &APIError{HTTPStatus: 200, Code: 1, Message: notFoundMsg, Method: "GET", Endpoint: epCustomer}, true, true, false},
		{"200 code 1 customer delete", &APIError{HTTPStatus: 200, Code: 1, Message: notFoundMsg, Method: "DELETE", Endpoint: epCustomer}, true, true, false},
		{"200 code -1 payment lookup", &APIError{HTTPStatus: 200, Code: -1, Message: "존재하지 않는 결제정보입니다.", Method: "GET", Endpoint: epPayment}, true, false, false},
		{"404 payment lookup", &APIError{HTTPStatus: 404, Code: -1, Method: "GET", Endpoint: epPayment}, true, false, false},
		{"200 code 1 other message", &APIError{HTTPStatus: 200, Code: 1, Message: "권한이 없습니다.", Method: "GET", Endpoint: epCustomer}, false, false, false},
		{"again: unknown customer", &APIError{HTTPStatus: 200, Code: 1, Message: "등록되지 않은 구매자입니다.", Method: "POST", Endpoint: epAgain}, false, true, false},
		{"again: unknown customer, code -1", &APIError{HTTPStatus: 200, Code: -1, Message: "등록되지 않은 구매자입니다.", Method: "POST", Endpoint: epAgain}, false, true, false},
		{"schedule: no customer info", &APIError{HTTPStatus: 200, Code: 1, Message: "등록된 고객정보가 없습니다.", Method: "POST", Endpoint: epSchedule}, false, true, false},
		{"again: code -1, try later", &APIError{HTTPStatus: 200, Code: -1, Message: "일시적인 오류입니다. 잠시 후 다시 시도해주세요.", Method: "POST", Endpoint: epAgain}, false, false, false},
		{"again: duplicate merchant_uid", &APIError{HTTPStatus: 200, Code: -1, Message: "이미 주문이 이루어진 건입니다.", Method: "POST", Endpoint: epAgain}, false, false, false},
		{"again: 404 page", &APIError{HTTPStatus: 404, Method: "POST", Endpoint: epAgain}, true, false, false},
		{"again: 5xx worded like unknown customer", &APIError{HTTPStatus: 502, Code: 1, Message: "등록되지 않은 구매자입니다.", Method: "POST", Endpoint: epAgain}, false, false, false},
		{"cancel: unknown customer wording elsewhere", &APIError{HTTPStatus: 200, Code: 1, Message: "등록되지 않은 구매자입니다.", Method: "POST", Endpoint: epCancel}, false, false, false},
		{"code 0 message never not-found", &APIError{HTTPStatus: 200, Code: 0, Message: notFoundMsg, Method: "GET", Endpoint: epCustomer}, false, false, false},
		{"5xx worded like not-found", &APIError{HTTPStatus: 503, Code: -1, Message: "존재하지 않는 결제정보입니다.", Method: "GET", Endpoint: epPayment}, false, false, false},
		{"5xx customer lookup", &APIError{HTTPStatus: 503, Code: 1, Message: notFoundMsg, Method: "GET", Endpoint: epCustomer}, false, false, false},
		{"401", &APIError{HTTPStatus: 401, Code: -1, Method: "GET", Endpoint: epPayment}, false, false, true},
		{"400", &APIError{HTTPStatus: 400, Method: "GET", Endpoint: epFindAll}, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wrapped := fmt.Errorf("wrapped: %w", tc.err)
			assert.Equal(t, tc.notFound, errors.Is(wrapped, ErrNotFound), "ErrNotFound")
			assert.Equal(t, tc.customerGone, errors.Is(wrapped, ErrCustomerNotFound), "ErrCustomerNotFound")
			assert.Equal(t, tc.unauthorized, errors.Is(wrapped, ErrUnauthorized), "ErrUnauthorized")
			assert.False(t, errors.Is(wrapped, ErrOutcomeUnknown))
			assert.False(t, errors.Is(wrapped, ErrNotSent))
		})
	}
}

func TestErrorClasses(t *testing.T) {
	declined := &DeclinedError{Payment: &Payment{Status: StatusFailed}, FailReason: "한도초과"}
	assert.ErrorIs(t, declined, ErrDeclined)
	assert.NotErrorIs(t, declined, ErrOutcomeUnknown)
	assert.Equal(t, "iamport: payment declined: 한도초과", declined.Error())

	v := &ValidationError{Field: "customer_uid", Reason: "required"}
	assert.ErrorIs(t, v, ErrInvalidInput)
	assert.ErrorIs(t, v, ErrNotSent)
	assert.NotErrorIs(t, v, ErrOutcomeUnknown)
	assert.Equal(t, "iamport: invalid customer_uid: required", v.Error())

	sent := &TransportError{Method: "POST", Endpoint: epAgain, Sent: true, Err: context.DeadlineExceeded}
	assert.ErrorIs(t, sent, ErrOutcomeUnknown)
	assert.NotErrorIs(t, sent, ErrNotSent)
	assert.ErrorIs(t, sent, context.DeadlineExceeded)
	assert.Equal(t, "iamport: POST /subscribe/payments/again: outcome unknown: context deadline exceeded", sent.Error())

	notSent := &TransportError{Method: "POST", Endpoint: epAgain, Sent: false, Err: errors.New("dial tcp: refused")}
	assert.ErrorIs(t, notSent, ErrNotSent)
	assert.NotErrorIs(t, notSent, ErrOutcomeUnknown)

	fiveXX := &TransportError{Method: "POST", Endpoint: epAgain, Sent: true, Err: &APIError{HTTPStatus: 502, Method: "POST", Endpoint: epAgain}}
	var ae *APIError
	assert.ErrorAs(t, fiveXX, &ae)
	assert.Equal(t, 502, ae.HTTPStatus)
	assert.ErrorIs(t, fiveXX, ErrOutcomeUnknown)

	mm := &MismatchError{Endpoint: epAgain, Reason: "status \"ready\""}
	assert.ErrorIs(t, mm, ErrOutcomeUnknown)
	assert.NotErrorIs(t, mm, ErrDeclined)

	// A token failure on behalf of a request: not sent, even if getToken's own exchange
	// ended in an unknown outcome; a 401 stays visible.
	tokSent := &TransportError{Method: "POST", Endpoint: epAgain, Sent: false,
		Err: &tokenError{err: &TransportError{Method: "POST", Endpoint: tokenEndpoint, Sent: true, Err: errors.New("reset")}}}
	assert.ErrorIs(t, tokSent, ErrNotSent)
	assert.NotErrorIs(t, tokSent, ErrOutcomeUnknown)
	tok401 := &TransportError{Method: "POST", Endpoint: epAgain, Sent: false,
		Err: &tokenError{err: &APIError{HTTPStatus: 401, Method: "POST", Endpoint: tokenEndpoint}}}
	assert.ErrorIs(t, tok401, ErrUnauthorized)
	assert.ErrorIs(t, tok401, ErrNotSent)

	// Nil receivers must not panic.
	var nilAPI *APIError
	var nilT *TransportError
	var nilD *DeclinedError
	var nilV *ValidationError
	var nilM *MismatchError
	assert.NotPanics(t, func() {
		_ = nilAPI.Error() + nilT.Error() + nilD.Error() + nilV.Error() + nilM.Error()
		_ = nilAPI.Is(ErrNotFound) || nilT.Is(ErrNotSent)
		_ = nilT.Unwrap()
	})
}

func TestMaskID(t *testing.T) {
	assert.Equal(t, "cust…", MaskID("customer_0123456789"))
	assert.Equal(t, "ab…", MaskID("abcd"))
	assert.Equal(t, "…", MaskID("a"))
	assert.Equal(t, "…", MaskID(""))
	assert.Equal(t, "고객…", MaskID("고객번호"))
}

func TestCleanMessage(t *testing.T) {
	msg := cleanMessage("요청하신 customer_uid(cu_secret_123456)로 등록된 정보를 찾을 수 없습니다.", "cu_secret_123456")
	assert.NotContains(t, msg, "cu_secret_123456")
	assert.Contains(t, msg, "cu_s…")
	long := cleanMessage(string(make([]byte, 2000)), "")
	assert.LessOrEqual(t, len(long), maxMessageLen+len("…"))
	assert.Equal(t, "a\uFFFDb", cleanMessage("a\xffb", ""))
}
