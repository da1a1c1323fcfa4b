package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

// The catalogue every instance of these tests serves: a monthly plan, a weekly one and a
// monthly one after a two-week trial, each in a group of its own.
var plans = []core.Plan{
	{ID: "monthly", Name: "Monthly", Amount: 9900, Every: core.Period{Months: 1}, Group: "monthly"},
	{ID: "weekly", Name: "Weekly", Amount: 3000, Every: core.Period{Days: 7}, Group: "weekly"},
	{ID: "trial", Name: "Monthly after a trial", Amount: 12000, Every: core.Period{Months: 1}, Trial: core.Period{Days: 14}, Group: "trial"},
}

func planByID(id string) core.Plan {
	for _, p := range plans {
		if p.ID == id {
			return p
		}
	}
	panic("chaos: no plan " + id)
}

// reconcileAfter is the shortest core accepts: an attempt's calls get 5 s of it.
const reconcileAfter = 10 * time.Second

// kst is where the periods are counted (core's default location, UTC+9).
var kst = time.FixedZone("KST", 9*60*60)

// serviceConfig is the configuration of every instance; only the clock, the instance id
// and the connections differ.
func serviceConfig(client *iamport.Client, st store.Store, now func() time.Time, instance string) core.Config {
	return core.Config{
		MerchantCode:   iamporttest.MerchantCode,
		Client:         client,
		Store:          st,
		Company:        "Chaos shop",
		Plans:          plans,
		PublicURL:      "https://shop.example.com/billing",
		CallbackURL:    "https://shop.example.com/iamport",
		SuccessURL:     "/subscribed",
		FailureURL:     "/subscribe-failed",
		Now:            now,
		ReconcileAfter: reconcileAfter,
		InstanceID:     instance,
	}
}

// registerCard gives user a billing key through the PC flow: prepare, the window (the
// fake's IssueBillingKey), complete.
func registerCard(ctx context.Context, svc *core.Service, fake *iamporttest.Fake, user, card string) error {
	req, err := svc.PrepareIssuance(ctx, core.Buyer{UserID: user, Name: "Kim"}, "")
	if err != nil {
		return fmt.Errorf("prepare %s: %w", user, err)
	}
	p := req.Params
	res, err := fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: p.PG, PayMethod: p.PayMethod, MerchantUID: p.MerchantUID, CustomerUID: p.CustomerUID,
		Name: p.Name, Amount: p.Amount, BuyerName: p.BuyerName, NoticeURL: p.NoticeURL,
		MRedirectURL: p.MRedirectURL, CardNumber: card,
	})
	if err != nil {
		return err
	}
	if res.Payment == nil {
		return fmt.Errorf("issue %s: the window refused the card", user)
	}
	out, err := svc.CompleteIssuance(ctx, user, core.CompleteInput{
		MerchantUID: p.MerchantUID, ImpUID: res.Payment.ImpUID, Source: core.SourceCallback,
	})
	if err != nil {
		return fmt.Errorf("complete %s: %w", user, err)
	}
	if out.Status != "issued" {
		return fmt.Errorf("complete %s: %s", user, out.Status)
	}
	return nil
}
