package sim

import (
	"net/netip"
	"testing"

	"github.com/minewatch/minewatch/exporter/flow"
)

// TestTruthAgreesWithFlows: every miner has flows to its pool during each of
// its episodes and none outside them; ordinary hosts never contact a pool;
// host counts match the scenario.
func TestTruthAgreesWithFlows(t *testing.T) {
	s, err := Load("testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Generate(s, &Override{Protocol: "ipfix", Sampling: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, u := range s.Units {
		for _, g := range u.Hosts {
			want += g.Count
		}
		for _, m := range u.Miners {
			want += m.Count
		}
	}
	if len(res.Truth) != want {
		t.Fatalf("truth has %d hosts, scenario %d", len(res.Truth), want)
	}
	pools := map[netip.Addr]bool{}
	for i := range s.Pools {
		pools[s.PoolAddr(&s.Pools[i])] = true
	}
	type ep struct {
		ip   netip.Addr
		span Span
	}
	hits := map[ep]int{}
	truth := map[netip.Addr]*Truth{}
	for i := range res.Truth {
		truth[netip.MustParseAddr(res.Truth[i].IP)] = &res.Truth[i]
	}
	miners := 0
	var rec flow.Record
	r := &rec
	for i := range res.Records {
		res.Record(i, r)
		if !pools[r.Dst] {
			continue
		}
		tr := truth[r.Src]
		if tr == nil || !tr.Mining() {
			t.Fatalf("flow to pool %s from non-miner %s", r.Dst, r.Src)
		}
		in := false
		for _, sp := range tr.Episodes {
			if r.Start >= sp.Start && r.End <= sp.End {
				hits[ep{r.Src, sp}]++
				in = true
			}
		}
		if !in {
			t.Fatalf("pool flow %+v outside %s's episodes %v", r, tr.IP, tr.Episodes)
		}
	}
	for _, tr := range res.Truth {
		if !tr.Mining() {
			continue
		}
		miners++
		for _, sp := range tr.Episodes {
			if hits[ep{netip.MustParseAddr(tr.IP), sp}] == 0 {
				t.Errorf("%s (%s): no pool flows in episode %v", tr.IP, tr.Behaviour, sp)
			}
		}
	}
	if miners != 5 {
		t.Errorf("%d miners in truth, want 5", miners)
	}
}

func TestDeterministic(t *testing.T) {
	s, _ := Load("testdata/tiny.yaml")
	a, _ := Generate(s, nil, nil)
	b, _ := Generate(s, nil, nil)
	if len(a.Records) != len(b.Records) {
		t.Fatalf("%d vs %d records", len(a.Records), len(b.Records))
	}
	for i := range a.Records {
		if a.Records[i] != b.Records[i] {
			t.Fatalf("record %d differs", i)
		}
	}
}
