package ingestbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

// MeasureCPU: every pair at every rate, runs interleaved, pairs whose
// loss-free rate is below the rate skipped, lossy runs out of the median,
// errors kept, and the bound counts every step.
func TestMeasureCPU(t *testing.T) {
	pl := Plan{
		Receivers: []Receiver{fakeReceiver{"a", true}, fakeReceiver{"b", false}},
		Protocols: []flow.Protocol{flow.NetFlowV9, flow.SFlowV5},
		Runs:      3,
		Options:   DriverOptions{Step: 2 * time.Second, Tolerance: 0.001},
	}
	rates := []float64{300_000, 2_000_000}
	if steps, d := pl.CPUBound(rates); steps != 3*3*2 || d != time.Duration(steps)*(2*time.Second+StepOverhead) {
		t.Errorf("bound %d steps, %v", steps, d)
	}
	// Loss-free rates: a's v9 reached 2 M in one run of three (its median is
	// below), so it is sent 2 M; a's sFlow never did, so it is not.
	sums := []Summary{{Receiver: "a", Protocol: "netflow_v9", Median: 1_900_000, Max: 2_100_000},
		{Receiver: "b", Protocol: "netflow_v9", Median: 3_000_000, Max: 3_100_000}, {Receiver: "a", Protocol: "sflow_v5", Median: 800_000, Max: 900_000}}
	var order []string
	calls := map[string]int{}
	measure := func(rc Receiver, p flow.Protocol, rate float64) (Step, error) {
		key := rc.Name() + " " + p.String()
		order = append(order, key)
		calls[key]++
		n := calls[key]
		// a costs 300, 320, 310 ns a record on v9; b 250 ns, but its
		// second run at 2 M loses records; a's sFlow fails once.
		ns := map[string]float64{"a netflow_v9": []float64{300, 320, 310, 300, 330, 310}[n-1], "b netflow_v9": 250, "a sflow_v5": 900}[key]
		st := Step{Rate: rate, SentRate: rate, CPU: ns * rate / 1e9}
		if key == "b netflow_v9" && rate == 2_000_000 && n == 4 {
			st.Loss, st.CPU = 0.02, 400*rate/1e9 // a receiver falling behind spends more
		}
		if key == "a sflow_v5" && n == 2 {
			return Step{}, errors.New("no socket")
		}
		return st, nil
	}
	var lines []string
	got := measureCPU(context.Background(), pl, rates, sums, measure, func(s string) { lines = append(lines, s) })
	// Run 1 of every pair at both rates, then run 2, …
	want := strings.Repeat("a netflow_v9,b netflow_v9,a sflow_v5,a netflow_v9,b netflow_v9,", 3)
	if g := strings.Join(order, ",") + ","; g != want {
		t.Errorf("order %s, want %s", g, want)
	}
	if len(got) != 6 {
		t.Fatalf("%d results, want 6 (3 pairs × 2 rates): %+v", len(got), got)
	}
	byKey := map[string]CPUAt{}
	for _, c := range got {
		byKey[fmt.Sprintf("%s %s %.0f", c.Receiver, c.Protocol, c.Rate)] = c
	}
	check := func(key string, med, lo, hi float64, lossy int) {
		t.Helper()
		c, ok := byKey[key]
		if !ok {
			t.Fatalf("no result for %s in %v", key, byKey)
		}
		if math.Abs(c.NsPerRecord-med) > 1e-6 || math.Abs(c.Min-lo) > 1e-6 || math.Abs(c.Max-hi) > 1e-6 || c.Lossy != lossy {
			t.Errorf("%s: %.1f ns (%.1f–%.1f), %d lossy; want %.0f (%.0f–%.0f), %d", key, c.NsPerRecord, c.Min, c.Max, c.Lossy, med, lo, hi, lossy)
		}
	}
	// a's v9 runs alternate between the rates: 300 k gets calls 1, 3, 5.
	check("a netflow_v9 300000", 310, 300, 330, 0)
	check("a netflow_v9 2000000", 310, 300, 320, 0)
	check("b netflow_v9 2000000", 250, 250, 250, 1) // the lossy run left out
	check("a sflow_v5 300000", 900, 900, 900, 0)    // the failed run left out, its error dropped
	if c := byKey["a sflow_v5 2000000"]; !c.Skipped || len(c.Steps) != 0 || c.NsPerRecord != 0 {
		t.Errorf("a sflow at 2 M: %+v, want skipped (loss-free only to 800 k)", c)
	}
	if c := byKey["a netflow_v9 2000000"]; math.Abs(c.PerCore()-1e9/310) > 1e-6 {
		t.Errorf("per core %.0f", c.PerCore())
	}
	if len(lines) != 14 || !strings.Contains(lines[0], "CPU run 1/3: a netflow_v9 at 300000 records/s") {
		t.Errorf("%d progress lines, first %q", len(lines), lines[:min(1, len(lines))])
	}
}
