// Package testsupport holds what tests share and no binary may link: finding
// the shared test material, finding the real Debian tools a test runs
// against, and the rule that a missing real part fails under CI instead of
// skipping. Only _test.go files import it (a test of the binaries' imports
// keeps it that way).
package testsupport

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedEnv names the environment variable that overrides where the shared
// material lives (default: ../shared beside the repository root).
const SharedEnv = "MINEWATCH_SHARED"

// RepoRoot is the directory holding go.mod, found upwards from the test's
// working directory (go test runs each package in its own directory).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s", dir)
		}
	}
}

// SharedDir returns the shared material's directory: $MINEWATCH_SHARED if
// set, else ../shared next to the repository root. A missing directory fails
// the test and says where it looked.
func SharedDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv(SharedEnv)
	how := "$" + SharedEnv
	if dir == "" {
		dir = filepath.Join(filepath.Dir(RepoRoot(tb)), "shared")
		how = "../shared beside the repository root (set " + SharedEnv + " to look elsewhere)"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		tb.Fatalf("shared test material not found at %s (%s)", dir, how)
	}
	return dir
}

// Shared returns a path below the shared material, which must exist.
func Shared(tb testing.TB, rel ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{SharedDir(tb)}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("shared test material missing: %s: %v", p, err)
	}
	return p
}
