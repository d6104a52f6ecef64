package pipeline

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
)

// BenchmarkDecodeScore measures the exporter's whole per-record path on one
// core: decode an export datagram, look up both sides in the ledger and the
// intel, and score. The traffic is a campus mix: 20,000 internal hosts talking
// to 100,000 remote endpoints, one host in fifty mining.
func BenchmarkDecodeScore(b *testing.B) {
	for _, p := range []flow.Protocol{flow.NetFlowV5, flow.NetFlowV9, flow.IPFIX, flow.SFlowV5} {
		b.Run(p.String(), func(b *testing.B) { benchDecodeScore(b, p, perRecord) })
	}
	// The decoder alone on the same datagrams: the difference is what the
	// ledger, intel and scoring add.
	b.Run("netflow_v9_decode_only", func(b *testing.B) { benchDecodeScore(b, flow.NetFlowV9, decodeOnly) })
	b.Run("ipfix_decode_only", func(b *testing.B) { benchDecodeScore(b, flow.IPFIX, decodeOnly) })
	b.Run("sflow_v5_decode_only", func(b *testing.B) { benchDecodeScore(b, flow.SFlowV5, decodeOnly) })
	// A datagram's records scored together (Pipeline.Batched), as the
	// exporter's readers do.
	for _, p := range []flow.Protocol{flow.NetFlowV5, flow.NetFlowV9, flow.IPFIX, flow.SFlowV5} {
		b.Run(p.String()+"_batched", func(b *testing.B) { benchDecodeScore(b, p, batched) })
	}
}

// How benchDecodeScore hands the decoded records on.
const (
	decodeOnly = iota // to nothing
	perRecord         // Pipeline.Process, one at a time
	batched           // Pipeline.Batched, a datagram at a time
)

// benchDatagrams encodes the campus mix (24,000 records) as proto's datagrams.
func benchDatagrams(proto flow.Protocol) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	const t0 = benchT0
	pool := netip.MustParseAddr("198.51.100.7")
	recs := make([]flow.Record, 24*1000)
	for i := range recs {
		host := netip.AddrFrom4([4]byte{10, 20, byte(rng.IntN(80)), byte(rng.IntN(250))})
		r := flow.Record{Src: host, SrcPort: uint16(30000 + rng.IntN(30000)), Proto: 6, TCPFlags: 0x18,
			Packets: uint64(1 + rng.IntN(40)), SamplingRate: 1, Start: t0 + int64(i)*10}
		r.Bytes = r.Packets * uint64(60+rng.IntN(1400))
		r.End = r.Start + int64(rng.IntN(30_000))
		if rng.IntN(50) == 0 {
			r.Dst, r.DstPort = pool, 3333
		} else {
			r.Dst = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(2))})
			r.DstPort = 443
		}
		if rng.IntN(2) == 0 { // the reply direction
			r.Src, r.Dst, r.SrcPort, r.DstPort = r.Dst, r.Src, r.DstPort, r.SrcPort
		}
		recs[i] = r
	}
	if proto == flow.SFlowV5 {
		for i := range recs {
			recs[i].Packets, recs[i].Bytes = 1, recs[i].Bytes/recs[i].Packets // one sampled packet per flow sample
		}
	}
	enc := encode.NewExporter(proto, encode.Options{Boot: time.UnixMilli(t0 - 3600_000)})
	var dgrams [][]byte
	for i := 0; i < len(recs); i += 24 {
		enc.Encode(time.UnixMilli(recs[i].End), recs[i:i+24], func(d []byte) { dgrams = append(dgrams, append([]byte(nil), d...)) })
	}
	return dgrams
}

const benchT0 = 1_763_251_200_000

func benchDecodeScore(b *testing.B, proto flow.Protocol, mode int) {
	dgrams := benchDatagrams(proto)
	p := newTestPipeline(b)
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	src := netip.MustParseAddrPort("10.20.255.1:2055")
	n := 0
	emit := func(r *flow.Record) {
		if mode == perRecord {
			p.Process(r)
		}
		n++
	}
	decode := dec.DecodeNetFlow
	if proto == flow.SFlowV5 {
		decode = dec.DecodeSFlow
	}
	now := time.UnixMilli(benchT0)
	var (
		err error
		add func(*flow.Record) // the Batch's, while Batched runs
	)
	counted := func(r *flow.Record) { add(r); n++ } // made once: no allocation per datagram
	one := func(d []byte) {
		if mode != batched {
			err = decode(src, now, d, emit)
			return
		}
		p.Batched(func(emit func(*flow.Record)) {
			add = emit
			err = decode(src, now, d, counted)
		})
	}
	for _, d := range dgrams { // templates first, as a running exporter would have them
		one(d)
	}
	n = 0
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if one(dgrams[i%len(dgrams)]); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(n, 1)), "ns/record")
	// The process's CPU time (all threads: the garbage collector's work
	// counts) per record: on a shared machine wall time also holds the
	// time other processes had the core, CPU time does not.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(n, 1)), "cpu-ns/record")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeScoreCores runs the whole per-record path (NetFlow v9) on
// GOMAXPROCS 1 and 2: one goroutine per core, as one UDP reader per socket
// (listen.readers), each decoding its own exporter's datagrams into the one
// shared pipeline and score engine. records/s against cores used; per-core
// is records/s divided by GOMAXPROCS. On a machine whose cores are busy with
// other work the second core adds less than it would on an idle one.
func BenchmarkDecodeScoreCores(b *testing.B) {
	dgrams := benchDatagrams(flow.NetFlowV9)
	for _, c := range []struct {
		procs   int
		batched bool // Pipeline.Batched a datagram at a time, as the exporter's readers do
	}{{1, false}, {2, false}, {1, true}, {2, true}} {
		procs, name := c.procs, fmt.Sprintf("gomaxprocs_%d", c.procs)
		if c.batched {
			name += "_batched"
		}
		b.Run(name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			p := newTestPipeline(b)
			dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
			now := time.UnixMilli(benchT0)
			srcs := make([]netip.AddrPort, procs)
			for i := range srcs { // one exporter per reader, templates first
				srcs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 20, 255, byte(1 + i)}), 2055)
				for _, d := range dgrams {
					dec.DecodeNetFlow(srcs[i], now, d, func(*flow.Record) {}) //nolint:errcheck // checked below
				}
			}
			var total atomic.Int64
			var next atomic.Int32
			b.SetParallelism(1) // GOMAXPROCS goroutines
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				id := int(next.Add(1) - 1)
				src, j, n := srcs[id%procs], id*len(dgrams)/procs, int64(0)
				var (
					err error
					add func(*flow.Record)
				)
				emit := func(r *flow.Record) { p.Process(r); n++ }
				counted := func(r *flow.Record) { add(r); n++ }
				for pb.Next() {
					if d := dgrams[j%len(dgrams)]; c.batched {
						p.Batched(func(emit func(*flow.Record)) { add = emit; err = dec.DecodeNetFlow(src, now, d, counted) })
					} else {
						err = dec.DecodeNetFlow(src, now, d, emit)
					}
					if err != nil {
						b.Error(err)
						return
					}
					j++
				}
				total.Add(n)
			})
			cpu := cpuTime() - cpu0
			b.StopTimer()
			n := float64(total.Load())
			b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(n/b.Elapsed().Seconds()/float64(procs), "records/s/core")
			b.ReportMetric(float64(cpu.Nanoseconds())/max(n, 1), "cpu-ns/record")
		})
	}
}

// BenchmarkDecodeScoreHandoff: one reader's NetFlow v9 datagrams decoded
// and scored in place (Batched) or handed to a scorer goroutine (Handoff)
// with batches of 32 records (about a datagram), 256 (the exporter's) and
// 1,024, flushed after every 16 datagrams as after a socket read at full
// load. records/s is what the reader keeps up with; cpu-ns/record counts
// both goroutines (and the hand-over's cost).
func BenchmarkDecodeScoreHandoff(b *testing.B) {
	dgrams := benchDatagrams(flow.NetFlowV9)
	for _, size := range []int{0, 32, handoffBatch, 1024} {
		name := "in_place"
		if size > 0 {
			name = fmt.Sprintf("batch_%d", size)
		}
		b.Run(name, func(b *testing.B) {
			p := newTestPipeline(b)
			dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
			src := netip.MustParseAddrPort("10.20.255.1:2055")
			now := time.UnixMilli(benchT0)
			for _, d := range dgrams { // templates, and every host tracked
				p.Batched(func(emit func(*flow.Record)) { dec.DecodeNetFlow(src, now, d, emit) }) //nolint:errcheck // checked below
			}
			var h *Handoff
			if size > 0 {
				// As many records queued at most as the exporter's queue holds.
				h = p.newHandoff(size, handoffBatch*handoffLimit/size, (*Batch).score)
			}
			var (
				err error
				n   int
				add func(*flow.Record)
			)
			counted := func(r *flow.Record) { add(r); n++ }
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				d := dgrams[i%len(dgrams)]
				if h == nil {
					p.Batched(func(emit func(*flow.Record)) { add = emit; err = dec.DecodeNetFlow(src, now, d, counted) })
				} else {
					h.Batched(func(emit func(*flow.Record)) { add = emit; err = dec.DecodeNetFlow(src, now, d, counted) })
					if i%16 == 15 {
						h.Flush()
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if h != nil {
				h.Close() // everything scored: the time and CPU include the scorer's work
			}
			cpu := cpuTime() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(n, 1)), "cpu-ns/record")
		})
	}
}
