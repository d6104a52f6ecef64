package pipeline

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// TestBatchedIsProcess decodes the same datagrams twice, scoring one copy
// record by record (Process) and the other a datagram at a time (Batched),
// and requires the same engine state (the snapshot files, byte for byte)
// and flow clock. The datagrams: every real vendor NetFlow v9/IPFIX payload
// in shared/testdata/real-exports (their private addresses internal), and
// the benchmark's campus mix as NetFlow v9, IPFIX and sFlow.
func TestBatchedIsProcess(t *testing.T) {
	dgrams, files := sameResultDatagrams(t)
	realRecs := 0 // records of the vendor payloads
	run := func(batched bool) (*Pipeline, int) {
		p, dec := sameResultPipeline(t)
		recv := time.UnixMilli(benchT0)
		n := 0
		for i, d := range dgrams {
			if i == files {
				realRecs = n
			}
			decode := dec.DecodeNetFlow
			if d.sflow {
				decode = dec.DecodeSFlow
			}
			if batched {
				p.Batched(func(emit func(*flow.Record)) {
					decode(d.src, recv, d.packet, func(r *flow.Record) { n++; emit(r) }) //nolint:errcheck // both runs see the same errors
				})
			} else {
				decode(d.src, recv, d.packet, func(r *flow.Record) { n++; p.Process(r) }) //nolint:errcheck // both runs see the same errors
			}
		}
		return p, n
	}
	one, n1 := run(false)
	batch, n2 := run(true)
	if n1 != n2 || realRecs < 100 || n1-realRecs < 24_000*2 {
		t.Fatalf("records decoded: %d one by one, %d batched, %d of them from vendor payloads", n1, n2, realRecs)
	}
	if one.LastFlow() != batch.LastFlow() {
		t.Fatalf("flow clock: %d one by one, %d batched", one.LastFlow(), batch.LastFlow())
	}
	st := one.Engine().Stats()
	if bs := batch.Engine().Stats(); st != bs {
		t.Fatalf("stats: %+v one by one, %+v batched", st, bs)
	}
	if st.Hosts < 10_000 || st.Sessions == 0 {
		t.Fatalf("test premise: %+v", st)
	}
	if a, b := snapshotBytes(t, one), snapshotBytes(t, batch); !bytes.Equal(a, b) {
		t.Fatalf("snapshots differ (%d and %d bytes)", len(a), len(b))
	}
	t.Logf("%d records (%d from vendor payloads), %+v", n1, realRecs, st)
}

// testDatagram is one export datagram of the same-result tests.
type testDatagram struct {
	src    netip.AddrPort
	sflow  bool
	packet []byte
}

// sameResultDatagrams are every real vendor NetFlow v9/IPFIX payload (files
// of them, first, templates first) and the campus mix as NetFlow v9, IPFIX
// and sFlow.
func sameResultDatagrams(t *testing.T) (dgrams []testDatagram, files int) {
	t.Helper()
	dir := testsupport.Shared(t, "testdata", "real-exports", "netflow-ipfix-payloads")
	names, err := filepath.Glob(filepath.Join(dir, "*.dat"))
	if err != nil || len(names) < 50 {
		t.Fatalf("real payloads missing in %s: %v (%d files)", dir, err, len(names))
	}
	sort.SliceStable(names, func(i, j int) bool { // templates first
		return strings.Contains(filepath.Base(names[i]), "tpl") && !strings.Contains(filepath.Base(names[j]), "tpl")
	})
	for i, f := range names {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// One source per file: a vendor's template and data files share
		// template ids with other vendors', so each file is its own exporter
		// unless it is a data file following its template file.
		dgrams = append(dgrams, testDatagram{src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i%250 + 1)}), 2055), packet: b})
	}
	for _, p := range []flow.Protocol{flow.NetFlowV9, flow.IPFIX, flow.SFlowV5} {
		for _, d := range benchDatagrams(p) {
			dgrams = append(dgrams, testDatagram{src: netip.MustParseAddrPort("10.20.255.1:2055"), sflow: p == flow.SFlowV5, packet: d})
		}
	}
	return dgrams, len(names)
}

// sameResultPipeline is a fresh pipeline (private addresses internal, one
// pool listed) and decoder for the same-result tests.
func sameResultPipeline(t *testing.T) (*Pipeline, *flow.Decoder) {
	t.Helper()
	led, err := ledger.Parse("ledger.yaml", []byte(testLedger), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"))
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
	return p, flow.NewDecoder(flow.Options{Metrics: metrics.NewSet(), Configuration: flow.Configuration{ClockTolerance: 20 * 365 * 24 * time.Hour}})
}

// snapshotBytes is p's engine state as its snapshot file.
func snapshotBytes(t *testing.T, p *Pipeline) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state")
	if _, err := p.Engine().SaveFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBatchedAllocations: scoring a datagram through Batched allocates no
// more than scoring its records one by one (a Batch is reused, not made per
// datagram), on the campus datagrams without a pool record (an intel hit
// allocates its IntelHit either way).
func TestBatchedAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool drops pooled batches at random: allocation counts mean nothing")
	}
	p := newTestPipeline(t)
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	src := netip.MustParseAddrPort("10.20.255.1:2055")
	now := time.UnixMilli(benchT0)
	dgrams := benchDatagrams(flow.NetFlowV9)
	for _, d := range dgrams { // templates, and every host tracked
		p.Batched(func(emit func(*flow.Record)) { dec.DecodeNetFlow(src, now, d, emit) }) //nolint:errcheck // checked below
	}
	var plain [][]byte // datagrams with no pool record
	for _, d := range dgrams {
		pool := false
		dec.DecodeNetFlow(src, now, d, func(r *flow.Record) { pool = pool || r.DstPort == 3333 || r.SrcPort == 3333 }) //nolint:errcheck // checked below
		if !pool && len(plain) < 50 {
			plain = append(plain, d)
		}
	}
	if len(plain) < 50 {
		t.Fatalf("test premise: %d datagrams without a pool record", len(plain))
	}
	i := 0
	var err error
	perRecord := testing.AllocsPerRun(200, func() {
		err = dec.DecodeNetFlow(src, now, plain[i%len(plain)], p.Process)
		i++
	})
	if err != nil {
		t.Fatal(err)
	}
	batched := testing.AllocsPerRun(200, func() {
		d := plain[i%len(plain)]
		p.Batched(func(emit func(*flow.Record)) { err = dec.DecodeNetFlow(src, now, d, emit) })
		i++
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allocations per datagram: %.2f one by one, %.2f batched", perRecord, batched)
	if batched > perRecord {
		t.Fatalf("Batched allocates %.2f per datagram, one by one %.2f", batched, perRecord)
	}
}
