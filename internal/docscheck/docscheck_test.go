// Package docscheck holds the tests that keep the project's documents true to the code.
package docscheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the module's root, from this package's directory.
const root = "../.."

// testFuncs is every Test function name declared in the module's _test.go files.
func testFuncs(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".ci")) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	require.NoError(t, err)
	return names
}

// Every test docs/guarantees.md names as holding a promise exists.
func TestGuaranteesNameRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "guarantees.md"))
	require.NoError(t, err)
	have := testFuncs(t)
	cited := regexp.MustCompile("`(Test[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1)
	require.NotEmpty(t, cited)
	for _, m := range cited {
		assert.True(t, have[m[1]], "docs/guarantees.md cites %s, which no test file declares", m[1])
	}
}

// Comments cite promises inside the repository (docs/guarantees.md), never the shared
// notes the project was written from.
func TestCommentsCiteTheRepository(t *testing.T) {
	facts, rel := "FAC"+"TS", "RELIA"+"BILITY" // spelled apart so this file does not match itself
	bad := regexp.MustCompile(facts + `\.md|` + facts + ` §|` + rel + `\.md`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || strings.HasPrefix(d.Name(), ".ci")) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assert.False(t, bad.Match(b), "%s cites notes outside the repository", path)
		return nil
	})
	require.NoError(t, err)
}
