package score

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkObserveEvicted is ObserveBatch on the campus mix, a datagram's
// worth (24 records) at a time, with other memory written between batches
// the way the kernel's copies of datagrams and the receive path's own work
// do in the exporter: the hosts' and sessions' lines are then no longer in
// the core's caches when their next record comes, which the plain
// benchmarks (a hot loop over the state) show less. Only the time inside
// ObserveBatch is counted (observe-ns/record), not the writing between.
func BenchmarkObserveEvicted(b *testing.B) {
	for _, hosts := range []int{20_000, 200_000} {
		obs := campusObservations(hosts, 1<<16)
		for _, kb := range []int{0, 256, 1024} {
			b.Run(fmt.Sprintf("hosts_%d/evict_%dKiB", hosts, kb), func(b *testing.B) {
				e := New(DefaultConfig())
				for i := range obs { // every host tracked before the clock starts
					e.Observe(&obs[i])
				}
				other := make([]uint64, kb<<10/8)
				var in time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i += 24 {
					for j := 0; j < len(other); j += 8 { // one word a cache line, written
						other[j]++
					}
					j := i & (len(obs) - 1)
					t := time.Now()
					e.ObserveBatch(obs[j : j+min(24, b.N-i, len(obs)-j)])
					in += time.Since(t)
				}
				b.ReportMetric(float64(in.Nanoseconds())/float64(b.N), "observe-ns/record")
			})
		}
	}
}
