// Package tracetest produces, for a test, the lease and accounting files a
// real network writes: Kea leases an address to dhclient across a veth pair
// between two network namespaces the test makes (no traffic touches the
// host's network), and FreeRADIUS on loopback writes the user's accounting
// to its detail file. The trace's own tests and the `minewatch case` CLI
// test read the same real output.
package tracetest

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/exporter/testsupport/radiustest"
	"github.com/minewatch/minewatch/plugin/pkg/trace/lease"
)

// MAC is the PC's MAC address; Account its user's RADIUS account.
const (
	MAC     = "52:54:00:12:34:56"
	Account = "zhang3"
)

// run runs a command and fails the test with its output if it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Netns is a pair of network namespaces joined by a veth pair: the DHCP
// server's (10.77.0.1/24) and the client's (MAC), so that no traffic
// touches the host's network.
type Netns struct {
	IPBin              string
	Server, Client     string // namespace names
	ServerIf, ClientIf string
}

// NewNetns makes the namespaces; the test's cleanup removes them. Without
// ip or root the test is skipped (failed under CI=true).
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	ipBin := testsupport.Require(t, "ip")
	if os.Geteuid() != 0 {
		testsupport.Missing(t, "network namespaces need root (CI runs the tests as root)")
	}
	id := os.Getpid() % 1_000_000
	n := &Netns{IPBin: ipBin, Server: fmt.Sprintf("mwtrace-s-%d", id), Client: fmt.Sprintf("mwtrace-c-%d", id),
		ServerIf: fmt.Sprintf("mwts%d", id), ClientIf: fmt.Sprintf("mwtc%d", id)}
	if out, err := exec.Command(ipBin, "netns", "add", n.Server).CombinedOutput(); err != nil {
		testsupport.Missing(t, "cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ipBin, "netns", "del", n.Server).Run() })
	run(t, ipBin, "netns", "add", n.Client)
	t.Cleanup(func() { exec.Command(ipBin, "netns", "del", n.Client).Run() })
	run(t, ipBin, "link", "add", n.ServerIf, "type", "veth", "peer", "name", n.ClientIf)
	run(t, ipBin, "link", "set", n.ServerIf, "netns", n.Server)
	run(t, ipBin, "link", "set", n.ClientIf, "netns", n.Client)
	run(t, ipBin, "-n", n.Server, "addr", "add", "10.77.0.1/24", "dev", n.ServerIf)
	run(t, ipBin, "-n", n.Server, "link", "set", n.ServerIf, "up")
	run(t, ipBin, "-n", n.Client, "link", "set", n.ClientIf, "address", MAC)
	run(t, ipBin, "-n", n.Client, "link", "set", n.ClientIf, "up")
	return n
}

// StartKea runs kea-dhcp4 in the server namespace, leasing only pool, its
// memfile lease database at leaseFile. The returned function stops it.
func StartKea(t testing.TB, n *Netns, dir, leaseFile, pool string) func() {
	t.Helper()
	kea := testsupport.Require(t, "kea-dhcp4")
	conf := filepath.Join(dir, "kea-dhcp4.json")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": [%q], "dhcp-socket-type": "raw"},
  "lease-database": {"type": "memfile", "persist": true, "name": %q, "lfc-interval": 0},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "10.77.0.0/24", "interface": %q, "pools": [{"pool": %q}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "INFO"}]
}}`, n.ServerIf, leaseFile, n.ServerIf, pool)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "kea.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(n.IPBin, "netns", "exec", n.Server, kea, "-c", conf)
	cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	WaitLog(t, logPath, "DHCP4_STARTED", cmd)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
			logf.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}

// WaitLog waits until the log file contains want (the server says it is
// ready), failing if the process exits first.
func WaitLog(t testing.TB, path, want string, cmd *exec.Cmd) {
	t.Helper()
	exited := make(chan struct{})
	go func() { cmd.Process.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before %q:\n%s", cmd.Path, want, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %s after 30 s:\n%s", want, path, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var boundRe = regexp.MustCompile(`bound to ([0-9.]+)`)

// DHCP has dhclient in the client namespace get a lease and returns its
// address. dhclient runs in the foreground (-d) and is stopped once bound,
// so no client stays behind to renew; its script does nothing, so the
// host's resolv.conf is never touched.
func DHCP(t testing.TB, n *Netns, dir string) netip.Addr {
	t.Helper()
	dhclient := testsupport.Require(t, "dhclient")
	script := filepath.Join(dir, "dhclient-script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.IPBin, "netns", "exec", n.Client, dhclient, "-d", "-v", "-1",
		"-sf", script, "-lf", filepath.Join(dir, "dhclient.leases"), "-pf", filepath.Join(dir, "dhclient.pid"), n.ClientIf)
	out, err := cmd.StderrPipe() // dhclient reports on stderr
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var seen strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if m := boundRe.FindStringSubmatch(sc.Text()); m != nil {
			return netip.MustParseAddr(m[1])
		}
	}
	t.Fatalf("dhclient bound to no address:\n%s", seen.String())
	return netip.Addr{}
}

// KeaLeaseStart is the start of the newest lease of ip to MAC in Kea's
// file (what the server recorded, to the second).
func KeaLeaseStart(t testing.TB, path string, ip netip.Addr) time.Time {
	t.Helper()
	ls, err := lease.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var start time.Time
	for _, l := range ls {
		if l.IP == ip && l.MAC == MAC {
			start = l.Start
		}
	}
	if start.IsZero() {
		t.Fatalf("Kea's lease file has no lease of %s to %s: %+v", ip, MAC, ls)
	}
	return start
}

// Moved is the real output of a PC that DHCP moved: its first lease at
// IP1 from T1, its second at IP2 from T2 (Kea's lease file), and its user
// Account's accounting session at each address (FreeRADIUS's detail file).
type Moved struct {
	Dir               string
	LeaseFile, Detail string
	IP1, IP2          netip.Addr
	T1, T2            time.Time
	Radius            *radiustest.Server
}

// PCMoves produces that output under a temporary directory: Kea leases
// 10.77.0.50 to the PC, then (restarted with only .60) 10.77.0.60;
// FreeRADIUS (in Beijing time, as on a server in China: dates in the detail
// file print as CST) accounts a session at .50 from the first lease to the
// second and one at .60 from then on. The servers are stopped by the
// test's cleanup. It takes some seconds (the two leases must not share a
// second).
func PCMoves(t testing.TB) Moved {
	t.Helper()
	ns := NewNetns(t)
	dir := t.TempDir()
	m := Moved{Dir: dir, LeaseFile: filepath.Join(dir, "kea-leases4.csv")}
	rad := radiustest.Start(t, dir, radiustest.Options{Accounting: true, Env: []string{"TZ=Asia/Shanghai"}})
	m.Radius, m.Detail = rad, rad.Detail

	// First lease: the PC at .50.
	stopKea := StartKea(t, ns, dir, m.LeaseFile, "10.77.0.50 - 10.77.0.50")
	m.IP1 = DHCP(t, ns, dir)
	stopKea()
	m.T1 = KeaLeaseStart(t, m.LeaseFile, m.IP1)
	rad.Acct(t, "Acct-Status-Type = Start", `User-Name = "`+Account+`"`, "Framed-IP-Address = "+m.IP1.String(),
		`Calling-Station-Id = "52-54-00-12-34-56"`, `Acct-Session-Id = "s-1"`, "NAS-IP-Address = 127.0.0.1",
		fmt.Sprintf("Event-Timestamp = %d", m.T1.Unix()))
	// The two leases must not share a second: a notice's window is a few seconds wide.
	time.Sleep(5 * time.Second)
	// Second lease: the server now leases only .60; the same PC moves there.
	StartKea(t, ns, dir, m.LeaseFile, "10.77.0.60 - 10.77.0.60")
	m.IP2 = DHCP(t, ns, dir)
	if m.IP2 == m.IP1 {
		t.Fatalf("the second lease kept %s", m.IP1)
	}
	m.T2 = KeaLeaseStart(t, m.LeaseFile, m.IP2)
	rad.Acct(t, "Acct-Status-Type = Stop", `User-Name = "`+Account+`"`, "Framed-IP-Address = "+m.IP1.String(),
		`Calling-Station-Id = "52-54-00-12-34-56"`, `Acct-Session-Id = "s-1"`, "NAS-IP-Address = 127.0.0.1",
		fmt.Sprintf("Event-Timestamp = %d", m.T2.Unix()), fmt.Sprintf("Acct-Session-Time = %d", int(m.T2.Sub(m.T1).Seconds())))
	rad.Acct(t, "Acct-Status-Type = Start", `User-Name = "`+Account+`"`, "Framed-IP-Address = "+m.IP2.String(),
		`Calling-Station-Id = "52-54-00-12-34-56"`, `Acct-Session-Id = "s-2"`, "NAS-IP-Address = 127.0.0.1",
		fmt.Sprintf("Event-Timestamp = %d", m.T2.Unix()))
	return m
}
