//go:build linux

package listen

import (
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// TestBatchReaderAllocs: reading a batch and taking its datagrams allocates
// nothing (x/net's ReadBatch allocated each datagram's source address), and
// one call returns many datagrams when the socket holds them.
func TestBatchReaderAllocs(t *testing.T) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if err := uc.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp4", nil, uc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const runs = 11 // AllocsPerRun's warm-up call and 10 measured
	for range runs * batch {
		if _, err := conn.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	sock, err := takeSocket(uc)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.close()
	r := sock.reader(batch, maxDatagram)
	total, calls := 0, 0
	allocs := testing.AllocsPerRun(runs-1, func() {
		n, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, b, ok := r.datagram(i); ok && len(b) == 100 {
				total++
			}
		}
		calls++
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per batch read", allocs)
	}
	if total != runs*batch || calls != runs {
		t.Errorf("%d datagrams of 100 bytes in %d reads, want %d in %d", total, calls, runs*batch, runs)
	}
}

// TestReceiveBuffer: the size read back is the size set (below any cap).
func TestReceiveBuffer(t *testing.T) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if err := uc.SetReadBuffer(48 << 10); err != nil {
		t.Fatal(err)
	}
	if got, err := receiveBuffer(uc); err != nil || got != 48<<10 {
		t.Errorf("receive buffer %d (%v), want %d", got, err, 48<<10)
	}
}

// BenchmarkBatchRead: one op is 64 datagrams of 1,200 bytes (a v9 datagram
// of 24 records) sent over loopback and read, by this package's reader and
// by x/net's ReadBatch as before; the sending costs both the same.
func BenchmarkBatchRead(b *testing.B) {
	for _, name := range []string{"recvmmsg", "x_net"} {
		b.Run(name, func(b *testing.B) {
			uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer uc.Close()
			uc.SetReadBuffer(4 << 20) //nolint:errcheck // best effort, as the listener's
			conn, err := net.DialUDP("udp4", nil, uc.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			var read func() int
			if name == "recvmmsg" {
				sock, err := takeSocket(uc)
				if err != nil {
					b.Fatal(err)
				}
				defer sock.close()
				r := sock.reader(batch, maxDatagram)
				read = func() int {
					n, err := r.read()
					if err != nil {
						b.Fatal(err)
					}
					got := 0
					for i := range n {
						if _, p, ok := r.datagram(i); ok {
							got += len(p) / 1200
						}
					}
					return got
				}
			} else {
				msgs := make([]ipv4.Message, batch)
				for i := range msgs {
					msgs[i].Buffers = [][]byte{make([]byte, maxDatagram)}
				}
				pc := ipv4.NewPacketConn(uc)
				read = func() int {
					n, err := pc.ReadBatch(msgs, 0)
					if err != nil {
						b.Fatal(err)
					}
					got := 0
					for _, m := range msgs[:n] {
						if ua, ok := m.Addr.(*net.UDPAddr); ok && ua.AddrPort().IsValid() {
							got += m.N / 1200
						}
					}
					return got
				}
			}
			payload := make([]byte, 1200)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for range batch {
					if _, err := conn.Write(payload); err != nil {
						b.Fatal(err)
					}
				}
				for got := 0; got < batch; {
					got += read()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/datagram")
		})
	}
}

// TestWakeEndsBlockedRead: a reader blocked in recvmmsg on an idle socket
// returns when the socket is woken (the listener's stop), not only after
// idleWake, and every read after returns at once; datagrams sent before
// are read first, as from any socket.
func TestWakeEndsBlockedRead(t *testing.T) {
	defer func(d time.Duration) { idleWake = d }(idleWake)
	idleWake = time.Hour // only wake can end the read in time
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp4", nil, uc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sock, err := takeSocket(uc)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.close()
	if _, err := conn.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	r := sock.reader(batch, maxDatagram)
	if n, err := r.read(); err != nil || n != 1 {
		t.Fatalf("read %d, %v; want the one datagram sent", n, err)
	}
	if _, b, ok := r.datagram(0); !ok || string(b) != "first" {
		t.Fatalf("datagram %q, %v", b, ok)
	}
	returned := make(chan error, 1)
	go func() { // blocks: the socket is empty
		_, err := r.read()
		returned <- err
	}()
	select {
	case err := <-returned:
		t.Fatalf("read of an empty socket returned before the wake: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	sock.wake()
	select {
	case err := <-returned:
		if err != nil {
			t.Errorf("woken read: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wake did not end the blocked read")
	}
	if !sock.stopped.Load() {
		t.Error("a woken socket must tell its readers to stop")
	}
	for range 3 { // returns at once from now on
		done := make(chan struct{})
		go func() { r.read(); close(done) }() //nolint:errcheck // only its return matters
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a read after the wake blocked")
		}
	}
}

// TestTakeSocketLeavesThePoller: the socket the readers read is blocking
// and no longer the net.UDPConn's (that one is closed, so the runtime's
// poller holds nothing of it), and it keeps the receive buffer set before.
func TestTakeSocketLeavesThePoller(t *testing.T) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := uc.SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	sock, err := takeSocket(uc)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.close()
	if _, _, err := uc.ReadFromUDPAddrPort(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the net.UDPConn is still open: %v", err)
	}
	fl, err := unix.FcntlInt(uintptr(sock.fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("flags %#x (%v): want a blocking socket", fl, err)
	}
	if fd, err := unix.FcntlInt(uintptr(sock.fd), unix.F_GETFD, 0); err != nil || fd&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd flags %#x (%v): want close-on-exec", fd, err)
	}
	if n, err := unix.GetsockoptInt(sock.fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err != nil || n/2 != 64<<10 {
		t.Errorf("receive buffer %d (%v), want %d", n/2, err, 64<<10)
	}
	tv, err := unix.GetsockoptTimeval(sock.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	if err != nil || time.Duration(tv.Nano()) != idleWake {
		t.Errorf("receive timeout %v (%v), want %v", time.Duration(tv.Nano()), err, idleWake)
	}
}
