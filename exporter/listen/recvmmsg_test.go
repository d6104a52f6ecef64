package listen

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestDatagramsAsSent: over IPv4 and IPv6 loopback (and IPv4 to a dual-stack
// socket), every datagram arrives with its sender's address and port and its
// bytes, whatever the batches.
func TestDatagramsAsSent(t *testing.T) {
	for _, c := range []struct{ listen, send, dial string }{
		{"127.0.0.1:0", "udp4", "127.0.0.1"},
		{"[::1]:0", "udp6", "::1"},
		{":0", "udp4", "127.0.0.1"}, // dual-stack socket: the source comes IPv4-mapped, and is unmapped
	} {
		t.Run(c.listen, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const n = 3000
			var (
				mu   sync.Mutex
				got  []string
				srcs = map[netip.AddrPort]bool{}
				done = make(chan struct{})
			)
			addr, stop, err := listenAll(ctx, c.listen, 1, quiet, func(src netip.AddrPort, _ time.Time, b []byte) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, string(b))
				srcs[src] = true
				if len(got) == n {
					close(done)
				}
			})
			if err != nil {
				t.Skipf("no %s socket here: %v", c.listen, err)
			}
			conn, err := net.DialUDP(c.send, nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(c.dial), addr.Port())))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i := range n {
				// Payloads of different lengths, the longest a jumbo datagram.
				p := bytes.Repeat([]byte{byte(i)}, 1+i%1400)
				if i == n-1 {
					p = bytes.Repeat([]byte{7}, 9000)
				}
				copy(p, fmt.Sprint(i))
				if _, err := conn.Write(p); err != nil {
					t.Fatal(err)
				}
				// At most 200 datagrams in flight: the socket buffer holds
				// them whatever the machine's load and rmem_max.
				for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Microsecond) {
					mu.Lock()
					behind := i + 1 - len(got)
					mu.Unlock()
					if behind < 200 || time.Now().After(deadline) {
						break
					}
				}
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				mu.Lock()
				t.Fatalf("%d of %d datagrams arrived", len(got), n)
			}
			mu.Lock()
			defer mu.Unlock()
			local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
			if want := netip.AddrPortFrom(local.Addr().Unmap(), local.Port()); len(srcs) != 1 || !srcs[want] {
				t.Errorf("sources %v, want only %v", srcs, want)
			}
			for i, s := range got {
				p := bytes.Repeat([]byte{byte(i)}, 1+i%1400)
				if i == n-1 {
					p = bytes.Repeat([]byte{7}, 9000)
				}
				copy(p, fmt.Sprint(i))
				if s != string(p) {
					t.Fatalf("datagram %d: %d bytes %q…, want %d bytes", i, len(s), s[:min(len(s), 8)], len(p))
				}
			}
			cancel()
			<-stop
		})
	}
}
