package core

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/billkey/billkey/internal/idrule"
)

// Identifier prefixes. Every identifier billkey generates is alphanumeric (R3).
const (
	prefixIssuance    = "bki"  // merchant_uid of an issuance
	prefixCharge      = "bkc"  // merchant_uid of a charge
	prefixCustomerUID = "bkcu" // customer_uid: prefix + 32 hex digits (128 random bits)

	// firstChargeKeyPrefix starts the idempotency key of the charge made when an issuance
	// with a plan completes. Callers' keys may not start with it.
	firstChargeKeyPrefix = "billkey:"
)

const base36Digits = "0123456789abcdefghijklmnopqrstuvwxyz"

// newMerchantUID returns prefix + 13 base36 digits of t (nanoseconds, so identifiers sort
// by creation time) + 16 random base36 digits (about 82 bits): 32 alphanumeric characters.
func newMerchantUID(prefix string, t time.Time) string {
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	ts := strconv.FormatInt(ns, 36)
	var b strings.Builder
	b.Grow(len(prefix) + 13 + 16)
	b.WriteString(prefix)
	for i := len(ts); i < 13; i++ {
		b.WriteByte('0')
	}
	b.WriteString(ts)
	b.WriteString(randomBase36(16))
	return b.String()
}

// randomBase36 returns n unbiased random base36 digits from crypto/rand.
func randomBase36(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+8)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails (crypto/rand aborts the program instead)
		for _, c := range buf {
			if c >= 252 { // 252 = 7*36: reject to stay unbiased
				continue
			}
			out = append(out, base36Digits[c%36])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// newCustomerUID returns "bkcu" + 32 hex digits: 128 bits from crypto/rand.
func newCustomerUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefixCustomerUID + hex.EncodeToString(b[:])
}

// newInstanceID returns a random id naming this process in row claims.
func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "bk-" + hex.EncodeToString(b[:])
}

// generated reports whether merchantUID is one billkey made: a known prefix, then
// letters and digits only. A webhook for any other merchant_uid is not ours.
func generated(merchantUID string) bool {
	return (strings.HasPrefix(merchantUID, prefixIssuance) || strings.HasPrefix(merchantUID, prefixCharge)) &&
		len(merchantUID) <= idrule.MerchantUID.Max && idrule.Alnum.Admits(merchantUID)
}

// isPrintableASCII reports whether s is 1..max bytes of printable ASCII (spaces allowed
// inside).
func isPrintableASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// cleanText drops control and format characters and invalid bytes, trims spaces and cuts
// the result to max characters.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:max]))
	}
	return s
}

// maskCustomerUID shows the first 8 characters of a customer_uid: enough to correlate log
// lines, far too little to use the key.
func maskCustomerUID(s string) string {
	if len(s) <= 8 {
		return strings.Repeat("*", len(s))
	}
	return s[:8] + "****"
}

var customerUIDPattern = regexp.MustCompile(prefixCustomerUID + `[0-9a-f]{32}`)

// scrub masks every billkey customer_uid inside s. iamport's messages may quote the
// customer_uid they were asked about, so anything from iamport passes through scrub
// before it reaches a log line, an event or a record a user can read.
func scrub(s string) string {
	if !strings.Contains(s, prefixCustomerUID) {
		return s
	}
	return customerUIDPattern.ReplaceAllStringFunc(s, maskCustomerUID)
}

// errText renders err for a log line, scrubbed.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return scrub(err.Error())
}
