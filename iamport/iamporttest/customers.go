package iamporttest

import (
	"fmt"
	"net/http"
)

// customerNotFound answers an unknown customer_uid: HTTP 404 (the spec) or, with
// WithLegacyNotFound, HTTP 200 and code 1 as older accounts were observed to answer.
func (f *Fake) customerNotFound(customerUID string) apiReply {
	msg := fmt.Sprintf("요청하신 customer_uid(%s)로 등록된 정보를 찾을 수 없습니다.", customerUID)
	f.mu.Lock()
	legacy := f.legacyNotFound
	f.mu.Unlock()
	if legacy {
		return failReply(http.StatusOK, 1, msg)
	}
	return failReply(http.StatusNotFound, 1, msg)
}

// handleGetCustomer serves GET /subscribe/customers/{customer_uid}.
func (f *Fake) handleGetCustomer(a *apiRequest) apiReply {
	uid := a.ids[0]
	f.mu.Lock()
	rec, found := f.customers[uid]
	var c customer
	if found {
		c = f.answerCustomerLocked(rec)
	}
	f.mu.Unlock()
	if !found {
		return f.customerNotFound(uid)
	}
	return okReply(c)
}

// handleDeleteCustomer serves DELETE /subscribe/customers/{customer_uid}?reason=…: the key
// is gone for good and the deleted Customer is returned. Schedules are left as they are
// (iamport warns to revoke them first); a schedule whose key is gone fails when it runs.
func (f *Fake) handleDeleteCustomer(a *apiRequest) apiReply {
	uid := a.ids[0]
	f.mu.Lock()
	rec, found := f.customers[uid]
	var c customer
	if found {
		c = f.answerCustomerLocked(rec)
		delete(f.customers, uid)
	}
	f.mu.Unlock()
	if !found {
		return f.customerNotFound(uid)
	}
	f.changed()
	return okReply(c)
}
