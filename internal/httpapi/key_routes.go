package httpapi

import (
	"net/http"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/store"
)

// GET /billing-key
func (rt *router) getBillingKey(w Response, r Request) {
	const route = "GET " + PatternBillingKey
	b, ok := rt.buyer(w, r, route)
	if !ok {
		return
	}
	key, err := rt.s.BillingKey(routeContext(r), b.UserID)
	if err == nil && key == nil {
		err = store.ErrNotFound
	}
	if err != nil {
		rt.fail(w, r, route, keyMissing(err))
		return
	}
	writeJSONBody(w, http.StatusOK, key)
}

// DELETE /billing-key
func (rt *router) deleteBillingKey(w Response, r Request) {
	const route = "DELETE " + PatternBillingKey
	b, ok := rt.stateChanging(w, r, route)
	if !ok {
		return
	}
	if err := rt.s.DeleteBillingKey(routeContext(r), b.UserID); err != nil {
		rt.fail(w, r, route, keyMissing(err))
		return
	}
	writeNoContent(w)
}

// keyMissing turns a not_found on these routes into billing_key_missing: here the key is
// the resource.
func keyMissing(err error) error {
	if ProblemFor(err).Code == codes.NotFound {
		return &core.Error{Code: codes.BillingKeyMissing, Detail: "No billing key is registered.", Err: err}
	}
	return err
}
