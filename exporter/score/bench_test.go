package score

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
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

// BenchmarkObserveHosts is Observe against ObserveBatch (24 records at a
// time, a NetFlow v9 datagram's worth) on a campus mix over many hosts, in
// random order: the host lookups miss the caches, which is what the batch
// overlaps. Same records, same state for both.
func BenchmarkObserveHosts(b *testing.B) {
	for _, hosts := range []int{20_000, 200_000} {
		obs := campusObservations(hosts, 1<<16)
		for _, mode := range []string{"one", "batch24"} {
			b.Run(fmt.Sprintf("hosts_%d/%s", hosts, mode), func(b *testing.B) {
				e := New(DefaultConfig())
				for i := range obs { // every host tracked before the clock starts
					e.Observe(&obs[i])
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				if mode == "one" {
					for i := 0; i < b.N; i++ {
						e.Observe(&obs[i&(len(obs)-1)])
					}
				} else {
					for i := 0; i < b.N; i += 24 {
						j := i & (len(obs) - 1)
						e.ObserveBatch(obs[j : j+min(24, b.N-i, len(obs)-j)])
					}
				}
				cpu := cpuTime() - cpu0
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				// CPU time per record: on a shared machine wall time also
				// holds the time other processes had the core.
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// campusObservations is n records of the pipeline benchmark's mix: hosts
// talking to random remote endpoints (HTTPS, some records message-like), one
// record in fifty to the pool.
func campusObservations(hosts, n int) []Observation {
	rng := rand.New(rand.NewPCG(1, 2))
	obs := make([]Observation, n)
	for i := range obs {
		h := rng.IntN(hosts)
		o := Observation{Host: netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)}), HostPort: uint16(30000 + rng.IntN(30000)),
			Proto: 6, TCPFlags: 0x18, Outbound: rng.IntN(2) == 0, Packets: uint64(1 + rng.IntN(40)), SamplingRate: 1, Unit: "u1",
			Start: t0 + int64(i)*10}
		o.Bytes = o.Packets * uint64(60+rng.IntN(1400))
		o.End = o.Start + int64(rng.IntN(30_000))
		if rng.IntN(50) == 0 {
			o.Remote, o.RemotePort = pool, 3333
		} else {
			o.Remote, o.RemotePort = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(2))}), 443
		}
		obs[i] = o
	}
	return obs
}

// BenchmarkObserveChurn is ObserveBatch, 24 records at a time, on traffic
// where every record opens a new session: 20,000 hosts, each record a random
// host and a random remote endpoint, message-sized (so a candidate that
// takes a session slot) or, one in two, ordinary, with the clock moving
// 10 ms a record. Once a host's four slots are full every candidate record
// ranks them for a victim. The records are made between the batches; only
// the time inside ObserveBatch is counted (observe-ns/record; callgrind:
// toggle '*Engine*.ObserveBatch').
func BenchmarkObserveChurn(b *testing.B) {
	const hosts = 20_000
	rng := rand.New(rand.NewPCG(5, 8))
	obs := make([]Observation, 24)
	next := func(i int) {
		for j := range obs {
			h, r := rng.IntN(hosts), rng.Uint32()
			o := Observation{Host: netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)}),
				Remote: netip.AddrFrom4([4]byte{byte(r>>24) | 1, byte(r >> 16), byte(r >> 8), byte(r)}), RemotePort: 443,
				HostPort: uint16(30000 + rng.IntN(30000)), Proto: 6, TCPFlags: 0x18, Outbound: j%2 == 0, Packets: 3, Bytes: 400,
				SamplingRate: 1, Unit: "u1", Start: t0 + int64(i+j)*10}
			if rng.IntN(2) == 0 {
				o.Packets, o.Bytes = 40, 40*1200 // bulk: not message-like
			}
			o.End = o.Start + 1000
			obs[j] = o
		}
	}
	e := New(DefaultConfig())
	for i := 0; i < 40*hosts; i += 24 { // every host tracked, its slots full
		next(i)
		e.ObserveBatch(obs)
	}
	b.ResetTimer()
	var in time.Duration
	for i := 0; i < b.N; i += 24 {
		next(40*hosts + i)
		t := time.Now()
		e.ObserveBatch(obs[:min(24, b.N-i)])
		in += time.Since(t)
	}
	b.ReportMetric(float64(in.Nanoseconds())/float64(b.N), "observe-ns/record")
}
