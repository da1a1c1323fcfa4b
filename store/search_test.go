package store

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{CreatedAt: time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC), ID: "bkc0abc"}
	got, err := ParseCursor(c.String())
	require.NoError(t, err)
	assert.True(t, c.CreatedAt.Equal(got.CreatedAt))
	assert.Equal(t, c.ID, got.ID)

	zero, err := ParseCursor("")
	require.NoError(t, err)
	assert.True(t, zero.IsZero())
	assert.Empty(t, Cursor{}.String())

	for _, bad := range []string{"!!", "bm90LWEtY3Vyc29y", strings.Repeat("a", 300), Cursor{CreatedAt: c.CreatedAt, ID: "a b"}.String()} {
		_, err := ParseCursor(bad)
		assert.ErrorIs(t, err, ErrBadCursor, bad)
	}
}

func TestAppendNote(t *testing.T) {
	var h []Note
	for i := range MaxNotes + 5 {
		h = AppendNote(h, Note{Text: strings.Repeat("가", 100) + string(rune('a'+i%26))})
	}
	assert.Len(t, h, MaxNotes, "the oldest are dropped")
	assert.LessOrEqual(t, len(h[0].Text), MaxNoteLen)
	assert.True(t, strings.HasSuffix(h[0].Text, "가"), "cut on a rune boundary")
}
