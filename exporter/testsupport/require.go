package testsupport

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/minewatch/minewatch/exporter/proc"
)

// CIEnv names the environment variable that marks a CI run: with it set, a
// test whose real component is missing fails instead of skipping.
const CIEnv = "CI"

// Missing ends a test whose real part is absent: skipped on a developer's
// machine, failed under CI (where .ci/deps.sh should have installed it), so
// that CI never passes by hiding a test. why says what is missing and how to
// get it.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	why := fmt.Sprintf(format, args...)
	if os.Getenv(CIEnv) == "" {
		tb.Skipf("%s (under CI this fails instead)", why)
	}
	tb.Fatalf("%s, but %s is set: .ci/deps.sh installs it", why, CIEnv)
}

// Require finds the first of names (a Debian-packaged binary a test runs
// against) in PATH, the demo's cache of unpacked packages (under the
// repository root), /usr/sbin or /usr/bin. Without it the test ends through
// Missing.
func Require(tb testing.TB, names ...string) string {
	tb.Helper()
	if p, err := proc.Find(names...); err == nil {
		return p
	}
	dirs := []string{filepath.Join(RepoRoot(tb), proc.CacheBin), "/usr/sbin", "/usr/bin"}
	for _, n := range names {
		for _, dir := range dirs {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	Missing(tb, "%v not installed (a Debian package)", names)
	return ""
}
