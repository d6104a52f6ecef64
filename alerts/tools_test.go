package alerts

import (
	"os"
	"os/exec"
	"testing"
)

// tool finds a Debian-packaged binary the test needs. Without it the test is skipped,
// except under CI, where a missing tool must fail the build instead of hiding a test.
func tool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skipf("%v not installed (Debian package needed; CI fails instead of skipping)", names)
	}
	t.Fatalf("%v not installed", names)
	return ""
}
