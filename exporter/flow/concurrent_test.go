package flow

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Several UDP readers decode datagrams of the same and of different sources at once.
func TestConcurrentDecoding(t *testing.T) {
	d := NewDecoder(Options{Metrics: metrics.NewSet()})
	tpl, data := encodeV9(benchRecords)
	tplFix, dataFix := encodeIPFIX(benchRecords)
	sf := encodeSFlow(benchRecords, 64)
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(g % 2)}), 2055)
			count := func(*Record) { n.Add(1) }
			for i := 0; i < 200; i++ {
				d.DecodeNetFlow(src, time.Now(), tpl, count)
				d.DecodeNetFlow(src, time.Now(), data, count)
				d.DecodeNetFlow(src, time.Now(), tplFix, count)
				d.DecodeNetFlow(src, time.Now(), dataFix, count)
				d.DecodeSFlow(src, time.Now(), sf, count)
				d.DecodeNetFlow(src, time.Now(), encodeV5(3, 0), count)
			}
		}()
	}
	wg.Wait()
	if want := int64(4 * 200 * (3*benchRecords + 3)); n.Load() != want {
		t.Errorf("%d records, want %d", n.Load(), want)
	}
}
