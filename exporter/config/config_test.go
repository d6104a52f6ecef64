package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/listen"
	"github.com/minewatch/minewatch/exporter/logging"
	"github.com/minewatch/minewatch/exporter/score"
)

func TestExampleLoads(t *testing.T) {
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != (listen.Configuration{NetFlow: ":2055", SFlow: ":6343", HTTP: "127.0.0.1:9617", Readers: 2, SplitScoring: true}) {
		t.Errorf("listen = %+v", c.Listen)
	}
	if want := []string{"../../deploy/example/ledger.yaml", "../../deploy/example/assets.csv"}; !reflect.DeepEqual(c.Ledger.Files, want) {
		// "." base: Load joins with the file's directory, which is "." here.
		t.Errorf("ledger.files = %v, want %v", c.Ledger.Files, want)
	}
	if len(c.Ledger.ExtraInternal) != 3 || c.Ledger.ExtraInternal[1] != netip.MustParsePrefix("172.16.0.0/12") {
		t.Errorf("extra_internal = %v", c.Ledger.ExtraInternal)
	}
	if len(c.Intel.Files) != 2 || c.Intel.Allowlist[0] != "../../deploy/example/allowlist.txt" || c.Intel.ResolveInterval != time.Hour {
		t.Errorf("intel = %+v", c.Intel)
	}
	if len(c.Flow.AllowedSources) != 2 || c.Flow.MaxSources != 4096 || c.Flow.SourceIdle != time.Hour {
		t.Errorf("flow = %+v", c.Flow)
	}
	// The flow decoder applies the rates (server.SamplingOverrides); here the file's values.
	rates := map[netip.Addr]uint32{}
	for _, src := range c.Sampling.Sources {
		rates[src.Source] = src.Rate
	}
	if want := map[netip.Addr]uint32{netip.MustParseAddr("192.0.2.1"): 1000, netip.MustParseAddr("2001:db8::1"): 512}; !reflect.DeepEqual(rates, want) || c.Sampling.DefaultRate != 1 {
		t.Errorf("sampling = %v default %d, want %v default 1", rates, c.Sampling.DefaultRate, want)
	}
	if c.Detect != (Detect{50, 15, 10, 1_000_000, 24 * time.Hour, 30 * time.Minute}) {
		t.Errorf("detect = %+v", c.Detect)
	}
	if c.Snapshot != (score.SnapshotConfig{File: "/var/lib/minewatch/state.snap", Interval: time.Minute}) || c.Metrics.PersonalLabels {
		t.Errorf("snapshot = %+v, metrics = %+v", c.Snapshot, c.Metrics)
	}
	if c.Push.URL != "http://127.0.0.1:8429/api/v1/import/prometheus" || c.Push.Interval != 15*time.Second ||
		!reflect.DeepEqual(c.Push.ExtraLabels, map[string]string{"exporter": "zd-edu-egress-1", "region": "zhengdong"}) {
		t.Errorf("push = %+v", c.Push)
	}
	if c.Log != (logging.Configuration{Level: "info", Format: "logfmt"}) {
		t.Errorf("log = %+v", c.Log)
	}
}

func TestDefaultsAndRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "minewatch.yaml")
	os.WriteFile(path, []byte("ledger:\n  files: [units.yaml, /abs/assets.csv]\ndetect:\n  window: 7d\n  quiet_after: 1d12h\nsnapshot: {file: state/mw.snap}\n"), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "units.yaml"), "/abs/assets.csv"}; !reflect.DeepEqual(c.Ledger.Files, want) {
		t.Errorf("files = %v, want %v", c.Ledger.Files, want)
	}
	if want := (score.SnapshotConfig{File: filepath.Join(dir, "state/mw.snap"), Interval: time.Minute}); c.Snapshot != want {
		t.Errorf("snapshot = %+v, want %+v", c.Snapshot, want)
	}
	if c.Detect.Window != 7*24*time.Hour || c.Detect.QuietAfter != 36*time.Hour || c.Detect.Threshold != 50 {
		t.Errorf("detect = %+v", c.Detect)
	}
	if c.Listen != Default().Listen || c.Log != Default().Log {
		t.Error("defaults lost")
	}
	if err := Default().Validate(); err == nil || !strings.Contains(err.Error(), "nothing would count as internal") {
		t.Errorf("Default without ledger: %v", err)
	}
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  string
		wants []string
	}{
		{"unknown fields", `listen:
  netflow: ":2055"
  ipfix: ":4739"
ledgers:
  files: [a.yaml]
`, []string{
			`c.yaml:3: listen.ipfix: unknown field (known: netflow, sflow, http, web_config_file, pprof, readers, split_scoring)`,
			`c.yaml:4: ledgers: unknown field (known: listen, ledger, intel, sampling, detect, snapshot, metrics, cases, push, log, flow, probe, shard)`,
		}},
		{"ranges", `ledger: {files: [a.yaml]}
detect:
  threshold: 150
  floor: -1
  max_hosts: 10
  window: 24
  quiet_after: soon
listen:
  readers: 0
  netflow: "2055"
  sflow: ":70000"
`, []string{
			`c.yaml:3: detect.threshold: 150 is outside 1..100`,
			`c.yaml:4: detect.floor: -1 is outside 0..detect.threshold (150)`,
			`c.yaml:5: detect.max_hosts: 10 is below the minimum of 1000`,
			`c.yaml:6: detect.window: "24" is not a duration (e.g. 30s, 15m, 24h, 7d)`,
			`c.yaml:7: detect.quiet_after: "soon" is not a duration`,
			`c.yaml:9: listen.readers: 0 is outside 1..256`,
			`c.yaml:10: listen.netflow: "2055" is not host:port`,
			`c.yaml:11: listen.sflow: ":70000": port "70000" is not 1-65535`,
		}},
		{"floor above threshold", "ledger: {files: [a.yaml]}\ndetect: {threshold: 40, floor: 45}\n", []string{
			`c.yaml:2: detect.floor: 45 is outside 0..detect.threshold (40)`,
		}},
		{"types", `ledger:
  files: a.yaml
  extra_internal: [10.0.0.0/33, 10.1.0.1/16]
detect:
  threshold: fifty
  window: [24h]
sampling:
  default_rate: 0
  sources:
    - {source: 192.0.2.300, rate: 10}
    - {source: 192.0.2.1}
    - {source: 192.0.2.2, rate: 100}
    - {source: 192.0.2.2, rate: 200}
`, []string{
			`c.yaml:2: ledger.files: must be a list`,
			`c.yaml:3: ledger.extra_internal[0]: "10.0.0.0/33" is not a valid CIDR`,
			`c.yaml:3: ledger.extra_internal[1]: "10.1.0.1/16" has host bits set (did you mean 10.1.0.0/16?)`,
			`c.yaml:5: detect.threshold: "fifty" is not a whole number`,
			`c.yaml:6: detect.window: must be a single value`,
			`c.yaml:8: sampling.default_rate: 0 must be at least 1`,
			`c.yaml:10: sampling.sources[0].source: "192.0.2.300" is not an IP address`,
			`c.yaml:11: sampling.sources[1].rate: missing`,
			`c.yaml:13: sampling.sources[3].source: 192.0.2.2 is listed twice`,
		}},
		{"push and log", `ledger: {extra_internal: [10.0.0.0/8]}
push:
  url: vm:8428/api/v1/import
  interval: 100ms
  extra_labels:
    "bad-name": x
    unit: y
    __meta: z
    ok: ""
log:
  level: verbose
  format: text
`, []string{
			`c.yaml:3: push.url: "vm:8428/api/v1/import" is not an http:// or https:// URL`,
			`c.yaml:4: push.interval: 100ms is too short (at least 1s)`,
			`c.yaml:6: push.extra_labels.bad-name: "bad-name" is not a valid label name`,
			`c.yaml:7: push.extra_labels.unit: "unit" is a label minewatch sets itself`,
			`c.yaml:8: push.extra_labels.__meta: "__meta" is not a valid label name`,
			`c.yaml:9: push.extra_labels.ok: empty value`,
			`c.yaml:11: log.level: "verbose" is not one of debug | info | warn | error`,
			`c.yaml:12: log.format: "text" is not one of logfmt | json`,
		}},
		{"shard and cluster push", `ledger: {files: [a.yaml]}
shard:
  units: [no1, no1]
  prefixes: [10.20.0.1/17]
push:
  url: http://vminsert:8480/insert/prometheus/api/v1/import/prometheus
  extra_labels:
    instance: egress-a
`, []string{
			`c.yaml:3: shard.units[1]: unit "no1" is listed twice (first at line 3)`,
			`c.yaml:4: shard.prefixes[0]: "10.20.0.1/17" has host bits set (did you mean 10.20.0.0/17?)`,
			`c.yaml:6: push.url: "http://vminsert:8480/insert/prometheus/api/v1/import/prometheus": a VictoriaMetrics cluster URL needs the tenant after /insert/`,
			`c.yaml:8: push.extra_labels.instance: "instance" is set by push.instance`,
		}},
		{"empty shard", "ledger: {files: [a.yaml]}\nshard: {}\n", []string{
			`c.yaml:2: shard: lists no units and no prefixes`,
		}},
		{"allow_empty spelled loosely", "ledger: {files: [a.yaml], allow_empty: yes}\n", []string{
			`c.yaml:1: ledger.allow_empty: "yes" is not true or false`,
		}},
		{"snapshot interval", "ledger: {files: [a.yaml]}\nsnapshot:\n  file: state.snap\n  interval: 2h\n", []string{
			`c.yaml:4: snapshot.interval: 2h0m0s is outside 1s..1h`,
		}},
		{"dns server", "ledger: {files: [a.yaml]}\nintel:\n  dns_server: \"dns.example.net:99999\"\n", []string{
			`c.yaml:3: intel.dns_server: "dns.example.net:99999": port "99999" is not 1-65535`,
		}},
		{"repeated key", "ledger: {files: [a.yaml]}\nlog:\n  level: info\n  level: debug\n", []string{
			`c.yaml:4: log.level: set twice (first at line 3)`,
		}},
		{"not a mapping", "- listen\n", []string{`c.yaml:1: top level: must be a mapping`}},
		{"syntax", "listen:\n  netflow: \":2055\n", []string{`c.yaml:2: syntax: found unexpected end of stream`}},
		{"same udp port", "ledger: {files: [a.yaml]}\nlisten: {netflow: \":9995\", sflow: \":9995\"}\n", []string{
			`c.yaml:2: listen.sflow: ":9995" is also listen.netflow`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			msg := strings.ReplaceAll(err.Error(), path, "c.yaml")
			for _, w := range tc.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
		})
	}
}

func TestShardAndInstance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`ledger: {files: [a.yaml]}
shard:
  units: [zd-gov-office]
  prefixes: [10.20.128.0/17]
push:
  url: http://vminsert:8480/insert/7:2/prometheus/api/v1/import/prometheus
  instance: egress-b
`), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Shard.Units, []string{"zd-gov-office"}) || !reflect.DeepEqual(c.Shard.Prefixes, []netip.Prefix{netip.MustParsePrefix("10.20.128.0/17")}) {
		t.Errorf("shard = %+v", c.Shard)
	}
	if c.Push.Instance != "egress-b" || c.Push.URL != "http://vminsert:8480/insert/7:2/prometheus/api/v1/import/prometheus" {
		t.Errorf("push = %+v", c.Push)
	}
	if d := Default(); d.Shard.Enabled() || d.Push.Instance != "" {
		t.Errorf("default: shard %+v instance %q, want every host and the default instance", d.Shard, d.Push.Instance)
	}
}

func TestValidateAfterFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("ledger: {files: [a.yaml]}\ndetect:\n  threshold: 60\n"), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// A flag sets a bad value: the message must not blame line 3 of the file.
	c.Detect.Threshold = 0
	c.Log.Level = "loud"
	err = c.Validate()
	if err == nil {
		t.Fatal("bad flag values accepted")
	}
	for _, want := range []string{"detect.threshold: 0 is outside 1..100", `log.level: "loud" is not one of`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "c.yaml") {
		t.Errorf("flag value blamed on the file: %v", err)
	}
	c.Detect.Threshold, c.Log.Level = 70, "debug"
	if err := c.Validate(); err != nil {
		t.Errorf("good flag values rejected: %v", err)
	}
}

func TestWebSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("listen: {pprof: true, web_config_file: web.yml}\nledger: {files: [l.yaml], allow_empty: true}\nmetrics: {personal_labels: true}\n"), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Listen.Pprof || c.Listen.WebConfigFile != filepath.Join(dir, "web.yml") || !c.Ledger.AllowEmpty || !c.Metrics.PersonalLabels {
		t.Errorf("listen %+v ledger.allow_empty %v metrics %+v", c.Listen, c.Ledger.AllowEmpty, c.Metrics)
	}
	if d := Default(); d.Listen.Pprof || d.Listen.HTTP != "127.0.0.1:9617" || d.Metrics.PersonalLabels || d.Ledger.AllowEmpty {
		t.Errorf("defaults must keep things closed: %+v %+v allow_empty=%v", d.Listen, d.Metrics, d.Ledger.AllowEmpty)
	}
}
