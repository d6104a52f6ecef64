//go:build linux

package testsupport

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// EnterNetns moves the calling goroutine's thread into the network namespace
// that `ip netns add name` made, for good: the thread is locked and never
// unlocked, so the runtime throws it away when the goroutine ends instead of
// running other goroutines in that namespace. Call it from a goroutine of
// its own.
func EnterNetns(name string) error {
	runtime.LockOSThread()
	f, err := os.Open(filepath.Join("/var/run/netns", name))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", name, err)
	}
	return nil
}

// Netns makes a network namespace with a name of its own (prefix, the
// process id and tag) and its loopback up, deleted when the test ends; ip is
// the iproute2 binary.
func Netns(tb testing.TB, ip, prefix, tag string) string {
	tb.Helper()
	name := fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), tag)
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v\n%s", name, err, out)
	}
	tb.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
	if out, err := exec.Command(ip, "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		tb.Fatalf("ip -n %s link set lo up: %v\n%s", name, err, out)
	}
	return name
}
