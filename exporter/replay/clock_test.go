package replay_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/replay"
	"github.com/minewatch/minewatch/exporter/score"
)

// A replay runs on the flow clock (the newest record end, as backfill keeps
// it). One datagram from an exporter whose clock is days ahead used to move
// that clock days forward, and the next evaluation expired every host's
// evidence. Each exporter's records are now held to its own measured
// offset: the clock stays within the capture, and the miner seen by the
// good exporter is still watched.
func TestReplayExporterDaysAheadKeepsEvidence(t *testing.T) {
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	host, pool := netip.MustParseAddr("10.40.0.5"), netip.MustParseAddr("45.76.65.12")
	good, ahead := netip.MustParseAddrPort("192.0.2.20:40000"), netip.MustParseAddrPort("192.0.2.21:40000")
	collector := netip.MustParseAddrPort("192.0.2.1:2055")

	path := filepath.Join(t.TempDir(), "clock.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := encode.NewPcapWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	write := func(e *encode.Exporter, from netip.AddrPort, captured, exported time.Time, recs []flow.Record) {
		e.Encode(exported, recs, func(b []byte) {
			if err := pw.Write(captured, from, collector, b); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The good router: a Stratum session to a listed pool, one record a minute for 20 minutes.
	eg := encode.NewExporter(flow.NetFlowV9, encode.Options{Boot: start.Add(-time.Hour), TemplateEvery: 1})
	for i := range 20 {
		at := start.Add(time.Duration(i+1) * time.Minute)
		write(eg, good, at, at, []flow.Record{{Start: at.Add(-time.Minute).UnixMilli(), End: at.UnixMilli(), Src: host, Dst: pool,
			SrcPort: 50000, DstPort: 3333, Proto: 6, TCPFlags: 0x18, Packets: 4, Bytes: 400}})
	}
	// The other router's clock is five days ahead: one datagram, ten minutes in.
	skew := 5 * 24 * time.Hour
	at := start.Add(10 * time.Minute)
	ea := encode.NewExporter(flow.NetFlowV9, encode.Options{Boot: at.Add(skew - time.Hour), TemplateEvery: 1})
	write(ea, ahead, at, at.Add(skew), []flow.Record{{Start: at.Add(skew - time.Second).UnixMilli(), End: at.Add(skew).UnixMilli(),
		Src: netip.MustParseAddr("10.40.0.9"), Dst: netip.MustParseAddr("198.51.100.7"), SrcPort: 40000, DstPort: 443, Proto: 6, Packets: 1, Bytes: 60}})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	led, err := ledger.Parse("l.yaml", []byte("units:\n  - id: u1\n    name: 测试单位\n    sector: school\n    cidrs: [10.40.0.0/16]\n"))
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
	var last int64
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	stats, err := replay.File(path, dec, replay.Options{}, func(r *flow.Record) {
		p.Process(r)
		last = max(last, r.End)
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != 21 {
		t.Fatalf("%d records replayed, want 21", stats.Records)
	}
	if end := stats.Last.Add(time.Minute).UnixMilli(); last > end {
		t.Errorf("flow clock moved to %s, past the capture's end %s", time.UnixMilli(last).UTC(), stats.Last.UTC())
	}
	p.Tick(last)
	rep := p.Engine().Report(host)
	if rep == nil || rep.LastSeen < start.UnixMilli() {
		t.Fatalf("the miner's evidence is gone after the replay (flow clock %s): %+v", time.UnixMilli(last).UTC(), rep)
	}
	watched := false
	p.Engine().Watched(func(r *score.Report) { watched = watched || r.IP == host })
	if !watched {
		t.Errorf("the miner contacting a listed pool is not watched after the replay")
	}
}
