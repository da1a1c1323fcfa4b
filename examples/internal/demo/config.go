package demo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mode says which iamport the example talks to.
type Mode int

// Modes.
const (
	// ModeSandbox talks to a fake of iamport (package iamporttest): nothing is real. The
	// fake runs in-process unless Config.IAMPortURL names a shared one (cmd/fakeiamport).
	ModeSandbox Mode = iota + 1
	// ModeLive talks to the real iamport with the merchant's credentials.
	ModeLive
)

// String returns "sandbox" or "live".
func (m Mode) String() string {
	switch m {
	case ModeSandbox:
		return "sandbox"
	case ModeLive:
		return "live"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Environment variables read by ParseConfig. Flags win over the environment; the
// credentials are read from the environment only, so they never show in a process list.
const (
	EnvAddr        = "ADDR"
	EnvDB          = "BILLKEY_DB"
	EnvPostgresDSN = "BILLKEY_POSTGRES_DSN"
	EnvPublicURL   = "BILLKEY_PUBLIC_URL"
	EnvIAMPortURL  = "IAMPORT_BASE_URL"
	EnvIMPCode     = "IMP_CODE"
	EnvIMPKey      = "IMP_KEY"
	EnvIMPSecret   = "IMP_SECRET"
	EnvTestChannel = "IMP_TEST_CHANNEL"
)

// DefaultAddr is the listen address without -addr or ADDR.
const DefaultAddr = "127.0.0.1:8080"

// DefaultDB is the SQLite file an example uses without -db or BILLKEY_DB: one per
// framework, so two examples started side by side never share records (or a fake's
// state), and one per mode, so records made against a fake never mix with real ones:
// "billkey-demo-nethttp.db", "billkey-demo-gin-live.db", ...
func DefaultDB(framework string, mode Mode) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return -1 // "net/http" -> "nethttp"
	}, framework)
	if name == "" {
		name = "example"
	}
	if mode == ModeLive {
		return "billkey-demo-" + name + "-live.db"
	}
	return "billkey-demo-" + name + ".db"
}

// Timeouts bound how long a client may hold a connection of the example's server.
type Timeouts struct {
	// Read bounds reading a whole request, headers and body: a client that announces a
	// body and sends it slowly (or never) is cut off.
	Read time.Duration
	// Write bounds the time from the end of the request to the end of the response, the
	// handler included.
	Write time.Duration
	// Idle bounds how long a keep-alive connection waits for its next request.
	Idle time.Duration
}

// DefaultTimeouts are the examples' server timeouts. Read stays well under
// ShutdownTimeout: Fiber counts a connection that has not sent its first request as busy
// until Read ends, and its shutdown waits for it. Write outlasts billkey's slowest route,
// a charge whose `again` may run ReconcileAfter/2 (a minute by default) before the row is
// written.
var DefaultTimeouts = Timeouts{Read: 5 * time.Second, Write: 2 * time.Minute, Idle: time.Minute}

// Config is the example's configuration, from flags and the environment.
type Config struct {
	Framework   string // "net/http", "gin" or "fiber": shown in the banner
	Addr        string // listen address; port 0 picks a free port
	DBPath      string // SQLite file (unless PostgresDSN is set)
	PostgresDSN string // when set, PostgreSQL instead of SQLite
	// IAMPortURL is the base URL of the iamport API to use instead of the default: in the
	// sandbox a shared fake (go run ./cmd/fakeiamport) rather than a private in-process
	// one, so several examples can use one upstream; in live mode another endpoint of
	// the real API. "" = the in-process fake (sandbox) or iamport.DefaultBaseURL (live).
	IAMPortURL string
	// PublicURL is the origin browsers (and, in live mode, iamport's webhooks) use to
	// reach the example, e.g. "https://shop.example.com" behind a proxy. "" = the
	// listen address.
	PublicURL string
	Mode      Mode
	IMPCode   string // merchant identification code (live)
	IMPKey    string // REST API key (live)
	IMPSecret string // REST API secret (live); never printed
	// TestChannel accepts payments iamport marks as sandbox (a test PG channel on the
	// real iamport). Live mode only.
	TestChannel bool
	// Timeouts of the server the wiring builds; ParseConfig sets DefaultTimeouts.
	Timeouts Timeouts
	// ClockSkew runs the billing service's clock this far ahead of (or, negative,
	// behind) the shop's, which the store's leases keep, as on a server whose clock is
	// off while the database's is right. Sandbox only; chaos runs use it.
	ClockSkew time.Duration
}

// MaxClockSkew bounds Config.ClockSkew.
const MaxClockSkew = time.Hour

// PrivateFake reports whether the example runs its own in-process fake of iamport: the
// sandbox without IAMPortURL.
func (c Config) PrivateFake() bool { return c.Mode == ModeSandbox && c.IAMPortURL == "" }

// Storage describes where records go, for the banner: "SQLite FILE" or "PostgreSQL".
// It never shows the DSN, which may hold a password.
func (c Config) Storage() string {
	if c.PostgresDSN != "" {
		return "PostgreSQL (" + EnvPostgresDSN + " / -postgres)"
	}
	return "SQLite " + c.DBPath
}

// ParseConfig reads the flags in args and the environment through getenv. Usage and flag
// errors go to output. It returns flag.ErrHelp for -h.
//
// Sandbox is the default: without IMP_CODE, IMP_KEY and IMP_SECRET the example runs the
// fake iamport. With all three it talks to the real iamport. Some but not all of them is
// an error, and so is asking for the sandbox (-sandbox) while any of them is set: the
// sandbox can never run with real credentials.
func ParseConfig(framework string, args []string, getenv func(string) string, output io.Writer) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := Config{Framework: framework}

	fs := flag.NewFlagSet("billkey-example-"+framework, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "billkey example (%s): a small subscription shop on billkey.\n\n", framework)
		fmt.Fprintf(fs.Output(), "Sandbox by default (an in-process fake of iamport; nothing is real), or a shared fake with\n")
		fmt.Fprintf(fs.Output(), "-iamport-url (go run ./cmd/fakeiamport). Set %s, %s and %s in the environment to use\n", EnvIMPCode, EnvIMPKey, EnvIMPSecret)
		fmt.Fprintf(fs.Output(), "the real iamport. Flags:\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", orDefault(env(EnvAddr), DefaultAddr), "listen `address`; port 0 picks a free one (env "+EnvAddr+")")
	db := fs.String("db", env(EnvDB), "SQLite `file` (env "+EnvDB+"; default "+DefaultDB(framework, ModeSandbox)+", or "+DefaultDB(framework, ModeLive)+" in live mode)")
	pg := fs.String("postgres", env(EnvPostgresDSN), "PostgreSQL `DSN`; when set, PostgreSQL instead of SQLite (env "+EnvPostgresDSN+")")
	public := fs.String("public-url", env(EnvPublicURL), "public `origin` (scheme://host[:port]) when it differs from the listen address (env "+EnvPublicURL+")")
	upstream := fs.String("iamport-url", env(EnvIAMPortURL), "base `URL` of iamport's API: in the sandbox a shared fake such as go run ./cmd/fakeiamport (its IMP shim is URL/iamport.js), in live mode another endpoint of the real API; https, or http on a loopback host (env "+EnvIAMPortURL+")")
	sandbox := fs.Bool("sandbox", false, "require the sandbox (the default without credentials); refused when "+EnvIMPCode+"/"+EnvIMPKey+"/"+EnvIMPSecret+" are set")
	testChannelEnv, err := parseBoolEnv(EnvTestChannel, env(EnvTestChannel))
	if err != nil {
		return cfg, err
	}
	testChannel := fs.Bool("test-channel", testChannelEnv, "live mode: accept payments iamport marks as sandbox (a test PG channel) (env "+EnvTestChannel+")")
	skew := fs.Duration("clock-skew", 0, "sandbox only: run the billing service's clock this `duration` off the store's (a test of servers whose clocks disagree)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	sandboxSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "sandbox" {
			sandboxSet = true
		}
	})

	cfg.IMPCode, cfg.IMPKey, cfg.IMPSecret = env(EnvIMPCode), env(EnvIMPKey), env(EnvIMPSecret)
	var have, missing []string
	for _, c := range []struct{ name, v string }{{EnvIMPCode, cfg.IMPCode}, {EnvIMPKey, cfg.IMPKey}, {EnvIMPSecret, cfg.IMPSecret}} {
		if c.v != "" {
			have = append(have, c.name)
		} else {
			missing = append(missing, c.name)
		}
	}
	switch {
	case sandboxSet && *sandbox && len(have) > 0:
		return cfg, fmt.Errorf("-sandbox cannot run with real iamport credentials (%s set): unset %s, %s and %s, or drop -sandbox",
			strings.Join(have, ", "), EnvIMPCode, EnvIMPKey, EnvIMPSecret)
	case len(have) > 0 && len(missing) > 0:
		return cfg, fmt.Errorf("%s, %s and %s go together: %s set but %s missing (unset all three for the sandbox)",
			EnvIMPCode, EnvIMPKey, EnvIMPSecret, strings.Join(have, ", "), strings.Join(missing, ", "))
	case len(have) == 3:
		cfg.Mode = ModeLive
	case sandboxSet && !*sandbox:
		return cfg, fmt.Errorf("-sandbox=false needs real iamport credentials: set %s, %s and %s", EnvIMPCode, EnvIMPKey, EnvIMPSecret)
	default:
		cfg.Mode = ModeSandbox
	}
	cfg.TestChannel = *testChannel
	if cfg.TestChannel && cfg.Mode != ModeLive {
		return cfg, fmt.Errorf("-test-channel (%s) applies to the real iamport only; the sandbox accepts its own payments anyway", EnvTestChannel)
	}

	cfg.ClockSkew = *skew
	if cfg.ClockSkew != 0 && cfg.Mode != ModeSandbox {
		return cfg, errors.New("-clock-skew applies to the sandbox only")
	}
	if cfg.ClockSkew > MaxClockSkew || cfg.ClockSkew < -MaxClockSkew {
		return cfg, fmt.Errorf("-clock-skew %s is beyond ±%s", cfg.ClockSkew, MaxClockSkew)
	}

	cfg.Addr = strings.TrimSpace(*addr)
	if cfg.Addr == "" {
		return cfg, errors.New("-addr must not be empty")
	}
	cfg.PostgresDSN = strings.TrimSpace(*pg)
	cfg.DBPath = strings.TrimSpace(*db)
	if cfg.DBPath == "" {
		cfg.DBPath = DefaultDB(framework, cfg.Mode)
	}
	if p := strings.TrimSpace(*public); p != "" {
		origin, err := parseOrigin(p)
		if err != nil {
			return cfg, fmt.Errorf("-public-url: %w", err)
		}
		cfg.PublicURL = origin
	}
	if u := strings.TrimSpace(*upstream); u != "" {
		base, err := parseBaseURL(u)
		if err != nil {
			return cfg, fmt.Errorf("-iamport-url (%s): %w", EnvIAMPortURL, err)
		}
		cfg.IAMPortURL = base
	}
	cfg.Timeouts = DefaultTimeouts
	return cfg, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseBoolEnv(name, v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false (or 1/0), not %q", name, v)
	}
	return b, nil
}

// parseOrigin accepts "scheme://host[:port]" (an optional trailing slash) for http and
// https, and returns it without the slash.
func parseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("must start with http:// or https://")
	case u.Host == "" || u.Opaque != "":
		return "", errors.New("must name a host")
	case u.User != nil:
		return "", errors.New("must not contain a user name or password")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("must be an origin only (scheme://host[:port]), without path, query or fragment")
	}
	return u.Scheme + "://" + u.Host, nil
}

// parseBaseURL accepts an absolute https URL, or an http one on a loopback host (a fake
// on this machine; credentials never cross a network in clear text), with an optional
// path, and returns it without a trailing slash.
func parseBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("must start with https:// (or http:// on a loopback host)")
	case u.Host == "" || u.Opaque != "":
		return "", errors.New("must name a host")
	case u.User != nil:
		return "", errors.New("must not contain a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("must not have a query or fragment")
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return "", errors.New("http:// is only for a loopback host (127.0.0.1, ::1, localhost); use https://")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// loopbackHost reports a host name or address of this machine's loopback interface.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
