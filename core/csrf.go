package core

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// errRouteCrossSite is the answer to a cross-site state-changing request (R16).
var errRouteCrossSite = &Error{Code: CodeForbiddenCrossSite, Status: http.StatusForbidden,
	Detail: "Cross-site requests cannot change billing state."}

// checkSameOrigin refuses cross-site browser requests to the POST and DELETE routes (R16):
//
//  1. Sec-Fetch-Site, sent by every current browser: "same-origin" and "none" (typed in,
//     bookmark) pass; any other value ("same-site", "cross-site", ...) is refused.
//  2. Without it, Origin: absent passes (non-browser clients and old browsers that send
//     neither); present, it must name the request's own host (Host, ports compared after
//     dropping the origin scheme's default port) or the origin of Config.PublicURL
//     (trusted), else it is refused. "null" and malformed origins are refused.
func checkSameOrigin(r Request, trusted []string) error {
	h := r.Header()
	if vs := h.Values("Sec-Fetch-Site"); len(vs) > 0 {
		if len(vs) == 1 {
			switch strings.ToLower(strings.TrimSpace(vs[0])) {
			case "same-origin", "none":
				return nil
			}
		}
		return errRouteCrossSite
	}
	vs := h.Values("Origin")
	if len(vs) == 0 {
		return nil
	}
	if len(vs) > 1 {
		return errRouteCrossSite
	}
	origin, ok := normalizeOrigin(vs[0])
	if !ok {
		return errRouteCrossSite
	}
	scheme, _, _ := strings.Cut(origin, "://")
	if host, ok := normalizeHost(scheme, r.Host()); ok && scheme+"://"+host == origin {
		return nil
	}
	for _, t := range trusted {
		if t != "" && t == origin {
			return nil
		}
	}
	return errRouteCrossSite
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
