package demo

import (
	"testing"

	"github.com/minewatch/minewatch/exporter/eval"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/sim"
)

// TestNeedsProbeIsWhatTheEngineMisses: the demo's split of its planted miners
// (needsProbe) is what the real engine does without the active prober, as the
// demo's exporter runs: on the shipped school week, unsampled, the eval with
// its model prober left out flags every miner needsProbe calls confirmable and
// none of those it says need the prober. Per behaviour, since the eval counts
// so; in this scenario each behaviour's miners share one pool.
func TestNeedsProbeIsWhatTheEngineMisses(t *testing.T) {
	s, err := sim.Load("../scenarios/school-week.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := sim.Generate(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{} // behaviour: miners the demo says it can confirm
	probeOnly := 0
	for i := range gen.Truth {
		tr := &gen.Truth[i]
		if !tr.Mining() {
			continue
		}
		if needsProbe(s, tr) != "" {
			if _, ok := want[tr.Behaviour]; !ok {
				want[tr.Behaviour] = 0 // scored by the eval all the same: 0 of its miners flagged
			}
			probeOnly++
			continue
		}
		want[tr.Behaviour]++
	}
	if probeOnly == 0 {
		t.Fatal("no planted miner needs the prober: the shipped school week plants a CDN and a private-proxy miner")
	}
	res, err := eval.Run(s, eval.DefaultRates[:1], score.DefaultConfig(), eval.Options{Probe: false}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range res.Rows {
		if r.Behaviour == "overall" {
			continue
		}
		seen++
		w, ok := want[r.Behaviour]
		if !ok {
			t.Errorf("eval scored behaviour %s, which the truth has no miner of", r.Behaviour)
			continue
		}
		if r.Detected != w {
			t.Errorf("%s: the engine without the prober flagged %d of %d miners, needsProbe says %d are confirmable",
				r.Behaviour, r.Detected, r.Miners, w)
		}
	}
	if seen != len(want) {
		t.Errorf("eval scored %d behaviours, the truth has %d", seen, len(want))
	}
}
