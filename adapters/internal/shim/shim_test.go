package shim

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

func TestColonPattern(t *testing.T) {
	assert.Equal(t, "/charges", ColonPattern("/charges"))
	assert.Equal(t, "/charges/:merchant_uid", ColonPattern("/charges/{merchant_uid}"))
	assert.Equal(t, "/a/:x/b/:y", ColonPattern("/a/{x}/b/{y}"))
	for _, bad := range []string{"/a/{rest...}", "/a/{$}", "/a/{}", "/a/{x", "/a/{x-y}"} {
		assert.Panics(t, func() { ColonPattern(bad) }, bad)
	}
}

func TestParamNames(t *testing.T) {
	assert.Nil(t, ParamNames("/charges"))
	assert.Equal(t, []string{"merchant_uid"}, ParamNames("/charges/{merchant_uid}"))
	assert.Equal(t, []string{"x", "y"}, ParamNames("/a/{x}/b/{y}"))
}

func TestPrefixAndPath(t *testing.T) {
	assert.Equal(t, "", Prefix(""))
	assert.Equal(t, "", Prefix("/"))
	assert.Equal(t, "/billing", Prefix("/billing/"))
	assert.Equal(t, "/a/b", Prefix("/a/b"))
	for _, bad := range []string{"billing", "/bill ing", "/b/{x}"} {
		assert.Panics(t, func() { Prefix(bad) }, bad)
	}
	assert.Equal(t, "/hook", Path("/hook"))
	assert.Panics(t, func() { Path("") })
	assert.Panics(t, func() { Path("hook") })
}

func TestReadCapped(t *testing.T) {
	read := func(r io.Reader) string {
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		return string(b)
	}
	r, tooLarge := ReadCapped(strings.NewReader("12345"), 5, 5)
	require.False(t, tooLarge)
	assert.Equal(t, "12345", read(r))

	_, tooLarge = ReadCapped(strings.NewReader("123456"), 6, 5)
	assert.True(t, tooLarge, "declared over the cap")
	_, tooLarge = ReadCapped(strings.NewReader("123456"), -1, 5)
	assert.True(t, tooLarge, "streamed over the cap")
	_, tooLarge = ReadCapped(strings.NewReader("123456"), 2, 5)
	assert.True(t, tooLarge, "more than declared and over the cap")

	r, tooLarge = ReadCapped(http.NoBody, 0, 5)
	require.False(t, tooLarge)
	assert.Equal(t, "", read(r))
	r, tooLarge = ReadCapped(nil, -1, 5)
	require.False(t, tooLarge)
	assert.Equal(t, "", read(r))

	// A read error part-way is passed on after the bytes read.
	boom := errors.New("connection reset")
	r, tooLarge = ReadCapped(io.MultiReader(strings.NewReader("12"), iotest.ErrReader(boom)), -1, 5)
	require.False(t, tooLarge)
	b, err := io.ReadAll(r)
	assert.Equal(t, "12", string(b))
	assert.ErrorIs(t, err, boom)
}

func TestPanicError(t *testing.T) {
	cause := errors.New("cause")
	e := &PanicError{Value: cause}
	assert.ErrorIs(t, e, cause)
	assert.Contains(t, e.Error(), "cause")
	assert.NoError(t, (&PanicError{Value: 42}).Unwrap())
}

func TestOptions(t *testing.T) {
	type ctx struct{ user string }
	var hooked []error
	o := NewOptions([]func(*Options[*ctx]){
		nil,
		func(o *Options[*ctx]) { o.ErrorHook = func(_ *ctx, err error) { hooked = append(hooked, err) } },
	})
	b, err := o.BuyerOf(&ctx{user: "u"})
	require.NoError(t, err)
	assert.Zero(t, b, "no buyer hook: nobody")
	o.Buyer = func(c *ctx) (core.Buyer, error) { return core.Buyer{UserID: c.user}, nil }
	b, err = o.BuyerOf(&ctx{user: "u"})
	require.NoError(t, err)
	assert.Equal(t, "u", b.UserID)

	body := strings.NewReader("123456")
	got, ok := o.CapBody(nil, NewStreamResponse(httptest.NewRecorder(), nil), body, 6)
	require.True(t, ok)
	assert.Same(t, body, got, "no limit: the body as it is")

	o.BodyLimit = 5
	rec := httptest.NewRecorder()
	_, ok = o.CapBody(nil, NewStreamResponse(rec, nil), body, 6)
	require.False(t, ok)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Empty(t, hooked, "the 413 was written")

	NewOptions[*ctx, func(*Options[*ctx])](nil).Report(nil, errors.New("no hook, no panic"))
}
