package httpapi

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// errRouteSource is the answer to a webhook from outside the allowlist (R10).
var errRouteSource = &core.Error{Code: codes.WebhookSourceForbidden,
	Detail: "Notifications are accepted only from the configured addresses."}

// SourceAddr returns the address a request came from, for the webhook allowlist (R10).
//
// With trustedHops 0 it is the peer address (RemoteAddr); headers are ignored. With N > 0
// reverse proxies in front, each appending the address it received the request from to
// X-Forwarded-For, it is the Nth entry counted from the right: the one the outermost
// trusted proxy wrote. Entries left of it were written by the client and are never used,
// so a spoofed X-Forwarded-For cannot choose the answer. Fewer than N entries, or an
// entry that is not an IP address, is an error. IPv4-mapped IPv6 addresses are unmapped.
func SourceAddr(r Request, trustedHops int) (netip.Addr, error) {
	if trustedHops <= 0 {
		return parseSourceAddr(r.RemoteAddr())
	}
	var entries []string
	for _, line := range r.Header().Values("X-Forwarded-For") {
		for _, e := range strings.Split(line, ",") {
			entries = append(entries, strings.TrimSpace(e))
		}
	}
	if len(entries) < trustedHops {
		return netip.Addr{}, errors.New("billkey: X-Forwarded-For has fewer entries than trusted proxy hops")
	}
	return parseSourceAddr(entries[len(entries)-trustedHops])
}

// parseSourceAddr reads "ip", "ip:port" or "[ipv6]:port".
func parseSourceAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, errors.New("billkey: source address is not an IP address")
	}
	return a.Unmap(), nil
}

// checkSource enforces the webhook allowlist; an empty allowlist admits everyone.
func checkSource(r Request, allow []netip.Prefix, trustedHops int) error {
	if len(allow) == 0 {
		return nil
	}
	addr, err := SourceAddr(r, trustedHops)
	if err != nil {
		return errRouteSource
	}
	for _, p := range allow {
		if p.Contains(addr) || (p.Addr().Is4In6() && netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Contains(addr)) {
			return nil
		}
	}
	return errRouteSource
}
