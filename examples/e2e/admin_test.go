package e2e_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// staffSignIn opens the staff console, signs in as a demo operator and waits for the
// page's first lists.
func (b *browser) staffSignIn(base, operator string) {
	b.t.Helper()
	b.do("sign in to the staff console as "+operator,
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(css("#login-"+operator)),
		chromedp.Click(css("#login-"+operator)),
		chromedp.WaitVisible(css("#charge-search")),
		chromedp.WaitEnabled(css("#search-submit")),
	)
}

// refundInConsole refunds amount ("" = all that is left) of the charge the console shows
// and waits for the charge's refunded total to read wantRefunded.
func (b *browser) refundInConsole(amount, wantRefunded string) {
	b.t.Helper()
	b.do("refund "+amount+" in the console",
		chromedp.WaitEnabled(css("#refund-submit")),
		chromedp.SetValue(css("#refund-amount"), amount),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('message').setAttribute('data-code', '')`),
		chromedp.Click(css("#refund-submit")),
		chromedp.WaitVisible(css(`#message[data-code="refunded"]`)),
		chromedp.WaitVisible(css(`#charge-detail[data-refunded="`+wantRefunded+`"]`)),
		chromedp.WaitEnabled(css("#search-submit")),
	)
}

// flowAdminRefund: a customer pays; a member of staff finds the customer in the console,
// opens the charge, refunds part of it and then the rest, and the customer's history shows
// the refund and then the charge cancelled.
func flowAdminRefund(t *testing.T, chromium, example string) {
	skipUnderRace(t)
	srv := startExample(t, example)
	b := newBrowser(t, chromium)
	b.login(srv.URL, "alice")
	b.registerForPlanPC("basic", iamporttest.CardOK, "issued_paid")

	b.staffSignIn(srv.URL, "dana")
	row := `#admin-charges tbody tr[data-user="alice"][data-status="paid"]`
	b.do("find alice's charge",
		chromedp.SetValue(css("#search-user"), "alice"),
		chromedp.Click(css("#search-submit")),
		chromedp.WaitVisible(css(row)),
		chromedp.WaitEnabled(css(row+" button.open")),
		chromedp.Click(css(row+" button.open")),
		chromedp.WaitVisible(css(`#charge-detail[data-status="paid"]`)),
	)
	assert.Contains(t, b.text("#detail-facts"), "9,900원")
	assert.Contains(t, b.text("#detail-history"), "paid", "the history names the payment")

	b.refundInConsole("4000", "4000")
	assert.Equal(t, "paid", attr(b, "#charge-detail", "data-status"), "a partial refund keeps the charge paid")
	assert.Equal(t, 1, eval[int](b, `document.querySelectorAll('#detail-refunds tbody tr[data-status="succeeded"]').length`))
	assert.Contains(t, b.text("#detail-refunds tbody tr"), "dana", "the refund names its operator")
	assert.Contains(t, b.text("#detail-refunds tbody tr"), "4,000원")

	b.refundInConsole("", "9900")
	assert.Equal(t, "cancelled", attr(b, "#charge-detail", "data-status"), "refunded in full")
	assert.Equal(t, 2, eval[int](b, `document.querySelectorAll('#detail-refunds tbody tr[data-status="succeeded"]').length`))
	assert.True(t, eval[bool](b, `document.getElementById('refund-submit').hidden`), "nothing is left to refund")
	b.screenshot(shotName(t, "-console"))

	b.do("the customer's history", chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css(`#charges tbody tr[data-status="cancelled"]`)))
	assert.Contains(t, b.text(`#charges tbody tr[data-status="cancelled"]`), "9,900원")
	b.screenshot(shotName(t, ""))
	noConsoleErrors(t, b, srv.URL)
}
