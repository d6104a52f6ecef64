//go:build linux

package listen

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// A router exporting from a link-local address arrives with its zone, the
// listener's interface, as net's own ReadFromUDPAddrPort gives it: without
// it, two routers sending from fe80::1 on two links would be one exporter.
//
// The real thing: two network namespaces made by the test, joined by a veth
// pair with fixed link-local addresses. The listener has to run inside its
// namespace as a whole process (the test binary again, under `ip netns
// exec`), because the zone is named by an interface lookup that asks the
// namespace of the thread it runs on; the sender is a thread of that
// process that enters the peer namespace.
func TestLinkLocalSourceHasZone(t *testing.T) {
	if os.Getenv("MINEWATCH_ZONE_CHILD") != "" {
		zoneChild(t)
		return
	}
	if os.Geteuid() != 0 {
		testsupport.Missing(t, "network namespaces need root")
	}
	ip := testsupport.Require(t, "ip")
	a, b := testsupport.Netns(t, ip, "mwzone", "a"), testsupport.Netns(t, ip, "mwzone", "b")
	zoneRun(t, ip, "-n", a, "link", "add", "mwza", "type", "veth", "peer", "name", "mwzb", "netns", b)
	zoneRun(t, ip, "-n", a, "addr", "add", "fe80::1/64", "dev", "mwza", "nodad")
	zoneRun(t, ip, "-n", b, "addr", "add", "fe80::2/64", "dev", "mwzb", "nodad")
	zoneRun(t, ip, "-n", a, "link", "set", "mwza", "up")
	zoneRun(t, ip, "-n", b, "link", "set", "mwzb", "up")

	cmd := exec.Command(ip, "netns", "exec", a, os.Args[0], "-test.run", "^TestLinkLocalSourceHasZone$", "-test.v")
	cmd.Env = append(os.Environ(), "MINEWATCH_ZONE_CHILD="+b)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("listener in namespace %s: %v\n%s", a, err, out)
	}
	if !strings.Contains(string(out), "source [fe80::2%mwza]:") {
		t.Errorf("the child did not report the zoned source:\n%s", out)
	}
}

// zoneChild runs inside namespace a: listen on [::]:0, send one datagram
// from fe80::2 in the peer namespace, and check its source.
func zoneChild(t *testing.T) {
	peer := os.Getenv("MINEWATCH_ZONE_CHILD")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan netip.AddrPort, 1)
	addr, _, err := listenAll(ctx, "[::]:0", 1, slog.New(slog.DiscardHandler), func(src netip.AddrPort, _ time.Time, _ []byte) {
		select {
		case got <- src:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// The link can take a moment to come up after `ip link set up`:
	// send until the listener hears one.
	sent := make(chan error, 1)
	go func() {
		if err := testsupport.EnterNetns(peer); err != nil {
			sent <- err
			return
		}
		c, err := net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("fe80::1%mwzb"), addr.Port())))
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		for range 100 {
			if _, err := c.Write([]byte("hello")); err != nil {
				sent <- err
				return
			}
			select {
			case <-ctx.Done():
				sent <- nil
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		sent <- nil
	}()
	select {
	case src := <-got:
		cancel()
		t.Logf("source %v", src)
		if want := netip.MustParseAddr("fe80::2%mwza"); src.Addr() != want {
			t.Errorf("source %v, want %v", src.Addr(), want)
		}
	case err := <-sent:
		t.Fatalf("nothing arrived (sender: %v)", err)
	}
}

func zoneRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
