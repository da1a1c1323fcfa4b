package core

import (
	"context"
	"errors"
	"log/slog"

	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// defaultOrderName is the order name of an issuance without a plan.
func (s *Service) defaultOrderName() string {
	if s.cfg.Company == "" {
		return "정기결제 카드 등록"
	}
	return cleanText(s.cfg.Company+" 정기결제 카드 등록", idrule.OrderName.Max)
}

// PrepareIssuance returns what the page passes to IMP.init and IMP.request_pay for a
// pending issuance of buyer: a fresh merchant_uid and a fresh random customer_uid bound
// to buyer.UserID, expiring after Config.IssuanceTTL. With a planID, the plan's price is
// shown in the window and charged once the key is issued. Asked again while the user's
// pending issuance for the same plan has more than half its time left, it answers that
// one again rather than writing a row per request (a page reloaded, or opened by a
// cross-site navigation, cannot fill the store).
//
// Errors: codes.Unauthenticated (empty user id), codes.InvalidRequest (malformed user id),
// codes.PlanUnknown, codes.Internal (store failure).
func (s *Service) PrepareIssuance(ctx context.Context, buyer Buyer, planID string) (*IssuanceRequest, error) {
	if e := checkUserID(buyer.UserID); e != nil {
		return nil, e
	}
	var plan Plan
	if planID != "" {
		p, ok := s.plans[planID]
		if !ok {
			return nil, errPlanUnknown()
		}
		plan = p
	}
	is, err := s.openIssuanceFor(ctx, buyer.UserID, plan)
	if err != nil {
		return nil, err
	}
	return s.issuanceRequest(is, plan, buyer), nil
}

// openIssuanceFor returns the user's pending issuance for plan with more than half its
// time left and the plan's current price, or creates one.
func (s *Service) openIssuanceFor(ctx context.Context, userID string, plan Plan) (*store.Issuance, error) {
	now := s.now()
	is, err := s.store.PendingIssuance(ctx, userID, plan.ID, now.Add(s.cfg.IssuanceTTL/2))
	switch {
	case err == nil && is.Amount == plan.Amount:
		return is, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, s.storeErr(ctx, "pending issuance", err)
	}
	is = &store.Issuance{
		UserID:    userID,
		PlanID:    plan.ID,
		Amount:    plan.Amount,
		Status:    store.IssuancePending,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.IssuanceTTL),
		UpdatedAt: now,
	}
	for attempt := 0; ; attempt++ {
		is.MerchantUID = newMerchantUID(prefixIssuance, now)
		is.CustomerUID = newCustomerUID()
		err := s.store.CreateIssuance(ctx, is)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrDuplicate) && attempt < 3 {
			continue // a collision of 82 (or 128) random bits: try fresh ones
		}
		return nil, s.storeErr(ctx, "create issuance", err)
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "billkey: issuance prepared",
		slog.String("merchant_uid", is.MerchantUID),
		slog.String("customer_uid", maskCustomerUID(is.CustomerUID)),
		slog.String("plan", plan.ID))
	return is, nil
}

// issuanceRequest builds the page data of an issuance.
func (s *Service) issuanceRequest(is *store.Issuance, plan Plan, buyer Buyer) *IssuanceRequest {
	name := plan.Name
	if name == "" {
		name = s.defaultOrderName()
	}
	params := RequestPayParams{
		PG:           s.cfg.PG,
		PayMethod:    "card",
		MerchantUID:  is.MerchantUID,
		Name:         name,
		Amount:       is.Amount,
		CustomerUID:  is.CustomerUID,
		BuyerName:    cleanText(buyer.Name, idrule.BuyerName.Max),
		BuyerEmail:   fitOrDrop(buyer.Email, idrule.BuyerEmail.Max),
		BuyerTel:     fitOrDrop(buyer.Tel, idrule.BuyerTel.Max),
		MRedirectURL: s.redirectURL,
		NoticeURL:    s.cfg.NoticeURL,
		Company:      s.cfg.Company,
	}
	if s.cfg.SiteLogo != "" || s.cfg.BirthDayYN {
		params.Bypass = &Bypass{SiteLogo: s.cfg.SiteLogo}
		if s.cfg.BirthDayYN {
			params.Bypass.BatchBirthDayYN = "Y"
		}
	}
	return &IssuanceRequest{
		IMPCode:   s.cfg.MerchantCode,
		SDKURL:    s.cfg.SDKURL,
		Params:    params,
		ExpiresAt: is.ExpiresAt,
	}
}

// fitOrDrop cleans s and drops it when it is longer than max: a cut e-mail address or
// phone number would be wrong, not shorter.
func fitOrDrop(s string, max int) string {
	c := cleanText(s, 4*max)
	if len([]rune(c)) > max {
		return ""
	}
	return c
}
