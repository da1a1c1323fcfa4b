package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-playground/validator/v10"

	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/internal/idrule"
	"github.com/billkey/billkey/store"
)

// Buyer is the signed-in customer the merchant's hook returns. UserID is required.
type Buyer struct {
	UserID string
	Name   string // optional, shown in the window (iamport keeps at most 16 characters)
	Email  string // optional
	Tel    string // optional
}

// Plan is a price the server owns: what a request says about amounts changes nothing
// (docs/guarantees.md, R1). A plan with a billing period (Every) is a subscription plan:
// the user is charged Amount every period until the subscription ends; without one it is
// a one-off price. Changing Amount in the configuration applies to renewals from then on,
// never to a period already charged.
type Plan struct {
	ID     string // e.g. "basic-monthly": letters, digits, '.', '_', '-'
	Name   string // order name sent to iamport, at most 40 characters
	Amount int64  // KRW, > 0
	Every  Period // the billing period; zero for a one-off price
	Trial  Period // a free trial before the first charge; zero for none
	// Group gathers plans a user may hold one live subscription of (a basic and a pro
	// tier of one service). Plans with no Group share the group "". See
	// SubscriptionPolicy.SeveralPerGroup.
	Group string
}

// SubscriptionPolicy is how subscriptions renew, retry and end. The zero value is the
// default of every field.
type SubscriptionPolicy struct {
	// Location is where billing periods are counted (month ends, days): default
	// Asia/Seoul (UTC+9).
	Location *time.Location
	// Retries are when a failed renewal is charged again, counted from when it was due
	// (dunning); default after 1, 3 and 5 days. A customer who registers a new card is
	// charged again at once.
	Retries []time.Duration
	// KeepPastDue keeps a subscription past_due after its last retry failed (until a new
	// card pays it, or it is cancelled); by default it ends.
	KeepPastDue bool
	// LockPastDue ends a past_due customer's entitlement at the end of the period paid
	// for; by default it lasts until the last retry.
	LockPastDue bool
	// Notice is how long before a trial ends or a renewal is charged the customer is told
	// (events subscription.trial_ending and subscription.renewal_upcoming), as Korean
	// merchants must before a paid conversion or a price change; default 3 days, negative
	// for none.
	Notice time.Duration
	// Grace is how late a renewal may run (the process was down) and still keep its
	// period; a renewal later than that starts its period when it is charged, so a
	// customer never pays for time that passed while nothing could be billed. Default 3
	// days. Either way one renewal is charged once: never several periods at once.
	Grace time.Duration
	// SeveralPerGroup lets a user hold several live subscriptions of one plan group; by
	// default a second is refused with codes.SubscriptionExists.
	SeveralPerGroup bool
}

// Config configures a Service. New validates all of it and reports the first problem as
// a *ConfigError; nothing is checked later at request time.
type Config struct {
	MerchantCode string          // "imp12345678", public, passed to IMP.init; required
	Client       *iamport.Client // required
	Store        store.Store     // required: sqlstore, memstore, or your own
	// PG is the request_pay pg: "kcp_billing" (the default) or "kcp_billing.{site code}"
	// when the account has several KCP channels.
	PG string
	// SDKURL is the script the page loads: an absolute https URL (default
	// https://cdn.iamport.kr/v1/iamport.js), a path on the merchant's own origin, or an
	// http URL on a loopback host (a local fake of iamport).
	SDKURL     string
	Company    string // shown in the KCP window
	SiteLogo   string // bypass.site_logo: an absolute https URL (PC only)
	BirthDayYN bool   // bypass.batch_birth_day_yn = "Y"
	Plans      []Plan // the plan catalogue
	// PublicURL is the absolute URL of the prefix the customer's routes are mounted under
	// (behind the merchant's login), e.g. "https://shop.example.com/billing". Its origin
	// is trusted by the cross-site check. Required.
	PublicURL string
	// CallbackURL is the absolute URL of the prefix the routes iamport and a returning
	// browser call are mounted under, outside the merchant's login, e.g.
	// "https://shop.example.com/iamport": the webhook at CallbackURL+"/webhook" and the
	// mobile return at CallbackURL+"/return" (sent as m_redirect_url; card apps often
	// bring the customer back in another browser, without a session). Required.
	CallbackURL string
	// NoticeURL is the absolute webhook URL sent as notice_url; "" sends none, so iamport
	// calls the URL set in its console. Usually CallbackURL+"/webhook".
	NoticeURL string
	// SuccessURL and FailureURL are where the mobile return sends the browser (absolute on
	// PublicURL's origin, or a path on it), with a "result" query parameter added:
	// SuccessURL gets "issued", or "charge_in_progress" when the card is registered and a
	// plan's first charge has not settled yet; FailureURL gets the error code.
	SuccessURL string
	FailureURL string
	// IssuanceTTL is how long a prepared billing-key request may be completed. Default 30
	// minutes.
	IssuanceTTL time.Duration
	// TestMode accepts payments and keys of iamport's test channels. Never in live mode
	// (docs/guarantees.md, R17).
	TestMode bool
	// LiveSiteCodes are the KCP site codes (pg_id) of the merchant's live channels. In live
	// mode a payment or billing key with another pg_id is refused as a test one; the site
	// code of PG ("kcp_billing.{site code}") counts as one. Without any, only iamport's
	// sandbox flag and KCP's known test site code tell test from live.
	LiveSiteCodes []string
	// Subscriptions is how subscriptions renew, retry and end.
	Subscriptions SubscriptionPolicy
	Logger        *slog.Logger // nil = silent; secrets, tokens and card data never logged
	// Now is the business clock (periods, expiry, retries); default time.Now. A sweep
	// also measures how long it has held its claims on it, so a clock that jumps (a
	// demo's time machine) must move the store's lease clock too (memstore.WithClock,
	// sqlstore.WithClock).
	Now    func() time.Time
	Events event.Sink // nil = no events
	// MeterProvider and TracerProvider receive billkey's metrics and traces
	// (OpenTelemetry; the instruments are listed in docs/operations.md); nil records
	// nothing.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// ReconcileAfter is how long an attempt to charge holds its row (a lease on the
	// store's clock) before another instance may look its merchant_uid up; Reconcile
	// settles charges whose lease ran out. Default 2 minutes, at least 10 seconds. The
	// calls of an attempt (`again`, and the lookup a refusal calls for) are cut off after
	// ReconcileAfter/2, whatever the caller's deadline or the client's Timeout, so no
	// reconciler sends a merchant_uid again while an earlier `again` may be in flight.
	ReconcileAfter time.Duration
	// InstanceID names this process in row claims; default a random id.
	InstanceID string
	// MaxBodyBytes caps every request body the routes read. Default 16 KiB.
	MaxBodyBytes int64
	// InboxRetention is how long received notifications are kept in the inbox. Default
	// 30 days.
	InboxRetention time.Duration
	// WebhookAllowlist, when not empty, restricts the webhook route to these peer
	// addresses (iamport's: 52.78.100.19, 52.78.48.223, 52.78.5.241). TrustedProxyHops is
	// how many reverse proxies in front append to X-Forwarded-For (0 = use the peer).
	WebhookAllowlist []netip.Prefix
	TrustedProxyHops int
}

// Defaults applied by New.
const (
	defaultSDKURL         = "https://cdn.iamport.kr/v1/iamport.js"
	defaultIssuanceTTL    = 30 * time.Minute
	defaultReconcileAfter = 2 * time.Minute
	defaultMaxBodyBytes   = 16 << 10
	defaultInboxRetention = 30 * 24 * time.Hour

	// returnPath is where the mobile return (m_redirect_url) points, relative to
	// CallbackURL.
	returnPath = "/return"

	maxPlanAmount = 1<<53 - 1 // exact in a JSON number
)

// ConfigError reports an invalid Config: which field and why.
type ConfigError struct {
	Field  string
	Reason string
}

// Error renders "billkey: config FIELD: REASON".
func (e *ConfigError) Error() string {
	if e == nil {
		return "billkey: invalid config"
	}
	return "billkey: config " + e.Field + ": " + e.Reason
}

func cfgErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// normalizeConfig validates cfg and returns it with defaults applied.
func normalizeConfig(cfg Config) (Config, error) {
	if cfg.Client == nil {
		return cfg, cfgErr("Client", "required (an *iamport.Client)")
	}
	if cfg.Store == nil {
		return cfg, cfgErr("Store", "required")
	}
	if cfg.PG == "" {
		cfg.PG = idrule.DefaultPG
	}
	steps := []func(*Config) error{checkFields, checkPlans, checkSiteCodes, normalizeURLs, normalizeDurations,
		normalizeWebhookSource, normalizeSubscriptions}
	for _, step := range steps {
		if err := step(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = newInstanceID()
	}
	return cfg, nil
}

// configFields are the plain fields of Config that validator/v10 checks by tag, with
// the rules of internal/idrule.
type configFields struct {
	MerchantCode string       `validate:"required,merchant_code"`
	PG           string       `validate:"pg"`
	Company      string       `validate:"omitempty,company"`
	InstanceID   string       `validate:"omitempty,instance_id"`
	Plans        []planFields `validate:"dive"`
}

type planFields struct {
	ID     string `validate:"required,plan_id"`
	Name   string `validate:"required,name"`
	Amount int64  `validate:"gt=0,lte=9007199254740991"`
	Group  string `validate:"omitempty,plan_id"`
}

// checkFields runs the tag rules over cfg.
func checkFields(cfg *Config) error {
	f := configFields{MerchantCode: cfg.MerchantCode, PG: cfg.PG, Company: cfg.Company, InstanceID: cfg.InstanceID}
	for _, p := range cfg.Plans {
		f.Plans = append(f.Plans, planFields{ID: p.ID, Name: p.Name, Amount: p.Amount, Group: p.Group})
	}
	err := idrule.Validate.Struct(f)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return cfgErr("Config", "%v", err)
	}
	fe := ves[0]
	return cfgErr(strings.TrimPrefix(fe.Namespace(), "configFields."), "%s", ruleReason(fe))
}

// ruleReason turns a failed tag into words.
func ruleReason(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "gt":
		return "must be greater than " + fe.Param()
	case "lte":
		return "must be at most " + fe.Param()
	case "pg":
		return `must be "kcp_billing" or "kcp_billing.{site code}"`
	}
	for _, r := range []idrule.Rule{idrule.MerchantCode, idrule.Company, idrule.InstanceID, idrule.PlanID, idrule.OrderName} {
		if fe.Tag() == r.Name {
			return "must be " + r.Describe()
		}
	}
	return "fails rule " + fe.Tag()
}

// checkPlans refuses two plans with one id and bad periods, and keeps a copy of the
// catalogue.
func checkPlans(cfg *Config) error {
	seen := make(map[string]bool, len(cfg.Plans))
	for i, p := range cfg.Plans {
		if seen[p.ID] {
			return cfgErr(fmt.Sprintf("Plans[%d].ID", i), "duplicate plan id %q", p.ID)
		}
		seen[p.ID] = true
		switch {
		case !p.Every.IsZero() && !p.Every.valid():
			return cfgErr(fmt.Sprintf("Plans[%d].Every", i), "must be 1 to 120 months or 1 to 3660 days (one of the two)")
		case !p.Trial.IsZero() && !p.Trial.valid():
			return cfgErr(fmt.Sprintf("Plans[%d].Trial", i), "must be 1 to 120 months or 1 to 3660 days (one of the two)")
		case p.Every.IsZero() && !p.Trial.IsZero():
			return cfgErr(fmt.Sprintf("Plans[%d].Trial", i), "a trial needs a billing period (Every)")
		}
	}
	cfg.Plans = append([]Plan(nil), cfg.Plans...)
	return nil
}

// checkSiteCodes checks the live site codes and adds the one PG names.
func checkSiteCodes(cfg *Config) error {
	codes := append([]string(nil), cfg.LiveSiteCodes...)
	if site, ok := strings.CutPrefix(cfg.PG, idrule.DefaultPG+"."); ok && !slices.Contains(codes, site) {
		codes = append(codes, site)
	}
	for i, c := range codes {
		if !idrule.ValidPG(idrule.DefaultPG + "." + c) {
			return cfgErr(fmt.Sprintf("LiveSiteCodes[%d]", i), "must be 1 to 40 letters, digits, '_' or '-'")
		}
		if slices.Contains(kcpTestSiteCodes, c) && !cfg.TestMode {
			return cfgErr(fmt.Sprintf("LiveSiteCodes[%d]", i), "%q is KCP's test site code; in live mode it cannot be a live channel", c)
		}
	}
	cfg.LiveSiteCodes = codes
	return nil
}

// normalizeURLs checks every URL of cfg and writes each in its canonical form.
func normalizeURLs(cfg *Config) error {
	pub, err := parseBaseURL(cfg.PublicURL)
	if err != nil {
		return cfgErr("PublicURL", "%s", err.Error())
	}
	cfg.PublicURL = strings.TrimRight(pub.String(), "/")
	cb, err := parseBaseURL(cfg.CallbackURL)
	if err != nil {
		return cfgErr("CallbackURL", "%s (the prefix MountCallbacks puts the webhook and the mobile return under, outside the login)", err.Error())
	}
	cfg.CallbackURL = strings.TrimRight(cb.String(), "/")
	if cfg.NoticeURL != "" {
		u, err := parseAbsURL(cfg.NoticeURL, false)
		if err != nil {
			return cfgErr("NoticeURL", "%s", err.Error())
		}
		cfg.NoticeURL = u.String()
	}
	if cfg.SDKURL, err = normalizeSDKURL(cfg.SDKURL); err != nil {
		return cfgErr("SDKURL", "%s", err.Error())
	}
	if cfg.SiteLogo != "" {
		u, err := parseAbsURL(cfg.SiteLogo, true)
		if err != nil {
			return cfgErr("SiteLogo", "%s", err.Error())
		}
		cfg.SiteLogo = u.String()
	}
	if cfg.SuccessURL, err = checkLandingURL(cfg.SuccessURL, pub); err != nil {
		return cfgErr("SuccessURL", "%s", err.Error())
	}
	if cfg.FailureURL, err = checkLandingURL(cfg.FailureURL, pub); err != nil {
		return cfgErr("FailureURL", "%s", err.Error())
	}
	return nil
}

// normalizeSDKURL accepts an absolute https URL or a path on the merchant's own origin
// (a self-hosted copy of the script, or a sandbox's IMP shim beside the routes).
func normalizeSDKURL(raw string) (string, error) {
	if raw == "" {
		return defaultSDKURL, nil
	}
	if strings.HasPrefix(raw, "/") {
		u, err := parseRootPath(raw)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	u, err := parseAbsURL(raw, false)
	if err != nil {
		return "", errors.New("must be an absolute https URL or a path starting with '/': " + err.Error())
	}
	if u.Scheme != "https" && !isLoopback(u.Hostname()) {
		// Plain http only for a fake of iamport on this machine (go run ./cmd/fakeiamport).
		return "", errors.New("must be an absolute https URL (http only on a loopback host) or a path starting with '/'")
	}
	return u.String(), nil
}

// isLoopback reports whether host names this machine: localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// normalizeDurations applies the defaults of the durations and sizes and refuses
// negative ones.
func normalizeDurations(cfg *Config) error {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"IssuanceTTL", &cfg.IssuanceTTL, defaultIssuanceTTL},
		{"ReconcileAfter", &cfg.ReconcileAfter, defaultReconcileAfter},
	} {
		switch {
		case *d.v < 0:
			return cfgErr(d.name, "must not be negative")
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if cfg.ReconcileAfter < minReconcileAfter {
		return cfgErr("ReconcileAfter", "must be at least %s: an attempt to charge gets half of it for `again` and the lookup a refusal calls for (at least %s), and the other half is margin for the writes around them",
			minReconcileAfter, minAttemptBudget)
	}
	switch {
	case cfg.MaxBodyBytes < 0:
		return cfgErr("MaxBodyBytes", "must not be negative")
	case cfg.MaxBodyBytes == 0:
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	switch {
	case cfg.InboxRetention < 0:
		return cfgErr("InboxRetention", "must not be negative")
	case cfg.InboxRetention == 0:
		cfg.InboxRetention = defaultInboxRetention
	}
	return nil
}

// Defaults of SubscriptionPolicy.
var defaultRetries = []time.Duration{24 * time.Hour, 3 * 24 * time.Hour, 5 * 24 * time.Hour}

const (
	defaultNotice = 3 * 24 * time.Hour
	defaultGrace  = 3 * 24 * time.Hour
	maxRetries    = 10
)

// normalizeSubscriptions applies the subscription policy's defaults.
func normalizeSubscriptions(cfg *Config) error {
	p := &cfg.Subscriptions
	if p.Location == nil {
		p.Location = kst
	}
	if p.Retries == nil {
		p.Retries = defaultRetries
	}
	if len(p.Retries) > maxRetries {
		return cfgErr("Subscriptions.Retries", "at most %d retries", maxRetries)
	}
	for i, d := range p.Retries {
		if d <= 0 || i > 0 && d <= p.Retries[i-1] {
			return cfgErr(fmt.Sprintf("Subscriptions.Retries[%d]", i), "must be positive and later than the retry before")
		}
	}
	p.Retries = slices.Clone(p.Retries)
	switch {
	case p.Notice == 0:
		p.Notice = defaultNotice
	case p.Notice < 0:
		p.Notice = 0
	}
	switch {
	case p.Grace == 0:
		p.Grace = defaultGrace
	case p.Grace < 0:
		return cfgErr("Subscriptions.Grace", "must not be negative")
	}
	return nil
}

// normalizeWebhookSource checks the webhook allowlist and the proxy hops.
func normalizeWebhookSource(cfg *Config) error {
	if cfg.TrustedProxyHops < 0 {
		return cfgErr("TrustedProxyHops", "must not be negative")
	}
	for i, p := range cfg.WebhookAllowlist {
		if !p.IsValid() {
			return cfgErr(fmt.Sprintf("WebhookAllowlist[%d]", i), "not a valid prefix")
		}
	}
	cfg.WebhookAllowlist = append(cfg.WebhookAllowlist[:0:0], cfg.WebhookAllowlist...)
	return nil
}

// parseBaseURL checks an absolute http(s) URL without query, fragment or userinfo.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := parseAbsURL(raw, false)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.ForceQuery {
		return nil, errors.New("must not have a query")
	}
	return u, nil
}

// parseAbsURL checks an absolute http(s) (https only if httpsOnly) URL with a host and
// without userinfo, fragment, backslashes or control characters.
func parseAbsURL(raw string, httpsOnly bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("required")
	}
	if strings.ContainsAny(raw, "\\ \t\r\n") || !isPrintableASCII(raw, 2048) {
		return nil, errors.New("must be a plain absolute URL (printable ASCII, no spaces or backslashes, at most 2048 bytes)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case httpsOnly && scheme != "https":
		return nil, errors.New("must be an absolute https URL")
	case scheme != "http" && scheme != "https":
		return nil, errors.New("must be an absolute http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("must have a host")
	case u.User != nil:
		return nil, errors.New("must not contain userinfo")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("must not have a fragment")
	case u.Opaque != "":
		return nil, errors.New("must be hierarchical (scheme://host/...)")
	}
	u.Scheme = scheme
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

// parseRootPath checks a path on the merchant's own origin ("/done?x=1"): a single
// leading '/', no scheme, host, backslash, fragment or space, and no second slash once
// decoded, so a browser can never read it as another origin (R15).
func parseRootPath(raw string) (*url.URL, error) {
	if strings.HasPrefix(raw, "//") || strings.ContainsAny(raw, "\\# \t") || !isPrintableASCII(raw, 2048) {
		return nil, errors.New("must be a plain path starting with a single '/' (no backslashes, fragment or spaces)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return nil, errors.New("not a valid path")
	}
	if strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/\\") {
		return nil, errors.New("must not start with an encoded second slash")
	}
	return u, nil
}

// checkLandingURL validates SuccessURL/FailureURL: required, either a path on PublicURL's
// origin ("/done") or an absolute URL with exactly PublicURL's origin (R15). It returns
// the absolute form.
func checkLandingURL(raw string, pub *url.URL) (string, error) {
	if raw == "" {
		return "", errors.New("required")
	}
	if strings.HasPrefix(raw, "/") {
		u, err := parseRootPath(raw)
		if err != nil {
			return "", err
		}
		abs := &url.URL{Scheme: pub.Scheme, Host: pub.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
		return abs.String(), nil
	}
	u, err := parseAbsURL(raw, false)
	if err != nil {
		return "", fmt.Errorf("must be a path or an absolute URL on PublicURL's origin: %w", err)
	}
	if u.Scheme != pub.Scheme || u.Host != pub.Host {
		return "", errors.New("must be on PublicURL's origin (" + pub.Scheme + "://" + pub.Host + ")")
	}
	return u.String(), nil
}
