package dashboards

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/server"
	"github.com/minewatch/minewatch/exporter/sim"
)

// healthScrape is how often the seeded exporter's series are taken: its push interval as deployed (push.interval 15s).
const healthScrape = 15 * time.Second

// healthSeries is the exporter-health dashboard's history: the exporter's own
// series as a running minewatch-exporter would have served them on /metrics
// over the span before end, scraped every healthScrape.
//
// Nothing here is written by hand. A simulated district (the district-day
// scenario: 20 schools and offices, 5,000 hosts, a NetFlow v9, an IPFIX and an
// sFlow exporter) is exported over the span; its datagrams go through the exporter's own pieces, built from
// its configuration as server.Start builds them: the ledger and intel loads
// (which publish the minewatch_ledger_* and minewatch_intel_* gauges), the
// flow decoder (packets, records, templates, clock offset, sampling, decode
// errors), the pipeline (drops) and the state gauges (server.PublishState).
// At every scrape moment of flow time the process's metric set is written as
// /metrics writes it (metrics.WritePrometheus) and stamped with that moment.
// Every datagram arrives 300 ms after its export time; one in 200 of the IPFIX
// exporter's arrives cut short, as a datagram truncated on the way would, so
// the decode errors are the decoder's own answer to a broken datagram.
func healthSeries(t *testing.T, root string, end time.Time, span time.Duration) []string {
	t.Helper()
	s, err := sim.Load(filepath.Join(root, "exporter", "scenarios", "district-day.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.Start, s.Duration = end.Add(-span), span
	// One school behind an old NetFlow v5 router that samples nothing: v5
	// then announces no sampling rate (minewatch_flow_sampling_unannounced).
	s.Exporters = append(s.Exporters, sim.Exporter{ID: "old-v5", Protocol: "v5", Address: "10.100.255.4", Sampling: 1,
		Active: time.Minute, Inactive: 15 * time.Second, Units: []string{"d-school-20"}})
	res, err := sim.Generate(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Ledger.Files, cfg.Intel.Files = []string{filepath.Join(dir, "ledger.yaml")}, []string{filepath.Join(dir, "pools.txt")}
	writeFile(t, cfg.Ledger.Files[0], func(b *bytes.Buffer) error { return sim.WriteLedger(b, s, res.Hosts) })
	writeFile(t, cfg.Intel.Files[0], func(b *bytes.Buffer) error { return sim.WriteIntel(b, s) })

	led, err := cfg.Ledger.Load()
	if err != nil {
		t.Fatal(err)
	}
	store := intel.NewStore(cfg.Intel.Options())
	if err := store.Load(); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Options{Ledger: led, Intel: store, Detect: server.DetectConfig(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	dec := flow.NewDecoder(flow.Options{Configuration: cfg.Flow, DefaultSampling: cfg.Sampling.DefaultRate, Sampling: server.SamplingOverrides(cfg)})

	step := healthScrape.Milliseconds()
	next := (s.Start.UnixMilli()/step + 1) * step
	var lines []string
	scrape := func(at int64) {
		p.Tick(at)
		server.PublishState(p)
		lines = append(lines, stamped(t, at)...)
	}
	var cut netip.Addr // the scenario's IPFIX exporter (its header says how long a datagram is)
	for _, e := range s.Exporters {
		if sim.Protocol(e.Protocol) == flow.IPFIX {
			cut = netip.MustParseAddr(e.Address)
		}
	}
	n := 0
	if _, err := sim.Export(s, res, func(dg *sim.Datagram) error {
		for ; dg.ExportMs >= next; next += step {
			scrape(next)
		}
		payload := dg.Payload
		if dg.Exporter == cut {
			if n++; n%200 == 0 {
				payload = payload[:len(payload)/2]
			}
		}
		src, recv := netip.AddrPortFrom(dg.Exporter, 9999), time.UnixMilli(dg.ExportMs+300)
		if dg.Port == sim.Port(flow.SFlowV5) {
			dec.DecodeSFlow(src, recv, payload, p.Process) //nolint:errcheck // counted by the decoder, as the exporter counts it
		} else {
			dec.DecodeNetFlow(src, recv, payload, p.Process) //nolint:errcheck // as above
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for ; next <= end.UnixMilli(); next += step {
		scrape(next)
	}
	return lines
}

// stamped is the process's minewatch series as /metrics serves them, each
// sample stamped with at (Unix ms) for VictoriaMetrics' import API.
func stamped(t *testing.T, at int64) []string {
	var b bytes.Buffer
	metrics.WritePrometheus(&b, false)
	ts := " " + strconv.FormatInt(at, 10)
	var out []string
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 && names.Ours(l[:i]) {
			out = append(out, l+ts)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, path string, fill func(*bytes.Buffer) error) {
	t.Helper()
	var b bytes.Buffer
	if err := fill(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
