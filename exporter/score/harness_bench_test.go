package score

import (
	"net/netip"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/ingestbench"
)

// harnessBatches is the load harness's NetFlow v9 traffic (ingestbench.Build
// with its default options: 20,000 hosts, 100,000 remote endpoints, 48,000
// records) as the exporter scores it: each datagram's records decoded,
// oriented from the 10.0.0.0/8 side (the harness's ledger is one campus
// unit), the pool's records with their intel hit. Build stamps the records
// from the clock; they are moved to start at t0, so that every run sees the
// same hours (callgrind's counts then repeat).
func harnessBatches(tb testing.TB) [][]Observation {
	tr := ingestbench.Build(flow.NetFlowV9, ingestbench.Options{})
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	src := netip.MustParseAddrPort("127.0.0.1:9999")
	campus := netip.MustParsePrefix("10.0.0.0/8")
	hit := &IntelHit{Pool: "bench", Coin: "XMR"}
	var batches [][]Observation
	for _, d := range tr.Datagrams {
		var batch []Observation
		err := dec.DecodeNetFlow(src, time.Now(), d, func(r *flow.Record) {
			o := Observation{Host: r.Src, Remote: r.Dst, HostPort: r.SrcPort, RemotePort: r.DstPort, Outbound: true,
				Proto: r.Proto, TCPFlags: r.TCPFlags, Start: r.Start, End: r.End, Packets: r.Packets, Bytes: r.Bytes,
				SamplingRate: r.SamplingRate, Unit: "campus"}
			if !campus.Contains(r.Src) {
				o.Host, o.Remote, o.HostPort, o.RemotePort, o.Outbound = r.Dst, r.Src, r.DstPort, r.SrcPort, false
			}
			if o.Remote == tr.Pool {
				o.Intel = hit
			}
			batch = append(batch, o)
		})
		if err != nil {
			tb.Fatal(err)
		}
		batches = append(batches, batch)
	}
	first := batches[0][0].Start
	for _, b := range batches {
		for i := range b {
			first = min(first, b[i].Start)
		}
	}
	n := 0
	for _, b := range batches {
		for i := range b {
			b[i].Start += t0 - first
			b[i].End += t0 - first
			n++
		}
	}
	if n != tr.TotalRecs {
		tb.Fatalf("%d records decoded, the traffic holds %d", n, tr.TotalRecs)
	}
	return batches
}

// BenchmarkObserveHarness is ObserveBatch on the load harness's traffic
// (harnessBatches), a datagram (24 records) at a time, replayed in a loop
// with the same timestamps each time as the harness sends it; one pass
// first, so that the state is what the harness keeps replaying into.
func BenchmarkObserveHarness(b *testing.B) {
	batches := harnessBatches(b)
	e := New(DefaultConfig())
	for _, obs := range batches {
		e.ObserveBatch(obs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; n < b.N; i++ {
		obs := batches[i%len(batches)]
		obs = obs[:min(len(obs), b.N-n)]
		e.ObserveBatch(obs)
		n += len(obs)
	}
}
