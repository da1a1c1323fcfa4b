package main

import (
	"net/http"
	"net/url"
	"strings"
)

// detached returns r with every string copied out of fasthttp's buffers. Fiber's
// net/http adaptor builds the *http.Request over memory that fasthttp reuses once the
// handler returns (method, URI, host, header keys and values), so a handler that keeps
// any of them, as the in-process fake keeps ids from its paths, would hold bytes that
// the next request overwrites. billkey's own Fiber adapter copies what it hands on; this
// does the same for what goes through the adaptor.
func detached(r *http.Request) *http.Request {
	d := r.Clone(r.Context())
	d.Method = strings.Clone(r.Method)
	d.Proto = strings.Clone(r.Proto)
	d.Host = strings.Clone(r.Host)
	d.RequestURI = strings.Clone(r.RequestURI)
	d.RemoteAddr = strings.Clone(r.RemoteAddr)
	if r.URL != nil {
		u := *r.URL
		u.Scheme, u.Opaque, u.Host = strings.Clone(u.Scheme), strings.Clone(u.Opaque), strings.Clone(u.Host)
		u.Path, u.RawPath = strings.Clone(u.Path), strings.Clone(u.RawPath)
		u.RawQuery, u.Fragment, u.RawFragment = strings.Clone(u.RawQuery), strings.Clone(u.Fragment), strings.Clone(u.RawFragment)
		if u.User != nil {
			user := u.User.Username()
			if pass, ok := u.User.Password(); ok {
				u.User = url.UserPassword(strings.Clone(user), strings.Clone(pass))
			} else {
				u.User = url.User(strings.Clone(user))
			}
		}
		d.URL = &u
	}
	d.Header = make(http.Header, len(r.Header))
	for k, vs := range r.Header {
		cp := make([]string, len(vs))
		for i, v := range vs {
			cp[i] = strings.Clone(v)
		}
		d.Header[strings.Clone(k)] = cp
	}
	d.TransferEncoding = nil
	for _, te := range r.TransferEncoding {
		d.TransferEncoding = append(d.TransferEncoding, strings.Clone(te))
	}
	return d
}
