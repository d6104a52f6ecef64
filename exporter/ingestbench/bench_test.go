package ingestbench

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/score"
)

// BenchmarkStateScale is the per-record cost of the exporter's pipeline
// (ledger, intel, score; no decode, no socket) and the memory of its state as
// the network grows: 10k, 100k and 1M hosts with one record each, one host
// with 10,000 remote endpoints, 10,000 hosts with 50 sessions each: the
// same cases as bench-ingest's live scale run (ScaleCases). The state is
// built once per case (not timed); then every iteration is one record of
// the same traffic again. Reported: ns/record, B/host by the engine's own
// estimate (the minewatch_state_bytes gauge) and by the Go heap, the time of
// one evaluation, and the per-host series /metrics would hold.
//
//	go test -run '^$' -bench StateScale -benchtime 200000x ./exporter/ingestbench/
func BenchmarkStateScale(b *testing.B) {
	for _, c := range ScaleCases(1_000_000, true) {
		var st *scaleState
		b.Run(fmt.Sprintf("hosts=%s/sessions=%s", hostsName(c.Hosts), hostsName(c.SessionsPerHost)), func(b *testing.B) {
			if st == nil {
				st = newScaleState(b, c)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st.p.Process(&st.recs[i%len(st.recs)])
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
			b.ReportMetric(st.gaugePerHost, "B/host")
			b.ReportMetric(st.heapPerHost, "heap-B/host")
			b.ReportMetric(float64(st.hosts), "hosts")
			b.ReportMetric(float64(st.eval.Microseconds())/1000, "evaluate-ms")
			b.ReportMetric(float64(st.hostSeries), "per-host-series")
			b.ReportMetric(float64(st.suspects), "pool-talkers")
		})
	}
}

type scaleState struct {
	p            *pipeline.Pipeline
	recs         []flow.Record
	hosts        int
	suspects     int
	gaugePerHost float64
	heapPerHost  float64
	eval         time.Duration
	hostSeries   int
}

func newScaleState(b *testing.B, c ScaleCase) *scaleState {
	o, suspects := c.options()
	st := &scaleState{recs: records(flow.NetFlowV9, o.withDefaults(flow.NetFlowV9)), suspects: suspects}
	led, err := ledger.Parse("ledger.yaml", []byte(benchLedger))
	if err != nil {
		b.Fatal(err)
	}
	list, err := intel.Parse("pools.txt", []byte(benchPools))
	if err != nil {
		b.Fatal(err)
	}
	store := intel.NewStore(intel.Options{})
	store.Set(intel.NewSet([]*intel.List{list}, nil, nil))
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	if st.p, err = pipeline.New(pipeline.Options{Ledger: led, Intel: store, Detect: score.DefaultConfig()}); err != nil {
		b.Fatal(err)
	}
	var end int64
	for i := range st.recs {
		st.p.Process(&st.recs[i])
		end = max(end, st.recs[i].End)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t0 := time.Now()
	st.p.Tick(end)
	st.eval = time.Since(t0)
	stats := st.p.Engine().Stats()
	st.hosts = stats.Hosts
	if stats.Hosts > 0 {
		st.gaugePerHost = float64(stats.Bytes) / float64(stats.Hosts)
		st.heapPerHost = (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / float64(stats.Hosts)
	}
	var w bytes.Buffer
	st.p.WriteMetrics(&w, 0)
	st.hostSeries, _ = countSeries(w.String())
	return st
}
