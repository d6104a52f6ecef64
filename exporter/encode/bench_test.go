package encode

import (
	"io"
	"net/netip"
	"testing"

	"github.com/minewatch/minewatch/exporter/flow"
)

// BenchmarkEncode reports datagrams/s and records/s per protocol; allocs/op
// should be 0 once the exporter's buffer has grown.
func BenchmarkEncode(b *testing.B) {
	recs := records(240, 100, 6)
	v4 := records(240, 100, 0)
	for _, p := range []flow.Protocol{flow.NetFlowV5, flow.NetFlowV9, flow.IPFIX, flow.SFlowV5} {
		b.Run(p.String(), func(b *testing.B) {
			in := recs
			if p == flow.NetFlowV5 {
				in = v4
			}
			e := NewExporter(p, Options{SamplingRate: 100})
			var dgrams, size int
			out := func(d []byte) { dgrams++; size += len(d) }
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e.Encode(testNow, in, out)
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(dgrams)/s, "datagrams/s")
			b.ReportMetric(float64(b.N*len(in))/s, "records/s")
			b.ReportMetric(float64(size)/float64(dgrams), "bytes/datagram")
		})
	}
}

func BenchmarkPcapWrite(b *testing.B) {
	pw, err := NewPcapWriter(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 1200)
	src, dst := netip.MustParseAddrPort("10.0.0.1:50000"), netip.MustParseAddrPort("127.0.0.1:2055")
	b.ReportAllocs()
	for b.Loop() {
		if err := pw.Write(testNow, src, dst, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "datagrams/s")
}
