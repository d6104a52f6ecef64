package eval

import (
	"net/netip"
	"testing"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/sim"
)

// TestTabulate checks the metric arithmetic on a hand-made outcome.
func TestTabulate(t *testing.T) {
	truth := []sim.Truth{
		{IP: "10.0.0.1", Behaviour: "xmrig", Class: "active", Episodes: []sim.Span{{Start: 1000, End: 9_000_000}}},
		{IP: "10.0.0.2", Behaviour: "xmrig", Class: "active", Episodes: []sim.Span{{Start: 1000, End: 9_000_000}}},
		{IP: "10.0.0.3", Behaviour: "trojan-idle", Class: "passive", Episodes: []sim.Span{{Start: 0, End: 9_000_000}}},
		{IP: "10.0.0.4", Behaviour: "normal", Class: "none", Kind: "pc", Ordinary: []string{"game"}},
		{IP: "10.0.0.5", Behaviour: "normal", Class: "none"},
		{IP: "10.0.0.6", Behaviour: "research-gpu", Class: "research"},
		{IP: "10.0.0.7", Behaviour: "normal", Class: "none"},
	}
	out := map[netip.Addr]*hostOutcome{
		netip.MustParseAddr("10.0.0.1"): {flagged: true, flaggedAt: 61_000, class: "active"},
		netip.MustParseAddr("10.0.0.3"): {flagged: true, flaggedAt: 600_000, class: "active"},
		netip.MustParseAddr("10.0.0.4"): {flagged: true, flaggedAt: 5, class: "unknown"},
		netip.MustParseAddr("10.0.0.6"): {flagged: true, flaggedAt: 5, class: "research"}, // right class: not a false positive
		netip.MustParseAddr("10.0.0.7"): {suspect: true, suspectOn: "periodicity+stratum_profile"},
	}
	rows, fps, groups, sgroups := tabulate("unsampled", truth, out)
	if len(sgroups) != 1 || sgroups["  on periodicity+stratum_profile"] != 1 || rows[len(rows)-1].SuspectHosts != 1 {
		t.Errorf("suspects by group %v", sgroups)
	}
	all := rows[len(rows)-1]
	if all.Behaviour != "overall" || all.Miners != 3 || all.Detected != 2 || all.FPHosts != 1 || all.Negatives != 4 {
		t.Fatalf("overall %+v", all)
	}
	if all.Precision != 2.0/3 || all.FPRate != 0.25 || all.ClassAccuracy != 0.5 {
		t.Errorf("overall %+v", all)
	}
	if all.TTFMedian != 600 || rows[1].TTFMedian != 60 { // rows sorted: trojan-idle, xmrig
		t.Errorf("time to flag %v %v", all.TTFMedian, rows[1].TTFMedian)
	}
	if len(fps) != 1 || groups["pc game"] != 1 {
		t.Errorf("false positives %v %v", fps, groups)
	}
}

// TestRunTiny runs the whole loop on the tiny scenario: every host is
// accounted for, once per rate.
func TestRunTiny(t *testing.T) {
	s, err := sim.Load("../sim/testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(s, DefaultRates[:2], score.DefaultConfig(), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		if r.Behaviour == "overall" && (r.Miners != 5 || r.Negatives != res.Hosts-5) {
			t.Errorf("%+v", r)
		}
		t.Logf("%s %s: %d/%d detected, %d FP, median TTF %.0fs", r.Rate, r.Behaviour, r.Detected, r.Miners, r.FPHosts, r.TTFMedian)
	}
	if res.Records["unsampled"] == 0 || res.Records["netflow-1:100"] >= res.Records["unsampled"] {
		t.Errorf("records %v", res.Records)
	}
}

// TestModelProberConfirmsTheUnlistedPool: the tiny scenario's proxied miner
// talks to a pool no list names, its TLS miner to a listed pool domain on the
// shared CDN address. Without the prober both can only be suspects; with the
// model prober in the loop the proxy's endpoint is confirmed, and the CDN
// address probed with the listed domain as SNI confirms that domain there,
// so both miners are flagged, while no ordinary host is (their endpoints
// are refuted).
func TestModelProberConfirmsTheUnlistedPool(t *testing.T) {
	s, err := sim.Load("../sim/testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rows := func(o Options) (proxy, tls Row) {
		res, err := Run(s, DefaultRates[:1], score.DefaultConfig(), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range res.Rows {
			switch r.Behaviour {
			case "xmrig-proxy":
				proxy, n = r, n+1
			case "xmrig-tls":
				tls, n = r, n+1
			}
		}
		if n != 2 {
			t.Fatal("no xmrig-proxy or xmrig-tls row")
		}
		t.Logf("probe=%v: proxy %+v, tls %+v", o.Probe, proxy, tls)
		return proxy, tls
	}
	without, withoutTLS := rows(Options{})
	with, withTLS := rows(Options{Probe: true})
	if without.Detected != 0 || without.Probes != 0 || withoutTLS.Detected != 0 {
		t.Errorf("without the prober an unlisted-pool or CDN miner was flagged or probed: %+v %+v", without, withoutTLS)
	}
	if with.Detected != 1 || with.Probes == 0 || with.FPHosts != 0 {
		t.Errorf("with the model prober: %+v, want the miner flagged, endpoints probed, no false positive", with)
	}
	if withTLS.Detected != 1 {
		t.Errorf("with the model prober the miner of the CDN-fronted listed domain: %+v, want flagged", withTLS)
	}
}

// TestTimeFromFirstRecord: at 1:100 a miner's first sampled record comes
// well after its episode starts, so the time to flag counted from that
// record is shorter than the one counted from the episode's start, by how
// late the record came. The first record is found here by scanning what the
// pipeline is fed, independently of score1's bookkeeping.
func TestTimeFromFirstRecord(t *testing.T) {
	s, err := sim.Load("../sim/testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := sim.Generate(s, &sim.Override{Protocol: "v9", Sampling: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := score1(s, gen, score.DefaultConfig(), Options{Probe: true})
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _, _ := tabulate("netflow-1:100", gen.Truth, out)
	byBehaviour := map[string]Row{}
	for _, r := range rows {
		byBehaviour[r.Behaviour] = r
	}
	const tick = 10.0 // seconds: the eval's evaluation step
	var rec flow.Record
	late := 0
	for _, tr := range gen.Truth {
		r, ok := byBehaviour[tr.Behaviour]
		if !tr.Mining() || !ok || r.Miners != 1 || r.Detected != 1 {
			continue
		}
		ip := netip.MustParseAddr(tr.IP)
		flagged := out[ip].flaggedAt
		var ep sim.Span
		for _, e := range tr.Episodes {
			if flagged >= e.Start && flagged <= e.End {
				ep = e
			}
		}
		first := int64(0)
		for i := range gen.Records {
			gen.Record(i, &rec)
			if (rec.Src == ip || rec.Dst == ip) && rec.End >= ep.Start && rec.End <= ep.End {
				first = rec.End
				break
			}
		}
		if first == 0 || first > flagged {
			t.Fatalf("%s: no record before its flag at %d in episode %+v", tr.Behaviour, flagged, ep)
		}
		want := r.TTFMedian - float64(first-tr.Episodes[0].Start)/1000
		t.Logf("%s: TTF %.0fs from the episode, %.0fs from the first record (want %.0fs; record %.0fs late)",
			tr.Behaviour, r.TTFMedian, r.TTFRecordMedian, want, float64(first-ep.Start)/1000)
		if d := r.TTFRecordMedian - want; d < -tick || d > tick {
			t.Errorf("%s: time from first record %.0fs, want %.0fs ± %.0fs", tr.Behaviour, r.TTFRecordMedian, want, tick)
		}
		if float64(first-tr.Episodes[0].Start)/1000 > tick {
			late++
			if r.TTFRecordMedian >= r.TTFMedian {
				t.Errorf("%s: first record late but time from it %.0fs not below TTF %.0fs", tr.Behaviour, r.TTFRecordMedian, r.TTFMedian)
			}
		}
	}
	if late == 0 {
		t.Error("no detected miner whose first sampled record came late: the test shows nothing")
	}
}
