package score

import (
	"net/netip"
	"runtime"
	"testing"
)

func BenchmarkObserve(b *testing.B) {
	e := New(DefaultConfig())
	obs := make([]Observation, 4096)
	for i := range obs {
		obs[i] = Observation{Host: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Remote: pool, HostPort: uint16(40000 + i),
			RemotePort: 443, Proto: 6, TCPFlags: 0x18, Outbound: i%2 == 0, Start: t0, End: t0 + 1000, Packets: 3, Bytes: 400, SamplingRate: 1, Unit: "u1"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Observe(&obs[i&4095])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkObserveParallel(b *testing.B) {
	e := New(DefaultConfig())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			o := Observation{Host: netip.AddrFrom4([4]byte{10, 21, byte(i >> 8), byte(i)}), Remote: pool, RemotePort: 443, Proto: 6,
				Start: t0, End: t0 + 1000, Packets: 3, Bytes: 400, SamplingRate: 1, Unit: "u1"}
			e.Observe(&o)
			i = (i + 1) & 0xffff
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkStateMemory measures the heap cost of 1e6 tracked hosts, each
// with one candidate session (the expensive kind), and the evaluation pass.
func BenchmarkStateMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := New(DefaultConfig())
		const n = 1_000_000
		for j := 0; j < n; j++ {
			e.Observe(&Observation{Host: netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)}), Remote: pool, RemotePort: 3333,
				HostPort: 40000, Proto: 6, TCPFlags: 0x18, Start: t0, End: t0 + 1000, Packets: 2, Bytes: 300, SamplingRate: 1, Unit: "u1"})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/host")
		b.ReportMetric(float64(e.Stats().Bytes)/n, "estB/host")
		runtime.KeepAlive(e)
	}
}

func BenchmarkEvaluate100k(b *testing.B) {
	e := New(DefaultConfig())
	for j := 0; j < 100_000; j++ {
		e.Observe(&Observation{Host: netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)}), Remote: pool, RemotePort: 3333,
			Proto: 6, Start: t0, End: t0 + 1000, Packets: 2, Bytes: 300, SamplingRate: 1, Unit: "u1"})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Evaluate(t0 + 2000)
	}
}
