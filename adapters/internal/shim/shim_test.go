package shim

import (
	"errors"
	"testing"

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

	NewOptions[*ctx, func(*Options[*ctx])](nil).Report(nil, errors.New("no hook, no panic"))
}
