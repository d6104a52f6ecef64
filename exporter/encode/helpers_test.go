package encode

import (
	"net/netip"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// records makes n varied records, IPv6 every v6Every-th (0: none), with
// counts that are multiples of rate so unscaling is exact.
func records(n int, rate uint32, v6Every int) []flow.Record {
	rs := make([]flow.Record, n)
	base := testNow.Add(-time.Minute).UnixMilli()
	for i := range rs {
		r := &rs[i]
		r.Start = base + int64(i)*37
		r.End = r.Start + 1000 + int64(i)*11
		if v6Every > 0 && i%v6Every == v6Every-1 {
			r.Src = netip.MustParseAddr("2001:db8::1").Next()
			r.Dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 15: byte(i)})
		} else {
			r.Src = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			r.Dst = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		}
		r.SrcPort = uint16(40000 + i)
		r.DstPort = []uint16{3333, 443, 53, 4444}[i%4]
		r.Proto = []uint8{6, 6, 17, 6}[i%4]
		if r.Proto == 6 {
			r.TCPFlags = 0x1b
		}
		p := uint64(3 + i%50)
		r.Packets = p * uint64(rate)
		r.Bytes = p * uint64(100+i%1300) * uint64(rate)
		r.SamplingRate = rate
	}
	return rs
}

// collect encodes recs and returns copies of the datagrams.
func collect(e *Exporter, now time.Time, recs []flow.Record) [][]byte {
	var ds [][]byte
	e.Encode(now, recs, func(d []byte) { ds = append(ds, append([]byte(nil), d...)) })
	return ds
}

func addrFrom(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap()
}

func check[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
