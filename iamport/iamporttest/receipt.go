package iamporttest

import (
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// receiptURL is where the fake serves the sales slip of a payment: absolute under base, or
// a path when base is unknown.
func receiptURL(base, impUID string) string {
	return base + "/receipts/" + url.PathEscape(impUID)
}

var receiptPage = template.Must(template.New("receipt").Parse(`<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>매출전표 {{.ImpUID}}</title></head>
<body><h1>매출전표 (iamporttest)</h1>
<table>
<tr><th>imp_uid</th><td>{{.ImpUID}}</td></tr>
<tr><th>merchant_uid</th><td>{{.MerchantUID}}</td></tr>
<tr><th>name</th><td>{{.Name}}</td></tr>
<tr><th>amount</th><td>{{.Amount}} {{.Currency}}</td></tr>
<tr><th>cancel_amount</th><td>{{.CancelAmount}}</td></tr>
<tr><th>status</th><td>{{.Status}}</td></tr>
<tr><th>card</th><td>{{.CardName}} {{.CardNumber}}</td></tr>
<tr><th>apply_num</th><td>{{.ApplyNum}}</td></tr>
<tr><th>paid_at</th><td>{{.PaidAt}}</td></tr>
</table></body></html>
`))

// serveReceipt serves GET /receipts/{imp_uid}, the page receipt_url points to.
func (f *Fake) serveReceipt(w http.ResponseWriter, r *http.Request, impUID string) {
	p, found := f.Payment(impUID)
	if !found {
		http.NotFound(w, r)
		return
	}
	paidAt := ""
	if p.PaidAt != 0 {
		paidAt = time.Unix(int64(p.PaidAt), 0).UTC().Format(time.RFC3339)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = receiptPage.Execute(w, map[string]any{
		"ImpUID": p.ImpUID, "MerchantUID": p.MerchantUID, "Name": p.Name, "Amount": p.Amount,
		"Currency": p.Currency, "CancelAmount": p.CancelAmount, "Status": p.Status,
		"CardName": p.CardName, "CardNumber": p.CardNumber, "ApplyNum": p.ApplyNum, "PaidAt": paidAt,
	})
}
