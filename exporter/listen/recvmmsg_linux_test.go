//go:build linux

package listen

import (
	"net"
	"testing"
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
