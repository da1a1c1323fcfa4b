package core

import (
	"strings"
	"testing"
	"time"

	"github.com/billkey/billkey/internal/idrule"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMerchantUIDShape(t *testing.T) {
	seen := make(map[string]bool)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for range 20000 {
		id := newMerchantUID(prefixCharge, now) // same instant: uniqueness from the random part
		require.Len(t, id, 32)
		require.True(t, generated(id), id)
		require.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
	}
	a := newMerchantUID(prefixIssuance, now)
	b := newMerchantUID(prefixIssuance, now.Add(time.Nanosecond))
	assert.Less(t, a[:16], b[:16]+"~", "time prefix sorts")
	assert.Equal(t, strings.Repeat("0", 13), newMerchantUID("", time.Unix(0, -5))[:13])
	assert.LessOrEqual(t, len(newMerchantUID(prefixIssuance, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))), idrule.MerchantUID.Max)
}

func TestCustomerUIDShape(t *testing.T) {
	seen := make(map[string]bool)
	for range 10000 {
		id := newCustomerUID()
		require.Regexp(t, `^bkcu[0-9a-f]{32}$`, id)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestRandomBase36Unbiased(t *testing.T) {
	counts := make(map[rune]int)
	s := randomBase36(36 * 2000)
	for _, r := range s {
		counts[r]++
	}
	require.Len(t, counts, 36)
	for r, n := range counts {
		// Expected 2000 each; a wide band keeps this free of flakes while catching a
		// modulo bias of the size 256 % 36 would cause.
		assert.InDelta(t, 2000, n, 400, "digit %c", r)
	}
}

// generated tells billkey's merchant_uids from anyone else's: a webhook for another
// one is not ours.
func TestGeneratedMerchantUID(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	assert.True(t, generated(newMerchantUID(prefixCharge, now)))
	assert.True(t, generated(newMerchantUID(prefixIssuance, now)))
	for _, other := range []string{"", "order-1", "bki-1", "bkc_1", "bkc" + strings.Repeat("a", 38), "bki 1", "ｂki1", "shop-order_2026/03#1"} {
		assert.False(t, generated(other), other)
	}
}

func TestScrubAndMask(t *testing.T) {
	cu := newCustomerUID()
	msg := "요청하신 customer_uid(" + cu + ")로 등록된 정보를 찾을 수 없습니다. again: " + cu
	got := scrub(msg)
	assert.NotContains(t, got, cu)
	assert.Contains(t, got, cu[:8]+"****")
	assert.Equal(t, "no ids here", scrub("no ids here"))
	assert.Equal(t, "bkcu1234****", maskCustomerUID("bkcu1234abcd"))
	assert.Equal(t, "****", maskCustomerUID("abcd"))

	assert.Equal(t, "4111-11**-****-1111", maskCardNumber("4111-1111-1111-1111"))
	assert.Equal(t, "411111******1111", maskCardNumber("4111111111111111"))
	assert.Equal(t, "536112******1234", maskCardNumber("536112******1234"), "already masked")
	assert.Equal(t, "", maskCardNumber(""))
}

func TestCleanText(t *testing.T) {
	assert.Equal(t, "가나다", cleanText("  가\x00나\u200b다\n ", 10))
	assert.Equal(t, "abc", cleanText("abcdef", 3))
	assert.Equal(t, "ab", cleanText("ab\xffc"[:3], 5))
	assert.Equal(t, "", fitOrDrop("a@"+strings.Repeat("b", 70), 64))
	assert.Equal(t, "a@b.c", fitOrDrop(" a@b.c ", 64))
}
