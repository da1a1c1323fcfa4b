package iamport_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
)

func ExampleNew() {
	// Key and Secret are required; New checks the configuration, not the network.
	_, err := iamport.New(iamport.Config{Key: "imp_apikey"})
	fmt.Println(err)

	client, err := iamport.New(iamport.Config{
		Key:    "imp_apikey",
		Secret: "your-rest-api-secret",
		// BaseURL defaults to https://api.iamport.kr; Timeout to 10s; MaxRetries to 3.
	})
	fmt.Println(client != nil, err)
	// Output:
	// iamport: config: Secret is required
	// true <nil>
}

func ExampleClient_Again() {
	// The fake iamport stands in for the real one; see package iamporttest.
	srv := iamporttest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	// Two billing keys, issued as the payment window would: one card pays, one is refused.
	_, _ = srv.IssueBillingKey(iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "issue_1", CustomerUID: "cust_ok", CardNumber: iamporttest.CardOK})
	_, _ = srv.IssueBillingKey(iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "issue_2", CustomerUID: "cust_declined", CardNumber: iamporttest.CardDeclined})
	srv.Inject(iamporttest.EPAgain, iamporttest.Fault{}, iamporttest.Fault{}, iamporttest.Fault{DropAfter: true})

	for _, req := range []iamport.AgainRequest{
		{CustomerUID: "cust_ok", MerchantUID: "order_1", Amount: 9900, Name: "월 구독"},
		{CustomerUID: "cust_declined", MerchantUID: "order_2", Amount: 9900, Name: "월 구독"},
		{CustomerUID: "cust_ok", MerchantUID: "order_3", Amount: 9900, Name: "월 구독"}, // the connection drops after the charge
	} {
		p, err := client.Again(ctx, req)
		var declined *iamport.DeclinedError
		switch {
		case err == nil:
			fmt.Println(req.MerchantUID, "paid", p.Amount)
		case errors.As(err, &declined):
			fmt.Println(req.MerchantUID, "declined:", declined.FailReason)
		case errors.Is(err, iamport.ErrOutcomeUnknown):
			// Never retry blindly: look the merchant_uid up first.
			found, lookErr := client.FindPayment(ctx, req.MerchantUID, iamport.StatusPaid)
			if lookErr == nil {
				fmt.Println(req.MerchantUID, "outcome unknown; lookup says", found.Status)
			}
		case errors.Is(err, iamport.ErrNotSent):
			fmt.Println(req.MerchantUID, "not sent; safe to retry")
		default:
			fmt.Println(req.MerchantUID, "failed:", err)
		}
	}
	// Output:
	// order_1 paid 9900
	// order_2 declined: [8012] 잔액부족 또는 한도초과로 승인이 거절되었습니다.
	// order_3 outcome unknown; lookup says paid
}

func ExampleClient_GetCustomer() {
	srv := iamporttest.NewServer()
	defer srv.Close()
	client := srv.Client()

	_, err := client.GetCustomer(context.Background(), "cust_never_issued")
	fmt.Println(errors.Is(err, iamport.ErrNotFound), errors.Is(err, iamport.ErrCustomerNotFound))

	_, err = client.GetCustomer(context.Background(), "bad/id")
	fmt.Println(errors.Is(err, iamport.ErrInvalidInput), err)
	// Output:
	// true true
	// true iamport: invalid customer_uid: must be 1 to 80 characters other than '/', '?', '#', '%', '\', spaces and control characters
}

// A server checks its credentials once at start and reports the token on its health page.
func ExampleClient_TokenState() {
	srv := iamporttest.NewServer()
	defer srv.Close()
	client := srv.Client()

	if _, err := client.Token(context.Background()); err != nil {
		fmt.Println("credentials refused:", err)
		return
	}
	st := client.TokenState()
	fmt.Println("valid:", st.Valid, "lifetime:", st.ExpiresAt.Sub(st.FetchedAt).Round(time.Minute), "last error:", st.LastError)
	// Output:
	// valid: true lifetime: 30m0s last error: <nil>
}
