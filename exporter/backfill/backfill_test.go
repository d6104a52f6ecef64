package backfill_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/backfill"
	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/replay"
	"github.com/minewatch/minewatch/exporter/sim"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// tinyCapture writes the tiny scenario's exports into a pcap and its ledger
// and intel beside it, and returns the configuration naming them.
func tinyCapture(t *testing.T) (string, *config.Config, *sim.Result) {
	t.Helper()
	s, err := sim.Load("../sim/testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.Generate(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, fn func(*os.File) error) string {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	capture := write("tiny.pcap", func(f *os.File) error {
		pw, err := encode.NewPcapWriter(f)
		if err != nil {
			return err
		}
		_, err = sim.Export(s, res, sim.WritePcap(pw))
		return err
	})
	cfg := config.Default()
	cfg.Ledger.Files = []string{write("ledger.yaml", func(f *os.File) error { return sim.WriteLedger(f, s, res.Hosts) })}
	cfg.Intel.Files = []string{write("pools.txt", func(f *os.File) error { return sim.WriteIntel(f, s) })}
	return capture, cfg, res
}

func newBackfill(t *testing.T, cfg *config.Config, importURL string) *backfill.Backfill {
	t.Helper()
	p, err := backfill.NewPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bf, err := backfill.New(backfill.Options{Pipeline: p, Decoder: backfill.NewDecoder(cfg, flow.Options{}),
		ImportURL: importURL, Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return bf
}

// exported is one series of /api/v1/export.
type exported struct {
	Metric     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

func export(t *testing.T, vm *vmtest.VM, match string) []exported {
	t.Helper()
	resp, err := http.Get(vm.URL + "/api/v1/export?" + url.Values{"match[]": {match}, "start": {"0"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("export %s: %s", match, resp.Status)
	}
	var out []exported
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var e exported
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestCaptureIntoVictoriaMetrics replays a capture into a real
// VictoriaMetrics: one snapshot per minute of the capture's own clock, the
// last at its last record, and the simulated miners flagged in the history.
func TestCaptureIntoVictoriaMetrics(t *testing.T) {
	capture, cfg, res := tinyCapture(t)
	vm := vmtest.Start(t)
	bf := newBackfill(t, cfg, vm.URL)
	stats, err := bf.Capture(capture, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bf.Close(); err != nil {
		t.Fatal(err)
	}
	if stats.Records == 0 || bf.Records != stats.Records {
		t.Fatalf("replay emitted %d records, the backfill scored %d", stats.Records, bf.Records)
	}
	// Two hours of flow time, a snapshot each minute plus the last one.
	if n := bf.Snapshots(); n < 110 || n > 125 {
		t.Errorf("%d snapshots for a %s capture, want about 120", n, stats.Last.Sub(stats.First))
	}
	vm.Flush(t)

	// minewatch_unit_info is in every snapshot: its timestamps are the
	// snapshots', on the capture's clock, not the wall clock.
	units := export(t, vm, "minewatch_unit_info")
	if len(units) == 0 {
		t.Fatal("no minewatch_unit_info in VictoriaMetrics after the backfill")
	}
	ts := units[0].Timestamps
	if len(ts) != bf.Snapshots() {
		t.Errorf("unit %s has %d samples, the backfill wrote %d snapshots", units[0].Metric["unit"], len(ts), bf.Snapshots())
	}
	first, last := stats.First.Add(-time.Minute).UnixMilli(), stats.Last.Add(time.Minute).UnixMilli()
	for _, x := range ts {
		if x < first || x > last {
			t.Fatalf("snapshot at %s, outside the capture %s – %s", time.UnixMilli(x).UTC(), stats.First, stats.Last)
		}
	}
	if got, want := ts[len(ts)-1], bf.Last().UnixMilli(); got != want {
		t.Errorf("last snapshot at %d, last record ends at %d", got, want)
	}

	flagged := map[string]bool{}
	for _, s := range export(t, vm, `minewatch_host_mining`) {
		for _, v := range s.Values {
			if v == 1 {
				flagged[s.Metric["ip"]] = true
			}
		}
	}
	var miners, found []string
	for _, tr := range res.Truth {
		if tr.Mining() {
			miners = append(miners, tr.IP)
			if flagged[tr.IP] {
				found = append(found, tr.IP)
			}
		}
	}
	if len(miners) == 0 || len(found) == 0 {
		t.Fatalf("simulated miners %v, flagged in the history %v", miners, flagged)
	}
	t.Logf("%d records, %d snapshots; miners flagged in the history: %v of %v", bf.Records, bf.Snapshots(), found, miners)
}

// TestCorruptCaptureKeepsWhatWasRead: a capture garbled half-way returns
// the replay's error, and the records read before the damage are scored.
func TestCorruptCaptureKeepsWhatWasRead(t *testing.T) {
	capture, cfg, _ := tinyCapture(t)
	whole := newBackfill(t, cfg, "")
	all, err := whole.Capture(capture, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	copy(data[len(data)/2:], strings.Repeat("\xff", 64)) // a packet record header no reader accepts
	if err := os.WriteFile(capture, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bf := newBackfill(t, cfg, "")
	stats, err := bf.Capture(capture, replay.Options{})
	if err == nil {
		t.Fatalf("a capture garbled half-way replayed without error: %+v", stats)
	}
	if err := bf.Close(); err != nil {
		t.Fatal(err)
	}
	if stats.Records == 0 || stats.Records >= all.Records || bf.Records != stats.Records {
		t.Fatalf("garbled capture: %d records read, %d scored; whole capture %d", stats.Records, bf.Records, all.Records)
	}
	t.Logf("garbled half-way: %v; %d of %d records read and scored", err, bf.Records, all.Records)
}

// TestHistoryErrorIsReported: with nothing listening at the import URL the
// backfill says so instead of reporting success.
func TestHistoryErrorIsReported(t *testing.T) {
	capture, cfg, _ := tinyCapture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	bf := newBackfill(t, cfg, dead)
	if _, err := bf.Capture(capture, replay.Options{}); err != nil {
		t.Fatal(err)
	}
	err = bf.Close()
	if err == nil || !strings.Contains(err.Error(), "VictoriaMetrics") {
		t.Fatalf("writing history to %s where nothing listens: %v", dead, err)
	}
}

// TestReplayKeepsToTheShard: a configuration whose exporter owns one
// miner's address replays only that host, as the exporter would score.
func TestReplayKeepsToTheShard(t *testing.T) {
	capture, cfg, res := tinyCapture(t)
	hosts := func(cfg *config.Config) int {
		p, err := backfill.NewPipeline(cfg)
		if err != nil {
			t.Fatal(err)
		}
		bf, err := backfill.New(backfill.Options{Pipeline: p, Decoder: backfill.NewDecoder(cfg, flow.Options{}), Step: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bf.Capture(capture, replay.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := bf.Close(); err != nil {
			t.Fatal(err)
		}
		return p.Engine().Stats().Hosts
	}
	all := hosts(cfg)
	var miner string
	for _, tr := range res.Truth {
		if tr.Mining() {
			miner = tr.IP
			break
		}
	}
	if miner == "" || all < 2 {
		t.Fatalf("the tiny scenario has miner %q and %d hosts; the test needs a miner among several hosts", miner, all)
	}
	cfg.Shard.Prefixes = []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(miner), 32)}
	if got := hosts(cfg); got != 1 {
		t.Fatalf("replay with a shard owning only %s tracked %d hosts (without a shard: %d)", miner, got, all)
	}
}
