package iamporttest

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Test card numbers for the fake payment window and IssueBillingKey. Digits only or with
// dashes/spaces; the fake normalises. Any other number (or one that is not 15–16 digits)
// is refused at issuance, like an invalid card.
const (
	CardOK           = "4111-1111-1111-1111" // issued; every charge pays
	CardRefused      = "4000-0000-0000-0002" // refused at issuance (no key stored)
	CardDeclined     = "4000-0000-0000-0069" // issued; every charge is declined (code 0, status failed)
	CardDeclineAfter = "4000-0000-0000-03"   // prefix + two digits NN: issued; first NN charges pay, then declined
)

// Reasons the fake writes into fail_reason (and the window's error_msg).
const (
	// FailReasonRefused: the card was refused at issuance (CardRefused or an unknown number).
	FailReasonRefused = "카드정보 인증에 실패하였습니다."
	// FailReasonDeclined: a charge of a key issued with CardDeclined or CardDeclineAfter
	// (past its NN charges) was declined by the card company.
	FailReasonDeclined = "[8012] 잔액부족 또는 한도초과로 승인이 거절되었습니다."
)

// Error codes the fake payment window returns in rsp.error_code and in the error_code query
// of the mobile redirect.
const (
	// IssueErrInvalid: the request broke a kcp_billing rule (pg, pay_method, customer_uid,
	// merchant_uid, amount, m_redirect_url) or reused a paid merchant_uid. Nothing recorded.
	IssueErrInvalid = "F400"
	// IssueErrRefused: the card was refused; a failed issuance payment is recorded.
	IssueErrRefused = "F300"
)

type cardKind int

const (
	cardInvalid cardKind = iota
	cardOK
	cardRefused
	cardDeclined
	cardDeclineAfter
)

// testCard is what a typed card number means to the fake.
type testCard struct {
	kind   cardKind
	digits string
	after  int    // cardDeclineAfter: charges that pay before declines start
	name   string // card_name
	code   string // card_code (금융결제원 card company code)
}

func cardDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, s)
}

var (
	digitsOK           = cardDigits(CardOK)
	digitsRefused      = cardDigits(CardRefused)
	digitsDeclined     = cardDigits(CardDeclined)
	digitsDeclineAfter = cardDigits(CardDeclineAfter)
)

// parseCard classifies a typed card number.
func parseCard(s string) testCard {
	d := cardDigits(s)
	if len(d) < 15 || len(d) > 16 {
		return testCard{kind: cardInvalid}
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return testCard{kind: cardInvalid}
		}
	}
	switch {
	case d == digitsOK:
		return testCard{kind: cardOK, digits: d, name: "BC카드", code: "361"}
	case d == digitsRefused:
		return testCard{kind: cardRefused, digits: d}
	case d == digitsDeclined:
		return testCard{kind: cardDeclined, digits: d, name: "국민KB카드", code: "381"}
	case len(d) == len(digitsDeclineAfter)+2 && strings.HasPrefix(d, digitsDeclineAfter):
		n, _ := strconv.Atoi(d[len(digitsDeclineAfter):])
		return testCard{kind: cardDeclineAfter, digits: d, after: n, name: "신한카드", code: "366"}
	}
	return testCard{kind: cardInvalid, digits: d}
}

// issuable reports whether a key can be issued for the card.
func (c testCard) issuable() bool {
	return c.kind == cardOK || c.kind == cardDeclined || c.kind == cardDeclineAfter
}

// pays reports whether the next charge of a key pays, given the paid charges so far.
func (c testCard) pays(paidSoFar int) bool {
	switch c.kind {
	case cardOK:
		return true
	case cardDeclineAfter:
		return paidSoFar < c.after
	}
	return false
}

// masked is the card number as iamport shows it: first six and last four digits.
func (c testCard) masked() string {
	if len(c.digits) < 10 {
		return ""
	}
	return c.digits[:6] + strings.Repeat("*", len(c.digits)-10) + c.digits[len(c.digits)-4:]
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rand.IntN(10))
	}
	return string(b)
}

func randomAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func randomHex(n int) string {
	const alphabet = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// newImpUIDLocked returns an imp_uid not used yet: "imps_" and 12 digits.
func (f *Fake) newImpUIDLocked() string {
	for {
		id := "imps_" + randomDigits(12)
		if _, used := f.byImpUID[id]; !used {
			return id
		}
	}
}
