package core_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/memstore"
)

// New validates the configuration once; PrepareIssuance then builds exactly what the
// page passes to IMP.init and IMP.request_pay.
func ExampleNew() {
	fake := iamporttest.NewServer() // stands in for api.iamport.kr
	defer fake.Close()

	svc, err := core.New(core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       fake.Client(), // iamport.New(iamport.Config{Key: ..., Secret: ...}) in production
		Store:        memstore.New(),
		Company:      "Example Shop",
		Plans:        []core.Plan{{ID: "basic-monthly", Name: "Basic monthly", Amount: 9900}},
		PublicURL:    "https://shop.example.com/billing",
		CallbackURL:  "https://shop.example.com/iamport",
		SuccessURL:   "/account/billing?done=1",
		FailureURL:   "/account/billing?failed=1",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req, err := svc.PrepareIssuance(context.Background(), core.Buyer{UserID: "user-42", Name: "홍길동"}, "basic-monthly")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.IMPCode, req.SDKURL)
	fmt.Println(req.Params.PG, req.Params.PayMethod, req.Params.Name, req.Params.Amount, req.Params.BuyerName)
	fmt.Println(req.Params.MRedirectURL)

	_, err = core.New(core.Config{MerchantCode: "12345", Client: fake.Client(), Store: memstore.New()})
	fmt.Println(err)
	// Output:
	// imp00000000 https://cdn.iamport.kr/v1/iamport.js
	// kcp_billing card Basic monthly 9900 홍길동
	// https://shop.example.com/iamport/return
	// billkey: config MerchantCode: must be 1 to 35 letters and digits, starting with "imp"
}

// Charging a user's billing key from Go code, e.g. a monthly renewal job. The amount
// comes from the plan catalogue; the idempotency key makes a rerun of the job harmless.
func ExampleService_Charge() {
	fake := iamporttest.NewServer()
	defer fake.Close()
	svc, err := core.New(core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       fake.Client(),
		Store:        memstore.New(),
		Plans:        []core.Plan{{ID: "basic-monthly", Name: "Basic monthly", Amount: 9900}},
		PublicURL:    "https://shop.example.com/billing",
		CallbackURL:  "https://shop.example.com/iamport",
		SuccessURL:   "/done",
		FailureURL:   "/failed",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	// The user registers a card in the payment window (played here by the fake).
	req, _ := svc.PrepareIssuance(ctx, core.Buyer{UserID: "user-42"}, "")
	win, _ := fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: req.Params.PG, MerchantUID: req.Params.MerchantUID, CustomerUID: req.Params.CustomerUID,
		Amount: req.Params.Amount, Name: req.Params.Name, CardNumber: iamporttest.CardOK,
	})
	issued, err := svc.CompleteIssuance(ctx, "user-42", core.CompleteInput{
		MerchantUID: req.Params.MerchantUID, ImpUID: win.Payment.ImpUID, Source: core.SourceCallback,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("key:", issued.Status)

	// The renewal job charges the plan once per user and month.
	charge := core.ChargeRequest{UserID: "user-42", PlanID: "basic-monthly", IdempotencyKey: "renewal-2026-03"}
	first, err := svc.Charge(ctx, charge)
	var e *core.Error
	switch {
	case errors.As(err, &e) && e.Code == codes.CardDeclined:
		fmt.Println("declined:", first.FailReason)
	case errors.As(err, &e) && e.Code == codes.ChargeInProgress:
		fmt.Println("outcome unknown; Reconcile will settle", first.MerchantUID)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println("charge:", first.Status, first.Amount, first.Name)
	}

	// Running the job again returns the same charge instead of charging twice.
	again, _ := svc.Charge(ctx, charge)
	fmt.Println("same charge:", again.MerchantUID == first.MerchantUID)
	fmt.Println("payments at iamport:", len(fake.PaymentsByMerchantUID(first.MerchantUID)))
	// Output:
	// key: issued
	// charge: paid 9900 Basic monthly
	// same charge: true
	// payments at iamport: 1
}
