package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
)

// Defaults applied by New.
const (
	DefaultPG             = "kcp_billing"
	DefaultSDKURL         = "https://cdn.iamport.kr/v1/iamport.js"
	DefaultIssuanceTTL    = 30 * time.Minute
	DefaultReconcileAfter = 2 * time.Minute
	DefaultMaxBodyBytes   = 16 << 10

	// RedirectPath is where the mobile m_redirect_url points, relative to PublicURL.
	RedirectPath = "/billing-key/redirect"

	maxPlanAmount = 1<<53 - 1 // exact in a JSON number
)

var (
	merchantCodePattern = regexp.MustCompile(`^imp[0-9A-Za-z]{1,32}$`)
	pgPattern           = regexp.MustCompile(`^kcp_billing(\.[0-9A-Za-z_-]{1,40})?$`)
	planIDPattern       = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$`)
)

// validate is the package's validator with billkey's own rules registered.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	str := func(f func(string) bool) validator.Func {
		return func(fl validator.FieldLevel) bool { return f(fl.Field().String()) }
	}
	must := func(err error) {
		if err != nil {
			panic(err) // only at init, with constant tags
		}
	}
	must(v.RegisterValidation("bk_merchant_code", str(merchantCodePattern.MatchString)))
	must(v.RegisterValidation("bk_pg", str(pgPattern.MatchString)))
	must(v.RegisterValidation("bk_plan_id", str(planIDPattern.MatchString)))
	must(v.RegisterValidation("bk_text", str(func(s string) bool { return isText(s, 1<<20) })))
	must(v.RegisterValidation("bk_ascii", str(func(s string) bool { return isPrintableASCII(s, 1<<20) })))
	return v
}

// configRules mirrors the parts of Config that validator/v10 checks by tag.
type configRules struct {
	MerchantCode string      `validate:"required,bk_merchant_code"`
	PG           string      `validate:"bk_pg"`
	Company      string      `validate:"max=64,bk_text"`
	InstanceID   string      `validate:"omitempty,max=64,bk_ascii"`
	Plans        []planRules `validate:"dive"`
}

type planRules struct {
	ID     string `validate:"required,bk_plan_id"`
	Name   string `validate:"required,max=40,bk_text"`
	Amount int64  `validate:"gt=0,lte=9007199254740991"`
}

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

// ruleReason turns a validator tag into words.
func ruleReason(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "max":
		return "at most " + fe.Param() + " characters"
	case "gt":
		return "must be greater than " + fe.Param()
	case "lte":
		return "must be at most " + fe.Param()
	case "bk_merchant_code":
		return `must be "imp" followed by letters or digits (the merchant identification code)`
	case "bk_pg":
		return `must be "kcp_billing" or "kcp_billing.{site code}"`
	case "bk_plan_id":
		return "must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit"
	case "bk_text":
		return "must be valid UTF-8 without control characters"
	case "bk_ascii":
		return "must be printable ASCII"
	}
	return "fails rule " + fe.Tag()
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
		cfg.PG = DefaultPG
	}
	rules := configRules{
		MerchantCode: cfg.MerchantCode,
		PG:           cfg.PG,
		Company:      cfg.Company,
		InstanceID:   cfg.InstanceID,
	}
	for _, p := range cfg.Plans {
		rules.Plans = append(rules.Plans, planRules(p))
	}
	if err := validate.Struct(rules); err != nil {
		var ves validator.ValidationErrors
		if errors.As(err, &ves) && len(ves) > 0 {
			fe := ves[0]
			field := strings.TrimPrefix(fe.Namespace(), "configRules.")
			return cfg, cfgErr(field, "%s", ruleReason(fe))
		}
		return cfg, cfgErr("Config", "%v", err)
	}
	seen := make(map[string]bool, len(cfg.Plans))
	for i, p := range cfg.Plans {
		if seen[p.ID] {
			return cfg, cfgErr(fmt.Sprintf("Plans[%d].ID", i), "duplicate plan id %q", p.ID)
		}
		seen[p.ID] = true
	}
	cfg.Plans = append([]Plan(nil), cfg.Plans...)

	// PublicURL: absolute http(s), no query, fragment or userinfo; no trailing slash.
	pub, err := parseBaseURL(cfg.PublicURL)
	if err != nil {
		return cfg, cfgErr("PublicURL", "%s", err.Error())
	}
	cfg.PublicURL = strings.TrimRight(pub.String(), "/")

	if cfg.NoticeURL != "" {
		u, err := parseAbsURL(cfg.NoticeURL, false)
		if err != nil {
			return cfg, cfgErr("NoticeURL", "%s", err.Error())
		}
		cfg.NoticeURL = u.String()
	}
	if cfg.SDKURL == "" {
		cfg.SDKURL = DefaultSDKURL
	}
	if strings.HasPrefix(cfg.SDKURL, "/") {
		// A path on the merchant's own origin, e.g. a self-hosted copy of the script or
		// a sandbox's IMP shim mounted beside the routes.
		u, err := parseRootPath(cfg.SDKURL)
		if err != nil {
			return cfg, cfgErr("SDKURL", "%s", err.Error())
		}
		cfg.SDKURL = u.String()
	} else if u, err := parseAbsURL(cfg.SDKURL, true); err != nil {
		return cfg, cfgErr("SDKURL", "must be an absolute https URL or a path starting with '/': %s", err.Error())
	} else {
		cfg.SDKURL = u.String()
	}
	if cfg.SiteLogo != "" {
		u, err := parseAbsURL(cfg.SiteLogo, true)
		if err != nil {
			return cfg, cfgErr("SiteLogo", "%s", err.Error())
		}
		cfg.SiteLogo = u.String()
	}
	for _, f := range []struct {
		name string
		val  *string
	}{{"SuccessURL", &cfg.SuccessURL}, {"FailureURL", &cfg.FailureURL}} {
		v, err := checkLandingURL(*f.val, pub)
		if err != nil {
			return cfg, cfgErr(f.name, "%s", err.Error())
		}
		*f.val = v
	}

	switch {
	case cfg.IssuanceTTL < 0:
		return cfg, cfgErr("IssuanceTTL", "must not be negative")
	case cfg.IssuanceTTL == 0:
		cfg.IssuanceTTL = DefaultIssuanceTTL
	}
	switch {
	case cfg.ReconcileAfter < 0:
		return cfg, cfgErr("ReconcileAfter", "must not be negative")
	case cfg.ReconcileAfter == 0:
		cfg.ReconcileAfter = DefaultReconcileAfter
	}
	switch {
	case cfg.MaxBodyBytes < 0:
		return cfg, cfgErr("MaxBodyBytes", "must not be negative")
	case cfg.MaxBodyBytes == 0:
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.TrustedProxyHops < 0 {
		return cfg, cfgErr("TrustedProxyHops", "must not be negative")
	}
	for i, p := range cfg.WebhookAllowlist {
		if !p.IsValid() {
			return cfg, cfgErr(fmt.Sprintf("WebhookAllowlist[%d]", i), "not a valid prefix")
		}
	}
	cfg.WebhookAllowlist = append(cfg.WebhookAllowlist[:0:0], cfg.WebhookAllowlist...)
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
