package shard

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// parse reads text as a config file holding only a `shard:` section.
func parse(t *testing.T, text string) (Configuration, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	w := &yamlcheck.Walker{File: "c.yaml"}
	var c Configuration
	w.Fields(doc.Content[0], "", []string{"shard"}, func(_ string, v *yaml.Node, f string) { c.DecodeYAML(w, v, f) })
	var msgs []string
	for _, err := range w.Errs {
		msgs = append(msgs, err.Error())
	}
	return c, msgs
}

func TestDecodeYAML(t *testing.T) {
	c, errs := parse(t, `shard:
  units: [zd-no1-middle, unassigned]
  prefixes:
    - 10.20.128.0/17
    - 2001:db8:20::/48
    - 10.30.1.9
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if want := []string{"zd-no1-middle", "unassigned"}; !reflect.DeepEqual(c.Units, want) {
		t.Errorf("units = %v, want %v", c.Units, want)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.20.128.0/17"), netip.MustParsePrefix("2001:db8:20::/48"), netip.MustParsePrefix("10.30.1.9/32")}
	if !reflect.DeepEqual(c.Prefixes, want) {
		t.Errorf("prefixes = %v, want %v", c.Prefixes, want)
	}
	if !c.Enabled() || DefaultConfiguration().Enabled() {
		t.Error("Enabled: want a shard with units, none by default")
	}
	if New(DefaultConfiguration()) != nil {
		t.Error("New(default) should be nil: a lone exporter owns every host")
	}
}

func TestBadShardConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"empty section", "shard: {}\n", []string{
			"c.yaml:1: shard: lists no units and no prefixes: this exporter would own no host (remove the section to own every internal host)"}},
		{"empty lists", "shard:\n  units: []\n  prefixes: []\n", []string{
			"c.yaml:2: shard: lists no units and no prefixes"}},
		{"bad values", `shard:
  units: [zd-no1-middle, "Bad Unit", zd-no1-middle]
  prefixes:
    - 10.20.0.1/16
    - 10.20.0.0/33
    - school-a
    - 10.30.0.0/16
    - 10.30.0.0/16
  hash: 1/2
`, []string{
			`c.yaml:2: shard.units[1]: "Bad Unit" is not a unit id: a unit id may use only`,
			`c.yaml:2: shard.units[2]: unit "zd-no1-middle" is listed twice (first at line 2)`,
			`c.yaml:4: shard.prefixes[0]: "10.20.0.1/16" has host bits set (did you mean 10.20.0.0/16?)`,
			`c.yaml:5: shard.prefixes[1]: "10.20.0.0/33" is not a CIDR (e.g. 10.20.0.0/17)`,
			`c.yaml:6: shard.prefixes[2]: "school-a" is not a CIDR (e.g. 10.20.0.0/17) or an IP address`,
			`c.yaml:8: shard.prefixes[4]: 10.30.0.0/16 is listed twice (first at line 7)`,
			`c.yaml:9: shard.hash: unknown field (known: units, prefixes)`,
		}},
		{"not lists", "shard:\n  units: zd-no1-middle\n  prefixes: {a: 1}\n", []string{
			`c.yaml:2: shard.units: must be a list`,
			`c.yaml:3: shard.prefixes: must be a list`,
		}},
		{"not a mapping", "shard: [a]\n", []string{`c.yaml:1: shard: must be a mapping`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := parse(t, tc.text)
			if len(errs) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%s", len(errs), len(tc.want), strings.Join(errs, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(errs[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s…", i, errs[i], w)
				}
			}
		})
	}
}

func TestOwns(t *testing.T) {
	c, errs := parse(t, "shard:\n  units: [gov]\n  prefixes: [10.20.128.0/17, 2001:db8:20::/48]\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := New(c)
	outside := metrics.GetOrCreateCounter(names.FlowRecordsOutsideShard)
	before := outside.Get()
	for _, tc := range []struct {
		ip, unit string
		want     bool
	}{
		{"10.20.200.5", "no1", true},       // in an owned prefix, whatever its unit
		{"10.20.127.255", "no1", false},    // just below it: another exporter's
		{"10.30.1.9", "gov", true},         // an owned unit, whatever its address
		{"10.40.0.1", "unassigned", false}, // "unassigned" is not owned unless listed
		{"2001:db8:20:1::5", "no1", true},
		{"2001:db8:21::5", "no1", false},
	} {
		if got := s.Owns(netip.MustParseAddr(tc.ip), tc.unit); got != tc.want {
			t.Errorf("Owns(%s, %s) = %v, want %v", tc.ip, tc.unit, got, tc.want)
		}
	}
	if got := outside.Get() - before; got != 3 {
		t.Errorf("%s rose by %d, want 3 (one per record not owned)", names.FlowRecordsOutsideShard, got)
	}
	var none *Shard
	if !none.Owns(netip.MustParseAddr("10.0.0.1"), "x") || none.CheckUnits(nil) != nil || none.String() != "all" {
		t.Error("a nil shard must own every host")
	}
	if got := s.String(); got != "gov,10.20.128.0/17,2001:db8:20::/48" {
		t.Errorf("String = %q", got)
	}
}

func TestCheckUnitsNamesFileAndLine(t *testing.T) {
	c, errs := parse(t, "shard:\n  units:\n    - no1\n    - n01\n    - unassigned\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	known := map[string]bool{"no1": true, "gov": true}
	err := New(c).CheckUnits(func(id string) bool { return known[id] })
	want := `c.yaml:4: shard.units[1]: unit "n01" is not in the ledger: its hosts would be scored by no exporter`
	if err == nil || err.Error() != want {
		t.Errorf("CheckUnits = %v\nwant %s", err, want)
	}
	if err := New(Configuration{Units: []string{"gov"}}).CheckUnits(func(id string) bool { return known[id] }); err != nil {
		t.Errorf("known unit: %v", err)
	}
	var je interface{ Unwrap() []error }
	if err := New(Configuration{Units: []string{"a", "b"}}).CheckUnits(func(string) bool { return false }); !errors.As(err, &je) || len(je.Unwrap()) != 2 {
		t.Errorf("two unknown units: %v, want both reported", err)
	}
}

// Two pipelines with disjoint shards fed the same records (a fan-out): each
// host is scored by exactly one of them, with the unit from the ledger.
func TestFanOutScoresEachHostOnce(t *testing.T) {
	led, err := ledger.Parse("ledger.yaml", []byte(`units:
  - {id: no1, name: 第一中学, sector: school, cidrs: [10.20.0.0/16]}
  - {id: gov, name: 政务中心, sector: government, cidrs: [10.30.0.0/16]}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := New(Configuration{Units: []string{"gov"}, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/17")}})
	b := New(Configuration{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.20.128.0/17")}})
	var pipes []*pipeline.Pipeline
	for _, s := range []*Shard{a, b} {
		p, err := pipeline.New(pipeline.Options{Ledger: led, Detect: score.DefaultConfig(), Owns: s.Owns})
		if err != nil {
			t.Fatal(err)
		}
		pipes = append(pipes, p)
	}
	hosts := []string{"10.20.3.21", "10.20.200.5", "10.30.1.9"}
	const t0 = 1_763_251_200_000
	for i, h := range hosts {
		for k := 0; k < 20; k++ {
			r := &flow.Record{Src: netip.MustParseAddr(h), Dst: netip.MustParseAddr("198.51.100.7"), SrcPort: 49152 + uint16(i), DstPort: 3333,
				Proto: 6, TCPFlags: 0x18, Packets: 2, Bytes: 300, SamplingRate: 1, Start: t0 + int64(k)*30_000, End: t0 + int64(k)*30_000 + 50}
			for _, p := range pipes {
				p.Process(r)
			}
		}
	}
	owner := map[string][]int{}
	for i, p := range pipes {
		p.Tick(t0 + 20*30_000)
		for _, h := range hosts {
			if p.Engine().Report(netip.MustParseAddr(h)) != nil {
				owner[h] = append(owner[h], i)
			}
		}
	}
	want := map[string][]int{"10.20.3.21": {0}, "10.20.200.5": {1}, "10.30.1.9": {0}}
	if !reflect.DeepEqual(owner, want) {
		t.Errorf("hosts tracked by exporter = %v, want %v", owner, want)
	}
}
