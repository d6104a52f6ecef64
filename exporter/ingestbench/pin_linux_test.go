//go:build linux

package ingestbench

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// cpusAllowed is the Cpus_allowed_list line of a /proc status file.
func cpusAllowed(t *testing.T, status string) string {
	t.Helper()
	b, err := os.ReadFile(status)
	if err != nil {
		return "" // a thread that ended
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s: no Cpus_allowed_list", status)
	return ""
}

// cpuList renders CPUs as the kernel's list does for what Pin makes
// (single CPUs, or one range).
func cpuList(cpus []int) string {
	if len(cpus) == 1 {
		return strconv.Itoa(cpus[0])
	}
	return strconv.Itoa(cpus[0]) + "-" + strconv.Itoa(cpus[len(cpus)-1])
}

// TestPin: after Pin every thread of this process, also one made after,
// runs on the sender's CPU only; a receiver started through startProc runs
// on the others from its start; Unpin gives the threads every CPU back.
func TestPin(t *testing.T) {
	if runtime.NumCPU() < 2 {
		testsupport.Missing(t, "pinning needs two CPUs, this machine has %d", runtime.NumCPU())
	}
	before := cpusAllowed(t, "/proc/self/status")
	p, err := Pin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unpin(p); err != nil {
			t.Error(err)
		}
		if got := cpusAllowed(t, "/proc/self/status"); got != before {
			t.Errorf("after Unpin the main thread may use %q, before Pin %q", got, before)
		}
	})
	if len(p.Receivers) == 0 || p.Sender < 0 {
		t.Fatalf("pinning %+v", p)
	}
	// A thread made after Pin (a goroutine locked to a new thread while the
	// others are busy) inherits the sender's CPU.
	ready, release := make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(ready)
		<-release
	}()
	<-ready
	want := strconv.Itoa(p.Sender)
	threadsOn(t, want, "after Pin")
	close(release)

	dir := t.TempDir()
	pr, err := startProc(dir, "/bin/sh", flow.NetFlowV9, "-c", "grep Cpus_allowed_list /proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "sh.log")
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(log); strings.Contains(string(b), "\n") {
			out = string(b)
			break
		}
	}
	pr.Stop()
	if got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Cpus_allowed_list:")); got != cpuList(p.Receivers) {
		t.Errorf("receiver started pinned may use CPUs %q (output %q), want the receivers' %q", got, out, cpuList(p.Receivers))
	}
	// The thread that forked it is the sender's again.
	threadsOn(t, want, "after a receiver start")
}

// threadsOn checks that every thread of this process may use exactly cpus.
func threadsOn(t *testing.T, cpus, when string) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if got := cpusAllowed(t, filepath.Join("/proc/self/task", e.Name(), "status")); got != "" && got != cpus {
			t.Errorf("%s: thread %s may use CPUs %q, want only %q", when, e.Name(), got, cpus)
		}
	}
}
