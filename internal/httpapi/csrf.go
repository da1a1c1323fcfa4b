package httpapi

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// errCrossSite is the answer to a cross-site state-changing request
// (docs/guarantees.md, R16).
var errCrossSite = &core.Error{Code: codes.CrossSiteRequest,
	Detail: "Cross-site requests cannot change billing state."}

// checkSameOrigin refuses cross-site browser requests to the POST and DELETE routes
// (docs/guarantees.md, R16). Origins are compared whole (scheme, host and port):
//
//  1. Sec-Fetch-Site, sent by every current browser: "same-origin" and "none" (typed in,
//     bookmark) pass; any other value ("same-site", "cross-site", ...) is refused.
//  2. Without it, Origin must be the server's own origin (the scheme the request came
//     in on, TLS or not, with its Host) or public, the origin of Config.PublicURL (what
//     browsers see behind a proxy that ends TLS). "null" and malformed origins are
//     refused.
//  3. Without either, Referer's origin is held to the same rule.
//  4. With none of the three (a client that is not a browser), the request passes.
func checkSameOrigin(r Request, public string) error {
	h := r.Header()
	if vs := h.Values("Sec-Fetch-Site"); len(vs) > 0 {
		if len(vs) == 1 {
			switch strings.ToLower(strings.TrimSpace(vs[0])) {
			case "same-origin", "none":
				return nil
			}
		}
		return errCrossSite
	}
	claimed, ok := claimedOrigin(h)
	switch {
	case !ok:
		return errCrossSite
	case claimed == "":
		return nil
	case claimed == public:
		return nil
	}
	scheme := "http"
	if r.TLS() {
		scheme = "https"
	}
	if host, ok := normalizeHost(scheme, r.Host()); ok && scheme+"://"+host == claimed {
		return nil
	}
	return errCrossSite
}

// claimedOrigin is the normalized origin a browser says the request comes from: Origin,
// else the origin of Referer; "" when neither is sent. ok is false for a malformed,
// repeated or "null" value.
func claimedOrigin(h http.Header) (origin string, ok bool) {
	if vs := h.Values("Origin"); len(vs) > 0 {
		if len(vs) > 1 {
			return "", false
		}
		return normalizeOrigin(vs[0])
	}
	vs := h.Values("Referer")
	if len(vs) == 0 {
		return "", true
	}
	if len(vs) > 1 {
		return "", false
	}
	u, err := url.Parse(strings.TrimSpace(vs[0]))
	if err != nil || u.Host == "" {
		return "", false
	}
	return normalizeOrigin(u.Scheme + "://" + u.Host)
}

// normalizeOrigin turns "HTTPS://Shop.Example:443" into "https://shop.example"; only
// http and https origins without path, query, fragment or userinfo are accepted.
func normalizeOrigin(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, ok := normalizeHost(scheme, u.Host)
	if !ok {
		return "", false
	}
	return scheme + "://" + host, true
}

// normalizeHost lower-cases host[:port] and drops the scheme's default port.
func normalizeHost(scheme, hostport string) (string, bool) {
	hostport = strings.ToLower(strings.TrimSpace(hostport))
	if hostport == "" || strings.ContainsAny(hostport, "/\\@ \t") {
		return "", false
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// no port
		if strings.HasPrefix(hostport, "[") != strings.HasSuffix(hostport, "]") {
			return "", false
		}
		return hostport, true
	}
	if host == "" {
		return "", false
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") || port == "" {
		if strings.Contains(host, ":") {
			return "[" + host + "]", true
		}
		return host, true
	}
	return net.JoinHostPort(host, port), true
}

// publicOrigin returns the normalized origin of an absolute URL, "" if it has none.
func publicOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	o, ok := normalizeOrigin(u.Scheme + "://" + u.Host)
	if !ok {
		return ""
	}
	return o
}
