package idrule

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		ok   []string
		bad  map[string]Problem
	}{
		{MerchantUID, []string{"bkc0k3x9q2m1a", "shop-order_2026.03", "주문-1", strings.Repeat("a", 40)},
			map[string]Problem{"": Required, strings.Repeat("a", 41): TooLong, "a/b": Invalid, "a b": Invalid, "a?b": Invalid, "..": Invalid, "a%2F": Invalid, "a\x00": Invalid, "\xff": Invalid}},
		{ImpUID, []string{"imp_123456789012", "imps_123456789012"},
			map[string]Problem{"": Required, strings.Repeat("a", 33): TooLong, "imp 1": Invalid, "imp/1": Invalid, "imp_１": Invalid}},
		{CustomerUID, []string{"bkcu" + strings.Repeat("0", 32), strings.Repeat("c", 80)},
			map[string]Problem{strings.Repeat("c", 81): TooLong, "a#b": Invalid}},
		{IdempotencyKey, []string{"renewal-2024-05", "renewal 2024 05", "k", strings.Repeat("k", 128), `a"b`},
			map[string]Problem{"": Required, strings.Repeat("k", 129): TooLong, " lead": Invalid, "trail ": Invalid, "tab\tkey": Invalid, "키": Invalid}},
		{PlanID, []string{"basic", "pro.monthly", "b_2-x", "9"},
			map[string]Problem{".hidden": Invalid, "-x": Invalid, "a b": Invalid, strings.Repeat("p", 65): TooLong}},
		{CancellationID, []string{"abc123XYZ", "c-1_2.3"},
			map[string]Problem{"a b": Invalid, strings.Repeat("c", 129): TooLong}},
		{PaymentStatus, []string{"paid", "cancelled", "ready"},
			map[string]Problem{"paid!": Invalid, "1": Invalid, strings.Repeat("s", 33): TooLong}},
		{MerchantCode, []string{"imp12345678", "impA1"},
			map[string]Problem{"imp": Invalid, "12345678": Invalid, "imp-1": Invalid, "imp" + strings.Repeat("1", 33): TooLong}},
		{UserID, []string{"user-1", "홍길동", strings.Repeat("가", 128)},
			map[string]Problem{strings.Repeat("가", 129): TooLong, "a\nb": Invalid, "a\u200eb": Invalid}},
		{OrderName, []string{"Basic 월간", strings.Repeat("이", 40)},
			map[string]Problem{strings.Repeat("이", 41): TooLong, "x\ty": Invalid}},
	} {
		for _, s := range tc.ok {
			assert.Equal(t, Problem(""), tc.rule.Check(s), "%s %q", tc.rule.Name, s)
			assert.True(t, tc.rule.Valid(s))
		}
		for s, want := range tc.bad {
			assert.Equal(t, want, tc.rule.Check(s), "%s %q", tc.rule.Name, s)
		}
	}
}

func TestValidPG(t *testing.T) {
	for _, ok := range []string{"kcp_billing", "kcp_billing.T0000", "kcp_billing.site-1_a"} {
		assert.True(t, ValidPG(ok), ok)
	}
	for _, bad := range []string{"", "kcp", "kcp_billing.", "kcp_billing.a b", "kcp_billing." + strings.Repeat("s", 41), "html5_inicis"} {
		assert.False(t, ValidPG(bad), bad)
	}
}

// Every rule is a validator tag of the one instance, checking what Check checks.
func TestValidatorTags(t *testing.T) {
	for _, r := range rules {
		short := r.Prefix + "a"
		assert.NoError(t, Validate.Var(short, r.Name), r.Name+" accepts a short value")
		assert.Error(t, Validate.Var(r.Prefix+strings.Repeat("a", r.Max+1-len(r.Prefix)), r.Name), r.Name+" refuses a long value")
		assert.Equal(t, r.Valid("a b"), Validate.Var("a b", r.Name) == nil, r.Name+" agrees with Check")
	}
	assert.NoError(t, Validate.Var("kcp_billing", "pg"))
	assert.Error(t, Validate.Var("kcp", "pg"))
}

func TestDescribe(t *testing.T) {
	assert.Equal(t, "1 to 128 printable ASCII characters (no space at either end)", IdempotencyKey.Describe())
	assert.Contains(t, MerchantCode.Describe(), `starting with "imp"`)
}
