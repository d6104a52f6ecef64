package sim

import (
	"cmp"
	"net/netip"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Rec is a compact flow record (IPv4 only, exporter by index): a simulated
// district day holds tens of millions of them, so 48 bytes instead of
// flow.Record's 120 decide whether it fits in memory.
type Rec struct {
	Start, End       int64
	Packets, Bytes   uint64
	Src, Dst         uint32
	SrcPort, DstPort uint16
	Proto, TCPFlags  uint8
	Exporter         uint8
}

func pack(r *flow.Record, exp uint8) Rec {
	s, d := r.Src.As4(), r.Dst.As4()
	return Rec{Start: r.Start, End: r.End, Packets: r.Packets, Bytes: r.Bytes,
		Src:     uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]),
		Dst:     uint32(d[0])<<24 | uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3]),
		SrcPort: r.SrcPort, DstPort: r.DstPort, Proto: r.Proto, TCPFlags: r.TCPFlags, Exporter: exp}
}

func addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Record expands the i-th record into out.
func (res *Result) Record(i int, out *flow.Record) {
	r := &res.Records[i]
	e := &res.exporters[r.Exporter]
	*out = flow.Record{Start: r.Start, End: r.End, Src: addr(r.Src), Dst: addr(r.Dst), SrcPort: r.SrcPort, DstPort: r.DstPort,
		Proto: r.Proto, TCPFlags: r.TCPFlags, Packets: r.Packets, Bytes: r.Bytes, SamplingRate: e.rate, Exporter: e.addr, Protocol: e.proto}
}

type exporterInfo struct {
	addr  netip.Addr
	rate  uint32
	proto flow.Protocol
}

func compareRecs(a, b Rec) int {
	if c := cmp.Compare(a.End, b.End); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Src, b.Src); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Dst, b.Dst); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SrcPort, b.SrcPort); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DstPort, b.DstPort); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Start, b.Start); c != 0 {
		return c
	}
	return cmp.Compare(a.Packets, b.Packets)
}
