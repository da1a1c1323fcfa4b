package adaptertest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCoreImportsNoFramework fails when core, or anything it imports, pulls in a web
// framework: adapters are the only place for them.
func TestCoreImportsNoFramework(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go binary not on PATH; cannot list core's dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/billkey/billkey/core/...").CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/billkey/billkey/core", "go list saw core")
	for _, dep := range deps {
		for _, banned := range []string{"github.com/gin-gonic/", "github.com/gofiber/", "github.com/valyala/fasthttp"} {
			assert.False(t, strings.HasPrefix(dep, banned), "core depends on %s", dep)
		}
	}
}
