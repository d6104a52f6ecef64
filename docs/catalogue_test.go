package docs

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/alerts"
	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/eval"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/probe"
	"github.com/minewatch/minewatch/exporter/score"
	_ "github.com/minewatch/minewatch/exporter/server" // registers the state gauges the exporter serves
	"github.com/minewatch/minewatch/exporter/shard"
	"github.com/minewatch/minewatch/exporter/sim"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

// Sections of metrics.md that are not metric tables.
const (
	signalSection   = "Signals"
	recordedSection = "Recording rules"
)

// docRow is one table row of metrics.md whose first cell is a `name`.
type docRow struct {
	section string
	line    int
	cells   []string // trimmed, backticks of the first cell removed
}

// readDoc returns the named rows of metrics.md by first cell.
func readDoc(t *testing.T) map[string]docRow {
	t.Helper()
	b, err := os.ReadFile("metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docRow{}
	section := ""
	for i, l := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(l, "## "); ok {
			section = strings.TrimSpace(h)
			continue
		}
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		cells := strings.Split(strings.TrimSpace(l), "|")
		cells = cells[1 : len(cells)-1]
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		cells[0] = strings.Trim(cells[0], "`")
		if prev, dup := rows[cells[0]]; dup {
			t.Errorf("metrics.md:%d: %s listed again (first at line %d)", i+1, cells[0], prev.line)
		}
		rows[cells[0]] = docRow{section, i + 1, cells}
	}
	if len(rows) < 20 {
		t.Fatalf("only %d rows read from metrics.md", len(rows))
	}
	return rows
}

func metricLine(m names.Metric) []string {
	return []string{m.Name, m.Type(), strings.Join(m.Labels, ", "), m.Help}
}

func signalLine(s names.Signal) []string {
	return []string{s.ID, s.PointsText(), s.Zh, s.En}
}

func row(cells []string) string {
	return "| `" + cells[0] + "` | " + strings.Join(cells[1:], " | ") + " |"
}

// compareRows checks that the doc rows of the sections picked by inSection
// are exactly want (by first cell), each under its section.
func compareRows(t *testing.T, doc map[string]docRow, inSection func(string) bool, want map[string][]string, wantSection map[string]string, what string) {
	t.Helper()
	for name, cells := range want {
		r, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("metrics.md lacks the %s %s; add under %q:\n%s", what, name, wantSection[name], row(cells))
		case r.section != wantSection[name]:
			t.Errorf("metrics.md:%d: %s is under %q, exporter/names puts it under %q", r.line, name, r.section, wantSection[name])
		case !slices.Equal(r.cells, cells):
			t.Errorf("metrics.md:%d: %s differs from exporter/names:\n got %s\nwant %s", r.line, name, row(r.cells), row(cells))
		}
	}
	for name, r := range doc {
		if _, ok := want[name]; !ok && inSection(r.section) {
			t.Errorf("metrics.md:%d lists the %s %s, which exporter/names does not define (and the code does not write)", r.line, what, name)
		}
	}
}

// TestMetricsPageListsTheCatalogue: every metric of exporter/names is on the
// page with its type, labels and meaning, and the page lists no other.
func TestMetricsPageListsTheCatalogue(t *testing.T) {
	doc := readDoc(t)
	want, sect := map[string][]string{}, map[string]string{}
	for _, m := range names.Metrics() {
		want[m.Name], sect[m.Name] = metricLine(m), m.Group
	}
	metricSection := func(s string) bool { return s != signalSection && !strings.HasPrefix(s, recordedSection) }
	compareRows(t, doc, metricSection, want, sect, "metric")
}

// TestMetricsPageListsTheSignals: the signal table is exactly names' signals,
// with their points and labels.
func TestMetricsPageListsTheSignals(t *testing.T) {
	doc := readDoc(t)
	want, sect := map[string][]string{}, map[string]string{}
	for _, s := range names.Signals() {
		want[s.ID], sect[s.ID] = signalLine(s), signalSection
	}
	compareRows(t, doc, func(s string) bool { return s == signalSection }, want, sect, "signal")
}

// TestMetricsPageListsTheRecordedSeries: the recording-rule table names
// exactly the series the shipped rules record.
func TestMetricsPageListsTheRecordedSeries(t *testing.T) {
	doc := readDoc(t)
	recorded, err := alerts.RecordedSeries()
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) == 0 {
		t.Fatal("no recorded series in alerts/rules")
	}
	for name, file := range recorded {
		if r, ok := doc[name]; !ok || !strings.HasPrefix(r.section, recordedSection) {
			t.Errorf("%s records %s, which the recording-rule table of metrics.md lacks", file, name)
		}
	}
	for name, r := range doc {
		if strings.HasPrefix(r.section, recordedSection) && recorded[name] == "" {
			t.Errorf("metrics.md:%d lists the recorded series %s, which no rule of alerts/rules records", r.line, name)
		}
	}
}

// written collects what the code writes: label names per metric, and the
// values of the signal label.
type written struct {
	labels  map[string]map[string]bool // metric → sorted label names joined by ","
	signals map[string]bool
}

func (w *written) scrape(t *testing.T, what string, text []byte) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("%s: not the text format: %v\n%s", what, err, text)
	}
	for name, f := range fams {
		if !names.Ours(name) {
			continue
		}
		if w.labels[name] == nil {
			w.labels[name] = map[string]bool{}
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName())
				if name == names.HostSignalPoints && l.GetName() == "signal" {
					w.signals[l.GetValue()] = true
				}
			}
			sort.Strings(ls)
			w.labels[name][strings.Join(ls, ",")] = true
		}
	}
}

// scenario makes every signal show up at some point of six hours: XMRig
// miners on a listed pool port (contact, profile, cadence, port, hours), its
// donation visits to a pool listed by domain (a shared CDN address, and the
// donation cadence), and one miner that the ledger registers as research
// compute. Unsampled, so the periodicity of records counts.
const scenario = `
name: catalogue
seed: 7
start: 2026-11-16T08:00:00+08:00
duration: 6h
cdn: 104.21.48.7
exporters:
  - {id: r-ipfix, protocol: ipfix, address: 10.9.255.3, sampling: 1, active_timeout: 300s, inactive_timeout: 15s}
pools:
  - {id: xmr, coin: XMR, addr: 45.76.65.12, port: 3333, listed: true}
  - {id: donate, coin: XMR, domain: donate.v2.xmrig.example, port: 3333, listed: true}
units:
  - {id: u-a, name: 甲小学, sector: school, lead: {name: 甲, email: a@example.cn}, cidrs: [10.1.0.0/16],
     hosts: [{kind: pc, count: 3, behaviours: [web, dns]}, {kind: server, count: 1, behaviours: [ssh]}],
     miners: [{behaviour: xmrig, count: 2, pool: xmr, episodes: [{start: 0m, end: 6h}]}]}
`

// runPipeline plays the scenario through the exporter's pipeline, scraping
// its per-host series every ten minutes of flow time.
func runPipeline(t *testing.T, w *written) {
	s, err := sim.Parse("catalogue.yaml", []byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	gen, err := sim.Generate(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	research := false
	for i := range gen.Hosts {
		if h := &gen.Hosts[i]; h.Behaviour == "xmrig" {
			h.Kind, h.Research, research = "gpu-workstation", true, true
			break
		}
	}
	if !research {
		t.Fatal("no xmrig miner in the scenario")
	}
	led, st, err := eval.Setup(s, gen.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Options{Ledger: led, Intel: st, Detect: score.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	const tick, look = 10_000, 600_000
	next, nextLook := s.Start.UnixMilli()+tick, s.Start.UnixMilli()+look
	var buf bytes.Buffer
	var rec flow.Record
	for i := range gen.Records {
		gen.Record(i, &rec)
		for rec.End >= next {
			p.Tick(next)
			if next >= nextLook {
				buf.Reset()
				p.WriteMetrics(&buf, next)
				w.scrape(t, "pipeline series", buf.Bytes())
				nextLook += look
			}
			next += tick
		}
		p.Process(&rec)
	}
	// A record with no internal side is dropped and counted.
	p.Process(&flow.Record{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.1"), Proto: 6, Start: next, End: next})
}

// decodeFlows runs the flow decoder on one good IPFIX export and one
// truncated datagram, and scrapes its health set.
func decodeFlows(t *testing.T, w *written) {
	set := metrics.NewSet()
	dec := flow.NewDecoder(flow.Options{Metrics: set})
	src := netip.MustParseAddrPort("127.0.0.1:4739")
	now := time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC)
	recs := []flow.Record{{Src: netip.MustParseAddr("10.1.0.5"), Dst: netip.MustParseAddr("45.76.65.12"), SrcPort: 40000, DstPort: 3333,
		Proto: 6, TCPFlags: 0x18, Packets: 2, Bytes: 300, SamplingRate: 1, Start: now.UnixMilli() - 1000, End: now.UnixMilli()}}
	decoded := 0
	encode.NewExporter(flow.IPFIX, encode.Options{}).Encode(now, recs, func(d []byte) {
		if err := dec.DecodeNetFlow(src, now, d, func(*flow.Record) { decoded++ }); err != nil {
			t.Errorf("decoding the encoder's IPFIX: %v", err)
		}
	})
	if decoded != len(recs) {
		t.Fatalf("decoded %d records of %d", decoded, len(recs))
	}
	if err := dec.DecodeNetFlow(src, now, []byte{0, 10, 0, 40, 0}, func(*flow.Record) {}); err == nil {
		t.Fatal("a truncated IPFIX header decoded without error")
	}
	// An exporter an hour slow, announcing no sampling (v5, unsampled):
	// the clock check and the sampling flag write their series.
	encode.NewExporter(flow.NetFlowV5, encode.Options{}).Encode(now, recs, func(d []byte) {
		if err := dec.DecodeNetFlow(netip.MustParseAddrPort("127.0.0.2:2055"), now.Add(time.Hour), d, func(*flow.Record) {}); err != nil {
			t.Errorf("decoding the encoder's v5: %v", err)
		}
	})
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	w.scrape(t, "flow decoder set", buf.Bytes())
}

// loadIntel (re)loads one good and one missing list, as the exporter does.
func loadIntel(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pools.txt")
	if err := os.WriteFile(good, []byte("45.76.65.12:3333,XMR,test\npool.example.org,XMR,test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := intel.NewStore(intel.Options{Lists: []string{good, filepath.Join(dir, "missing.txt")}})
	if err := st.Load(); err == nil {
		t.Fatal("loading a missing list did not fail")
	}
}

// probeLoopback runs the active prober once against a loopback server that
// answers mining.subscribe as a pool does, its outcome going into the intel.
func probeLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := bufio.NewReader(c).ReadBytes('\n'); err == nil {
			c.Write([]byte(`{"id":1,"result":[[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"08000002",4],"error":null}` + "\n")) //nolint:errcheck
		}
	}()
	cfg := probe.DefaultConfiguration()
	cfg.Enabled, cfg.ProbeLoopback = true, true
	st := intel.NewStore(intel.Options{})
	p := probe.New(cfg, probe.Dependencies{OnResult: probe.ToIntel(st)})
	r, err := p.Probe(context.Background(), ln.Addr().(*net.TCPAddr).AddrPort())
	if err != nil || r.Outcome != probe.Confirmed {
		t.Fatalf("probe: %v %+v", err, r)
	}
}

// outsideShard gives an exporter that owns one unit a record of another
// unit's host: counted, not scored.
func outsideShard(t *testing.T) {
	if shard.New(shard.Configuration{Units: []string{"u-b"}}).Owns(netip.MustParseAddr("10.1.0.5"), "u-a") {
		t.Fatal("a shard of unit u-b owns a host of u-a")
	}
}

// TestCatalogueIsWhatTheCodeWrites runs the code that writes metrics (the
// pipeline over a simulated campus, the flow decoder, intel and ledger
// reloads, the exporter's state gauges, the case store's state for vmalert), and
// compares what it writes with exporter/names: every metric written is in
// the catalogue with the labels it lists, every catalogue metric is written,
// and the signals written are exactly the catalogue's. With the page tests
// above, metrics.md thus lists what the code writes and nothing else.
func TestCatalogueIsWhatTheCodeWrites(t *testing.T) {
	w := &written{labels: map[string]map[string]bool{}, signals: map[string]bool{}}
	runPipeline(t, w)
	decodeFlows(t, w)
	loadIntel(t)
	probeLoopback(t)
	outsideShard(t)
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false) // the global set /metrics serves: ledger, intel, pipeline, server
	w.scrape(t, "global set", buf.Bytes())
	w.scrape(t, "case disposition state", caseState(t))

	for _, m := range names.Metrics() {
		sets := w.labels[m.Name]
		if len(sets) == 0 {
			t.Errorf("catalogue metric %s: the code wrote no series of it", m.Name)
			continue
		}
		want := slices.Sorted(slices.Values(m.Labels))
		for ls := range sets {
			if ls != strings.Join(want, ",") {
				t.Errorf("%s written with labels {%s}, the catalogue says {%s}", m.Name, ls, strings.Join(want, ","))
			}
		}
	}
	for name := range w.labels {
		if _, ok := names.LookupMetric(name); !ok {
			t.Errorf("the code writes %s, which exporter/names (and so metrics.md) lacks", name)
		}
	}
	var ids []string
	for _, s := range names.Signals() {
		ids = append(ids, s.ID)
		if !w.signals[s.ID] {
			t.Errorf("signal %s is in the catalogue but the engine never wrote it over the scenario", s.ID)
		}
	}
	for s := range w.signals {
		if !slices.Contains(ids, s) {
			t.Errorf("the engine wrote signal %s, which exporter/names lacks", s)
		}
	}
}

// metricWord is a minewatch metric name in any text; a match ending in '_'
// is the stem of a regular expression (minewatch_host_(mining|score)).
var metricWord = regexp.MustCompile(`(?:^|[^A-Za-z0-9_])(minewatch_[a-z0-9_]+)`)

// TestRepositoryNamesOnlyCatalogueMetrics: queries in Go and TypeScript,
// dashboards, rules, templates and documents name only catalogue metrics,
// so a typo in a query string cannot hide until a panel is empty.
func TestRepositoryNamesOnlyCatalogueMetrics(t *testing.T) {
	known := names.MetricNames()
	exts := map[string]bool{".go": true, ".ts": true, ".tsx": true, ".json": true, ".yml": true, ".yaml": true, ".md": true, ".tmpl": true, ".txt": true}
	files := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "dist", "coverage":
				return filepath.SkipDir
			}
			return nil
		}
		if !exts[filepath.Ext(path)] {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for i, l := range strings.Split(string(b), "\n") {
			for _, m := range metricWord.FindAllStringSubmatch(l, -1) {
				if n := m[1]; !strings.HasSuffix(n, "_") && !known[n] {
					t.Errorf("%s:%d names %s, which is not in the catalogue (exporter/names)", path, i+1, n)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d files read: not the repository", files)
	}
}

// TestReadmeSignalTable: the README's short table of signals names the
// catalogue's signals with their points (its evidence column is its own).
func TestReadmeSignalTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "| signal | points |"):
			in = true
		case in && strings.HasPrefix(l, "|---"):
		case in && strings.HasPrefix(l, "|"):
			cells := strings.Split(l, "|")
			if len(cells) < 4 {
				t.Fatalf("README.md: short row %q", l)
			}
			id := strings.Trim(strings.TrimSpace(cells[1]), "`")
			got[id] = strings.ReplaceAll(strings.TrimSpace(cells[2]), "−", "-")
		default:
			in = false
		}
	}
	if len(got) == 0 {
		t.Fatal(`README.md has no "| signal | points |" table`)
	}
	for _, s := range names.Signals() {
		if p, ok := got[s.ID]; !ok || p != s.PointsText() {
			t.Errorf("README.md signal table: %s has points %q, exporter/names %q", s.ID, p, s.PointsText())
		}
		delete(got, s.ID)
	}
	for id := range got {
		t.Errorf("README.md signal table lists %s, which exporter/names does not define", id)
	}
}

// caseState records a disposition in a real case store and writes the
// state gauges the exporter serves for vmalert.
func caseState(t *testing.T) []byte {
	at := time.Date(2026, 11, 16, 9, 0, 0, 0, names.Location())
	st, _ := storetest.Seeded(t, []vmtest.Disposal{{IP: "10.1.0.5", Unit: "u-a", Stage: "located", Class: "active", Note: "实验楼", At: at}})
	var b bytes.Buffer
	if err := st.WriteState(context.Background(), &b, at.Add(time.Hour), 180*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
