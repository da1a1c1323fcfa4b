package httpapi

import (
	"encoding/json"
	"net/http"
)

// setBillingHeaders marks an answer as private and not to be sniffed. Every billing
// answer carries them, errors and redirects included.
func setBillingHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeBody writes status, the billing headers, a content type and body.
func writeBody(w Response, status int, contentType string, body []byte) {
	h := w.Header()
	setBillingHeaders(h)
	h.Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSONBody encodes v with encoding/json (fixed member order, HTML-escaped, one trailing
// newline) as application/json; charset=utf-8.
func writeJSONBody(w Response, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteError(w, err)
		return
	}
	writeBody(w, status, JSONContentType, append(body, '\n'))
}

// writeNoContent answers 204 with the billing headers.
func writeNoContent(w Response) {
	setBillingHeaders(w.Header())
	w.WriteHeader(http.StatusNoContent)
}

// writeSeeOther answers 303 See Other to location (an absolute URL built from config).
func writeSeeOther(w Response, location string) {
	h := w.Header()
	setBillingHeaders(h)
	h.Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}
