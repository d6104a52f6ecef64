package flow

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

var benchSrc = netip.MustParseAddrPort("192.0.2.9:2055")

func benchDecode(b *testing.B, tpl, data []byte, sflow bool) {
	d := NewDecoder(Options{Metrics: metrics.NewSet()})
	if tpl != nil {
		if err := d.DecodeNetFlow(benchSrc, time.Now(), tpl, func(*Record) {}); err != nil {
			b.Fatal(err)
		}
	}
	decode := d.DecodeNetFlow
	if sflow {
		decode = d.DecodeSFlow
	}
	var records int
	var bytesSum uint64
	emit := func(r *Record) { records++; bytesSum += r.Bytes }
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := decode(benchSrc, now, data, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if records != b.N*benchRecords || bytesSum == 0 {
		b.Fatalf("%d records for %d packets", records, b.N)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(testing.AllocsPerRun(10, func() { decode(benchSrc, now, data, emit) }))/benchRecords, "allocs/record")
}

func BenchmarkDecodeNetFlowV9(b *testing.B) {
	tpl, data := encodeV9(benchRecords)
	benchDecode(b, tpl, data, false)
}

func BenchmarkDecodeIPFIX(b *testing.B) {
	tpl, data := encodeIPFIX(benchRecords)
	benchDecode(b, tpl, data, false)
}

func BenchmarkDecodeNetFlowV5(b *testing.B) {
	benchDecode(b, nil, encodeV5(benchRecords, 0), false)
}

func BenchmarkDecodeSFlow(b *testing.B) {
	benchDecode(b, nil, encodeSFlow(benchRecords, 512), true)
}

// BenchmarkGoflow2BareV9 is the baseline: goflow2's v9 decoder alone on the same packet.
func BenchmarkGoflow2BareV9(b *testing.B) {
	tpl, data := encodeV9(benchRecords)
	ts := netflow.CreateTemplateSystem()
	var p9 netflow.NFv9Packet
	var pfix netflow.IPFIXPacket
	if err := netflow.DecodeMessageVersion(bytes.NewBuffer(tpl), ts, &p9, &pfix); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := netflow.DecodeMessageVersion(bytes.NewBuffer(data), ts, &p9, &pfix); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}
