//go:build linux

package listen

import (
	"net"
	"testing"

	"golang.org/x/net/ipv4"
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
	r, err := newBatchReader(uc, batch, maxDatagram)
	if err != nil {
		t.Fatal(err)
	}
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
				r, err := newBatchReader(uc, batch, maxDatagram)
				if err != nil {
					b.Fatal(err)
				}
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
