package core

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var landingPub, _ = url.Parse("https://shop.example.com/billing")

// R15: whatever is configured as a landing page, what is accepted stays on PublicURL's
// origin.
func TestLandingURLStaysOnOrigin(t *testing.T) {
	good := map[string]string{
		"/done":                                  "https://shop.example.com/done",
		"/account/billing?tab=card":              "https://shop.example.com/account/billing?tab=card",
		"https://shop.example.com/x":             "https://shop.example.com/x",
		"HTTPS://SHOP.EXAMPLE.COM/x":             "https://shop.example.com/x",
		"/a%2Fb":                                 "https://shop.example.com/a%2Fb",
		"https://shop.example.com/x?next=//evil": "https://shop.example.com/x?next=//evil",
	}
	for in, want := range good {
		got, err := checkLandingURL(in, landingPub)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	bad := []string{
		"", "done", "//evil.example.net", "///evil.example.net", "/\\evil.example.net",
		"\\\\evil.example.net", "/%2F/evil.example.net", "/%2fevil.example.net", "/%5Cevil.example.net",
		"https://evil.example.net/", "https://shop.example.com.evil.net/", "https://shop.example.com@evil.net/",
		"https://user@shop.example.com/", "http://shop.example.com/", "https://shop.example.com:8443/",
		"javascript:alert(1)", "data:text/html,x", "https:evil.example.net", "https:/evil.example.net",
		"/done#frag", "/ done", "/done\r\nLocation: https://evil", "https://shop.example.com/\t",
	}
	for _, in := range bad {
		_, err := checkLandingURL(in, landingPub)
		assert.Error(t, err, in)
	}
}

func FuzzLandingURL(f *testing.F) {
	for _, s := range []string{"/done", "//evil", "/\\evil", "https://shop.example.com/x", "https://evil/x", "/%2F%2Fevil", "https:evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := checkLandingURL(in, landingPub)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil {
			t.Fatalf("accepted %q as %q, which does not parse: %v", in, got, perr)
		}
		if u.Scheme != "https" || u.Host != "shop.example.com" || u.User != nil {
			t.Fatalf("accepted %q as %q, off the origin", in, got)
		}
		if strings.HasPrefix(u.Path, "//") || strings.Contains(got, "\\") {
			t.Fatalf("accepted %q as %q", in, got)
		}
	})
}
