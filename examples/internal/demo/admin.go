package demo

import (
	"net/http"
)

// The staff's side of the demo: a login of its own (Operators; its cookie is sent to
// AdminPath and below only, and is signed for another purpose than a customer's), and
// the admin page. The page is rendered here and its script (assets/admin.js) works
// through billkey's admin routes, which a wiring mounts under AdminAPIPrefix behind the
// staff login (OperatorFromRequest, OperatorFromCookie), as a merchant would behind its
// own admin login.

// OperatorFromRequest returns the member of staff signed in on r: the name billkey's
// operator hook gives, which every admin action is logged with.
func (a *App) OperatorFromRequest(r *http.Request) (string, bool) {
	u, ok := a.staff.userFromRequest(r)
	return u.ID, ok
}

// OperatorFromCookie is OperatorFromRequest for frameworks that hand out the value of the
// StaffCookie cookie rather than an *http.Request.
func (a *App) OperatorFromCookie(value string) (string, bool) {
	u, ok := a.staff.user(value)
	return u.ID, ok
}

// GET AdminPath: the admin page; staff sign in first.
func (a *App) adminPage(w http.ResponseWriter, r *http.Request) {
	op, ok := a.staff.userFromRequest(r)
	if !ok {
		seeOther(w, AdminPath+"/login")
		return
	}
	d := a.data("운영자 · Staff")
	d.Operator = &op
	d.Prefix = AdminAPIPrefix
	d.Users = Users
	d.Messages = messages
	d.Statuses = chargeStatusWords
	d.SubStatuses = subscriptionStatusWords
	d.RefundStatuses = refundStatusWords
	d.PlanInfo = a.planInfo()
	a.render(w, "admin.html.tmpl", http.StatusOK, d)
}

// GET AdminPath/login: pick a demo member of staff.
func (a *App) adminLoginPage(w http.ResponseWriter, r *http.Request) {
	d := a.data("운영자 로그인 · Staff sign-in")
	if op, ok := a.staff.userFromRequest(r); ok {
		d.Operator = &op
	}
	d.Users = Operators
	d.LoginAction = AdminPath + "/login"
	d.StaffLogin = true
	a.render(w, "login.html.tmpl", http.StatusOK, d)
}

// POST AdminPath/login: user=ID of an operator. Sets the staff cookie and goes to the
// admin page.
func (a *App) adminLogin(w http.ResponseWriter, r *http.Request) {
	a.signIn(w, r, a.staff, AdminPath)
}

// POST AdminPath/logout clears the staff cookie.
func (a *App) adminLogout(w http.ResponseWriter, r *http.Request) {
	a.signOut(w, r, a.staff, AdminPath+"/login")
}
