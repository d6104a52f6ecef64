package demo

import (
	"os"
	"path/filepath"
	"testing"
)

// Require finds the first of names (a Debian-packaged binary a test runs
// against) in PATH, /usr/sbin, /usr/bin or the demo's cache. Without it the
// test is skipped, except under CI (CI set), where a missing real component
// must fail instead of hiding a test.
func Require(t testing.TB, names ...string) string {
	t.Helper()
	if p, err := Find(names...); err == nil {
		return p
	}
	for _, n := range names {
		for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
			if p := filepath.Join(dir, n); isExec(p) {
				return p
			}
		}
	}
	if os.Getenv("CI") == "" {
		t.Skipf("%v not installed (a Debian package; under CI this fails instead)", names)
	}
	t.Fatalf("%v not installed but CI is set: .ci/deps.sh installs it", names)
	return ""
}
