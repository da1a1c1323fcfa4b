package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/billkey/billkey/core"
)

// Patterns of the admin routes, relative to the prefix the merchant mounts them under.
const (
	PatternAdminCharges       = "/charges"
	PatternAdminCharge        = "/charges/{merchant_uid}"
	PatternAdminRefunds       = "/charges/{merchant_uid}/refunds"
	PatternAdminReconcile     = "/charges/{merchant_uid}/reconcile"
	PatternAdminSubscriptions = "/subscriptions"
	PatternAdminNotifications = "/notifications"
	PatternAdminReapply       = "/notifications/{id}/reapply"
)

// AdminListLimit is how many rows a page of an admin listing holds at most (and by
// default).
const AdminListLimit = 100

// AdminRoutes returns the routes of the merchant's staff, to mount behind the merchant's
// own admin login under a prefix of its choosing on PublicURL's origin. Request.Buyer
// gives the operator (its UserID): none is 401. POST routes answer 403 to cross-site
// browser requests. Every action is logged with its operator.
//
//	GET  /charges[?user_id=&status=&from=&to=&merchant_uid=&imp_uid=&subscription_id=&cursor=&limit=]
//	                                   200 {"charges": [AdminCharge...], "next_cursor": C} (from/to RFC 3339)
//	GET  /charges/{merchant_uid}          200 ChargeRecord (history, refunds, notifications) | 404
//	POST /charges/{merchant_uid}/refunds  201 RefundView | 202 outcome unknown | 409/422/502 (JSON {"amount": N (0 = all that is left), "reason"}, Idempotency-Key header)
//	POST /charges/{merchant_uid}/reconcile 200 AdminCharge (looked up at iamport now; never charges)
//	GET  /subscriptions[?status=&user_id=&cursor=&limit=]  200 {"subscriptions": [AdminSubscription...], "next_cursor": C}
//	GET  /notifications[?merchant_uid=&cursor=&limit=]     200 {"notifications": [NotificationView...], "next_cursor": C}
//	POST /notifications/{id}/reapply      200 NotificationView (re-fetched and applied again)
func AdminRoutes(s *core.Service) []Route {
	rt := newRouter(s)
	return onlyTheirMethods([]Route{
		{Method: http.MethodGet, Pattern: PatternAdminCharges, Handle: rt.adminCharges},
		{Method: http.MethodGet, Pattern: PatternAdminCharge, Handle: rt.adminCharge},
		{Method: http.MethodPost, Pattern: PatternAdminRefunds, Handle: rt.adminRefund},
		{Method: http.MethodPost, Pattern: PatternAdminReconcile, Handle: rt.adminReconcile},
		{Method: http.MethodGet, Pattern: PatternAdminSubscriptions, Handle: rt.adminSubscriptions},
		{Method: http.MethodGet, Pattern: PatternAdminNotifications, Handle: rt.adminNotifications},
		{Method: http.MethodPost, Pattern: PatternAdminReapply, Handle: rt.adminReapply},
	})
}

// operator runs the checks of an admin route (same origin for a POST, then the operator
// hook) and logs who did what.
func (rt *router) operator(w Response, r Request, route string, post bool) (string, bool) {
	check := rt.buyer
	if post {
		check = rt.stateChanging
	}
	b, ok := check(w, r, route)
	if !ok {
		return "", false
	}
	if rt.env.logger != nil {
		rt.env.logger.LogAttrs(routeContext(r), slog.LevelInfo, "billkey: admin request",
			slog.String("route", route), slog.String("operator", cleanHint(b.UserID, 64)))
	}
	return b.UserID, true
}

// adminPage is the body of an admin listing.
type adminPage[T any] struct {
	Rows       []T
	NextCursor string
	name       string
}

// MarshalJSON writes {"<name>": [...], "next_cursor": "..."} with the rows never null.
func (p adminPage[T]) MarshalJSON() ([]byte, error) {
	rows := p.Rows
	if rows == nil {
		rows = []T{}
	}
	rowsJSON, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	out := []byte(`{"` + p.name + `":`)
	out = append(out, rowsJSON...)
	if p.NextCursor != "" {
		c, _ := json.Marshal(p.NextCursor)
		out = append(append(out, `,"next_cursor":`...), c...)
	}
	return append(out, '}'), nil
}

// GET /charges
func (rt *router) adminCharges(w Response, r Request) {
	const route = "GET admin " + PatternAdminCharges
	if _, ok := rt.operator(w, r, route, false); !ok {
		return
	}
	q := r.Query()
	cursor, limit, err := parsePageQuery(q, AdminListLimit)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	f := core.ChargeFilter{UserID: q.Get("user_id"), Status: core.ChargeStatus(q.Get("status")),
		MerchantUID: q.Get("merchant_uid"), ImpUID: q.Get("imp_uid"), SubscriptionID: q.Get("subscription_id"),
		Cursor: cursor, Limit: limit}
	if f.From, err = parseTimeQuery(q, "from"); err == nil {
		f.To, err = parseTimeQuery(q, "to")
	}
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	rows, next, err := rt.s.SearchCharges(routeContext(r), f)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, adminPage[core.AdminCharge]{Rows: rows, NextCursor: next, name: "charges"})
}

// parseTimeQuery reads an optional RFC 3339 time from the query.
func parseTimeQuery(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalidInput("Give "+name+" as an RFC 3339 time.", FieldError{Field: name, Reason: "invalid"})
	}
	return t, nil
}

// GET /charges/{merchant_uid}
func (rt *router) adminCharge(w Response, r Request) {
	const route = "GET admin " + PatternAdminCharge
	if _, ok := rt.operator(w, r, route, false); !ok {
		return
	}
	rec, err := rt.s.ChargeRecord(routeContext(r), r.PathValue("merchant_uid"))
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, rec)
}

// refundBody is the body of POST /charges/{merchant_uid}/refunds.
type refundBody struct {
	Amount int64  `json:"amount" validate:"gte=0"`
	Reason string `json:"reason" validate:"required,reason"`
}

// POST /charges/{merchant_uid}/refunds
func (rt *router) adminRefund(w Response, r Request) {
	const route = "POST admin " + PatternAdminRefunds
	op, ok := rt.operator(w, r, route, true)
	if !ok {
		return
	}
	key, err := parseIdempotencyKey(r.Header())
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	body, err := rt.readJSON(r)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	var rb refundBody
	if err := json.Unmarshal(body, &rb); err != nil {
		rt.fail(w, r, route, malformedInput(`The body must be a JSON object such as {"amount": 1000, "reason": "..."}.`))
		return
	}
	if err := validateStruct(rb); err != nil {
		rt.fail(w, r, route, err)
		return
	}
	v, err := rt.s.Refund(routeContext(r), core.RefundRequest{MerchantUID: r.PathValue("merchant_uid"),
		Amount: rb.Amount, Reason: rb.Reason, IdempotencyKey: key, Operator: op})
	switch {
	case err != nil:
		p := ProblemFor(err)
		p.MerchantUID = r.PathValue("merchant_uid")
		rt.failProblem(w, r, route, p, err)
	case v.Status == core.RefundSucceeded:
		writeJSONBody(w, http.StatusCreated, v)
	default:
		writeJSONBody(w, http.StatusAccepted, v)
	}
}

// POST /charges/{merchant_uid}/reconcile
func (rt *router) adminReconcile(w Response, r Request) {
	const route = "POST admin " + PatternAdminReconcile
	op, ok := rt.operator(w, r, route, true)
	if !ok {
		return
	}
	v, err := rt.s.ReconcileCharge(routeContext(r), op, r.PathValue("merchant_uid"))
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, v)
}

// GET /subscriptions
func (rt *router) adminSubscriptions(w Response, r Request) {
	const route = "GET admin " + PatternAdminSubscriptions
	if _, ok := rt.operator(w, r, route, false); !ok {
		return
	}
	q := r.Query()
	cursor, limit, err := parsePageQuery(q, AdminListLimit)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	rows, next, err := rt.s.SearchSubscriptions(routeContext(r), core.SubscriptionFilter{UserID: q.Get("user_id"),
		Status: core.SubscriptionStatus(q.Get("status")), Cursor: cursor, Limit: limit})
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, adminPage[core.AdminSubscription]{Rows: rows, NextCursor: next, name: "subscriptions"})
}

// GET /notifications
func (rt *router) adminNotifications(w Response, r Request) {
	const route = "GET admin " + PatternAdminNotifications
	if _, ok := rt.operator(w, r, route, false); !ok {
		return
	}
	q := r.Query()
	cursor, limit, err := parsePageQuery(q, AdminListLimit)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	rows, next, err := rt.s.Notifications(routeContext(r), q.Get("merchant_uid"), cursor, limit)
	if err != nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, adminPage[core.NotificationView]{Rows: rows, NextCursor: next, name: "notifications"})
}

// POST /notifications/{id}/reapply
func (rt *router) adminReapply(w Response, r Request) {
	const route = "POST admin " + PatternAdminReapply
	op, ok := rt.operator(w, r, route, true)
	if !ok {
		return
	}
	v, err := rt.s.ReapplyNotification(routeContext(r), op, r.PathValue("id"))
	if err != nil && v == nil {
		rt.fail(w, r, route, err)
		return
	}
	writeJSONBody(w, http.StatusOK, v)
}
