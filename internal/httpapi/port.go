package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/billkey/billkey/core"
)

// Request is the route table's view of one HTTP request. Adapters implement it over
// their framework.
type Request interface {
	Context() context.Context
	Method() string
	// PathValue returns a path parameter named in the route pattern ("merchant_uid").
	PathValue(name string) string
	Query() url.Values
	Header() http.Header
	// Body is the raw request body; the routes cap what they read (Config.MaxBodyBytes).
	Body() io.Reader
	// Host is the request's Host; RemoteAddr the peer "ip:port"; TLS whether it came over
	// TLS to this server.
	Host() string
	RemoteAddr() string
	TLS() bool
	// Buyer runs the merchant's hook. A zero UserID or an error means "no user" (401).
	Buyer() (core.Buyer, error)
}

// Response is where the routes write their answer. Adapters implement it over their
// framework.
type Response interface {
	Header() http.Header
	WriteHeader(status int)
	Write(p []byte) (int, error)
}

// Route is one entry of the route table. Pattern is relative to the mount prefix and uses
// {name} for path parameters (Go 1.22 ServeMux style); adapters translate it.
type Route struct {
	Method  string
	Pattern string
	Handle  func(w Response, r Request)
}
