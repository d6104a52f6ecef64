package pipeline

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/score"
)

const testLedger = `units:
  - id: zd-no1-middle
    name: 郑东新区第一中学 "一中"
    sector: school
    parent: zd-edu
    cidrs: [10.20.0.0/16]
  - id: zd-edu
    name: 郑东新区教育局
    sector: government
    cidrs: [10.0.0.0/8]
assets:
  - ip: 10.20.3.21
    unit: zd-no1-middle
    name: 实验楼301 GPU工作站
    kind: gpu-workstation
    owner: 李老师
`

func newTestPipeline(t testing.TB) *Pipeline {
	t.Helper()
	led, err := ledger.Parse("ledger.yaml", []byte(testLedger), netip.MustParsePrefix("172.16.0.0/12"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := intel.Parse("pools.txt", []byte("198.51.100.7:3333,XMR,bureau\n"))
	if err != nil {
		t.Fatal(err)
	}
	store := intel.NewStore(intel.Options{})
	store.Set(intel.NewSet([]*intel.List{list}, nil, nil))
	p, err := New(Options{Ledger: led, Intel: store, Detect: score.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func rec(src, dst string, sport, dport uint16, start int64) *flow.Record {
	return &flow.Record{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport,
		Proto: 6, TCPFlags: 0x18, Packets: 2, Bytes: 400, SamplingRate: 1, Start: start, End: start + 50}
}

func TestProcessOrientsUnitsAndWritesSeries(t *testing.T) {
	p := newTestPipeline(t)
	const t0 = 1_763_251_200_000
	// Outbound to the pool, inbound from it: both count for the internal host.
	p.Process(rec("10.20.3.21", "198.51.100.7", 40000, 3333, t0))
	p.Process(rec("198.51.100.7", "10.20.3.21", 3333, 40000, t0+100))
	// An internal IP outside every unit but inside the extra ranges.
	p.Process(rec("172.16.5.5", "198.51.100.7", 40001, 3333, t0+200))
	// Neither side internal: dropped.
	p.Process(rec("192.0.2.1", "198.51.100.7", 40002, 3333, t0+300))
	p.Tick(t0 + 1000)

	r := p.Engine().Report(netip.MustParseAddr("10.20.3.21"))
	if r == nil || !r.Mining || r.Unit != "zd-no1-middle" || r.PoolContacts[0].Count != 2 {
		t.Fatalf("miner report %+v", r)
	}
	if r := p.Engine().Report(netip.MustParseAddr("172.16.5.5")); r == nil || r.Unit != ledger.Unassigned {
		t.Fatalf("extra-range host report %+v", r)
	}
	if p.Engine().Report(netip.MustParseAddr("192.0.2.1")) != nil || p.Engine().Report(netip.MustParseAddr("198.51.100.7")) != nil {
		t.Fatal("an external address was tracked as a host")
	}
	if p.LastFlow() != t0+250 { // the dropped record does not move the clock
		t.Fatalf("flow clock %d", p.LastFlow())
	}

	var buf bytes.Buffer
	p.WriteMetrics(&buf, t0+1000)
	out := buf.String()
	for _, want := range []string{
		`minewatch_unit_info{unit="zd-no1-middle",name="郑东新区第一中学 \"一中\"",sector="school",parent="zd-edu"} 1 1763251201000`,
		`minewatch_host_mining{ip="10.20.3.21",unit="zd-no1-middle",class="unknown"} 1 1763251201000`,
		`minewatch_pool_contacts_total{ip="10.20.3.21",unit="zd-no1-middle",pool="198.51.100.7:3333",coin="XMR"} 2 1763251201000`,
		`minewatch_host_signal_points{ip="10.20.3.21",unit="zd-no1-middle",signal="pool_contact"} 55 1763251201000`,
		`minewatch_host_info{ip="10.20.3.21",unit="zd-no1-middle",kind="gpu-workstation",research="false"} 1 1763251201000`,
		`minewatch_host_mining{ip="172.16.5.5",unit="unassigned",class="unknown"} 1 1763251201000`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing line %s\nin:\n%s", want, out)
		}
	}
	if strings.Contains(out, "李老师") || strings.Contains(out, "实验楼301") {
		t.Errorf("personal data from the asset ledger in the metrics by default:\n%s", out)
	}

	// Turned on in the config, the ledger's personal fields become labels.
	p.personal = true
	buf.Reset()
	p.WriteMetrics(&buf, t0+1000)
	want := `minewatch_host_info{ip="10.20.3.21",unit="zd-no1-middle",asset="实验楼301 GPU工作站",kind="gpu-workstation",location="",department="",owner="李老师",research="false"} 1 1763251201000`
	if !strings.Contains(buf.String(), want+"\n") {
		t.Errorf("with PersonalLabels: missing line %s\nin:\n%s", want, buf.String())
	}
}

// A host whose behaviour alone looks like mining (a Stratum-like session to
// an unlisted endpoint) is a suspect: minewatch_host_suspect is 1 and
// minewatch_host_mining, which emails and the IP清零 counts read, stays 0;
// its endpoint reaches the prober's hook. The confirmed miner is the reverse.
func TestSuspectHasItsOwnSeries(t *testing.T) {
	led, err := ledger.Parse("ledger.yaml", []byte(testLedger))
	if err != nil {
		t.Fatal(err)
	}
	list, err := intel.Parse("pools.txt", []byte("198.51.100.7:3333,XMR,bureau\n"))
	if err != nil {
		t.Fatal(err)
	}
	store := intel.NewStore(intel.Options{})
	store.Set(intel.NewSet([]*intel.List{list}, nil, nil))
	q := score.NewSuspectQueue(8)
	cfg := score.DefaultConfig()
	cfg.OnSuspect = q.Offer
	p, err := New(Options{Ledger: led, Intel: store, Detect: cfg})
	if err != nil {
		t.Fatal(err)
	}
	const t0 = 1_763_251_200_000
	for ts := int64(t0); ts < t0+15*60_000; ts += 30_000 {
		for _, pair := range [][2]string{{"10.20.3.22", "203.0.113.9"}, {"10.20.3.21", "198.51.100.7"}} {
			port := uint16(443)
			if pair[1] == "198.51.100.7" {
				port = 3333
			}
			out := rec(pair[0], pair[1], 40000, port, ts)
			out.Packets, out.Bytes = 1, 250
			in := rec(pair[1], pair[0], port, 40000, ts+15_000)
			in.Packets, in.Bytes = 1, 450
			p.Process(out)
			p.Process(in)
		}
		p.Tick(ts + 20_000)
	}
	var buf bytes.Buffer
	p.WriteMetrics(&buf, t0+15*60_000)
	out := buf.String()
	for _, want := range []string{
		`minewatch_host_suspect{ip="10.20.3.22",unit="zd-no1-middle"} 1 `,
		`minewatch_host_mining{ip="10.20.3.22",unit="zd-no1-middle",class="unknown"} 0 `,
		`minewatch_host_suspect{ip="10.20.3.21",unit="zd-no1-middle"} 0 `,
		`minewatch_host_mining{ip="10.20.3.21",unit="zd-no1-middle",class="unknown"} 1 `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s\nin:\n%s", want, out)
		}
	}
	select {
	case s := <-q.C:
		if s.Host != netip.MustParseAddr("10.20.3.22") || s.Remote != netip.MustParseAddrPort("203.0.113.9:443") {
			t.Errorf("prober handed %+v", s)
		}
	default:
		t.Error("the suspect's endpoint never reached the prober's queue")
	}
}
