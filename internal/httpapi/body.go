package httpapi

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
)

// requireJSON refuses a request whose Content-Type is not application/json (parameters
// such as charset=utf-8 allowed; another charset is refused).
func requireJSON(h http.Header) error {
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.EqualFold(mt, mediaJSON) {
		return unsupportedMedia("Send the body as application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupportedMedia("Send the body as UTF-8 JSON.")
	}
	return nil
}

// readCappedBody reads at most max bytes (Config.MaxBodyBytes) of the request body: the
// one cap on request bodies. A longer body, or a declared Content-Length above max, is
// body_too_large.
func readCappedBody(r Request, max int64) ([]byte, error) {
	tooLarge := &core.Error{Code: codes.BodyTooLarge,
		Detail: "The request body is larger than " + strconv.FormatInt(max, 10) + " bytes."}
	if cl := r.Header().Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n > max {
			return nil, tooLarge
		}
	}
	body := r.Body()
	if body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if int64(len(b)) > max {
		return nil, tooLarge
	}
	if err != nil {
		return nil, malformedInput("The request body could not be read.")
	}
	return b, nil
}
