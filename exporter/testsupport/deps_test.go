package testsupport

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/minewatch/minewatch"

// testOnly are our packages that exist for tests and that no binary may link.
var testOnly = []string{
	module + "/exporter/testsupport",
	module + "/plugin/pkg/campaign/vmtest",
	module + "/plugin/pkg/plugintest",
}

// thirdPartyTesting are the libraries allowed to pull package testing into a
// binary because we cannot cut them out: the Grafana plugin SDK serves the
// backend through hashicorp/go-plugin, whose package plugin has a testing.go
// without a build tag. A new importer of testing fails the test.
var thirdPartyTesting = map[string]bool{
	"github.com/hashicorp/go-plugin": true,
}

// goTool is the go command that runs this test (go test puts GOROOT in the
// environment; PATH may lack it).
func goTool(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); isFile(p) {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); isFile(p) {
		return p
	}
	t.Fatal("go command not found (neither $GOROOT/bin/go nor in PATH)")
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// importersOf lists, for the binary main package pkg, every package in its
// dependency graph and the ones among them that import want.
func importersOf(t *testing.T, pkg, want string) (deps, importers []string) {
	t.Helper()
	cmd := exec.Command(goTool(t), "list", "-deps", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}", pkg)
	cmd.Dir = RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
	}
	for line := range strings.Lines(string(out)) {
		path, imports, _ := strings.Cut(strings.TrimSpace(line), "\t")
		deps = append(deps, path)
		if slices.Contains(strings.Fields(imports), want) {
			importers = append(importers, path)
		}
	}
	return deps, importers
}

// TestBinariesDoNotLinkTestCode: the shipped binaries link neither package
// testing nor our test-only packages. minewatch and minewatch-exporter link
// no testing at all; the Grafana plugin backend links it only through the
// SDK's hashicorp/go-plugin.
func TestBinariesDoNotLinkTestCode(t *testing.T) {
	for _, bin := range []struct {
		pkg        string
		thirdParty bool // whether thirdPartyTesting may bring testing in
	}{
		{"./exporter/cmd/minewatch", false},
		{"./exporter/cmd/minewatch-exporter", false},
		{"./plugin/pkg", true},
	} {
		t.Run(bin.pkg, func(t *testing.T) {
			deps, importers := importersOf(t, bin.pkg, "testing")
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed only %v: not a binary's graph", bin.pkg, deps)
			}
			for _, p := range testOnly {
				if slices.Contains(deps, p) {
					t.Errorf("%s links the test-only package %s", bin.pkg, p)
				}
			}
			for _, imp := range importers {
				if !bin.thirdParty || !thirdPartyTesting[imp] {
					t.Errorf("%s links package testing through %s", bin.pkg, imp)
				}
			}
		})
	}
}
