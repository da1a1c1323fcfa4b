package demo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Mode says which iamport the example talks to.
type Mode int

// Modes.
const (
	// ModeSandbox runs the in-process fake of iamport (package iamporttest): nothing is real.
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
	EnvIMPCode     = "IMP_CODE"
	EnvIMPKey      = "IMP_KEY"
	EnvIMPSecret   = "IMP_SECRET"
	EnvTestChannel = "IMP_TEST_CHANNEL"
)

// Defaults.
const (
	DefaultAddr = "127.0.0.1:8080"
	// DefaultDB is the SQLite file of the sandbox.
	DefaultDB = "billkey-demo.db"
	// DefaultLiveDB is the SQLite file in live mode: a separate file, so records made
	// against the fake never mix with real ones.
	DefaultLiveDB = "billkey-demo-live.db"
)

// Config is the example's configuration, from flags and the environment.
type Config struct {
	Framework   string // "net/http", "gin" or "fiber": shown in the banner
	Addr        string // listen address; port 0 picks a free port
	DBPath      string // SQLite file (unless PostgresDSN is set)
	PostgresDSN string // when set, PostgreSQL instead of SQLite
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
}

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
		fmt.Fprintf(fs.Output(), "Sandbox by default (an in-process fake of iamport; nothing is real). Set %s, %s and %s\n", EnvIMPCode, EnvIMPKey, EnvIMPSecret)
		fmt.Fprintf(fs.Output(), "in the environment to use the real iamport. Flags:\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", orDefault(env(EnvAddr), DefaultAddr), "listen `address`; port 0 picks a free one (env "+EnvAddr+")")
	db := fs.String("db", env(EnvDB), "SQLite `file` (env "+EnvDB+"; default "+DefaultDB+", or "+DefaultLiveDB+" in live mode)")
	pg := fs.String("postgres", env(EnvPostgresDSN), "PostgreSQL `DSN`; when set, PostgreSQL instead of SQLite (env "+EnvPostgresDSN+")")
	public := fs.String("public-url", env(EnvPublicURL), "public `origin` (scheme://host[:port]) when it differs from the listen address (env "+EnvPublicURL+")")
	sandbox := fs.Bool("sandbox", false, "require the sandbox (the default without credentials); refused when "+EnvIMPCode+"/"+EnvIMPKey+"/"+EnvIMPSecret+" are set")
	testChannelEnv, err := parseBoolEnv(EnvTestChannel, env(EnvTestChannel))
	if err != nil {
		return cfg, err
	}
	testChannel := fs.Bool("test-channel", testChannelEnv, "live mode: accept payments iamport marks as sandbox (a test PG channel) (env "+EnvTestChannel+")")
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

	cfg.Addr = strings.TrimSpace(*addr)
	if cfg.Addr == "" {
		return cfg, errors.New("-addr must not be empty")
	}
	cfg.PostgresDSN = strings.TrimSpace(*pg)
	cfg.DBPath = strings.TrimSpace(*db)
	if cfg.DBPath == "" {
		cfg.DBPath = DefaultDB
		if cfg.Mode == ModeLive {
			cfg.DBPath = DefaultLiveDB
		}
	}
	if p := strings.TrimSpace(*public); p != "" {
		origin, err := parseOrigin(p)
		if err != nil {
			return cfg, fmt.Errorf("-public-url: %w", err)
		}
		cfg.PublicURL = origin
	}
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
