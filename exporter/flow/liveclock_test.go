package flow_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/score"
)

// The live exporter evaluates on the wall clock. A router 35 min slow used
// to hand over records that were all older than detect.quiet_after (30 min)
// the moment they arrived: a miner talking to a listed pool for an hour was
// never flagged, and nothing said why. With the router's records moved onto
// the receive clock, the miner is flagged.
func TestLiveSlowRouterStillDetects(t *testing.T) {
	host, pool := netip.MustParseAddr("10.50.0.5"), netip.MustParseAddr("45.76.65.12")
	led, err := ledger.Parse("l.yaml", []byte("units:\n  - id: u1\n    name: 测试单位\n    sector: school\n    cidrs: [10.50.0.0/16]\n"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := intel.Parse("pools.txt", []byte(pool.String()+",XMR,test\n"))
	if err != nil {
		t.Fatal(err)
	}
	st := intel.NewStore(intel.Options{})
	st.Set(intel.NewSet([]*intel.List{list}, nil, nil))
	p, err := pipeline.New(pipeline.Options{Ledger: led, Intel: st, Detect: score.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	src := netip.MustParseAddrPort("192.0.2.30:2055")
	slow := 35 * time.Minute
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC) // the collector's (right) clock
	ex := encode.NewExporter(flow.NetFlowV9, encode.Options{Boot: start.Add(-slow - time.Hour), TemplateEvery: 1})
	for i := range 60 {
		now := start.Add(time.Duration(i+1) * time.Minute)
		router := now.Add(-slow) // what the router's clock says
		ex.Encode(router, []flow.Record{{Start: router.Add(-time.Minute).UnixMilli(), End: router.UnixMilli(), Src: host, Dst: pool,
			SrcPort: 50000, DstPort: 3333, Proto: 6, TCPFlags: 0x18, Packets: 4, Bytes: 400}}, func(b []byte) {
			if err := dec.DecodeNetFlow(src, now, b, p.Process); err != nil {
				t.Fatal(err)
			}
		})
		p.Tick(now.UnixMilli())
	}
	r := p.Engine().Report(host)
	if r == nil || !r.Mining {
		t.Fatalf("miner behind a router 35 min slow, an hour of contacts with a listed pool: not flagged (%+v)", r)
	}
}
