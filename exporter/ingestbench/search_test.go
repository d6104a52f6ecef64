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

// capacity is a fake receiver that takes up to c records/s and loses the
// rest; the sender reaches at most send records/s (0: any rate).
type capacity struct {
	c, send float64
	asked   []float64
}

func (f *capacity) measure(rate float64) (Step, error) {
	f.asked = append(f.asked, rate)
	sent := rate
	if f.send > 0 {
		sent = math.Min(rate, f.send)
	}
	st := Step{Rate: rate, SentRate: sent, CPU: math.Min(sent/f.c, 1)}
	if sent > f.c {
		st.Loss = 1 - f.c/sent
	}
	st.Received = sent * (1 - st.Loss)
	return st, nil
}

var ladder = DriverOptions{Start: 100_000, Factor: 1.25, Max: 4_000_000, Tolerance: 0.001}

func TestBisectStepsAndBound(t *testing.T) {
	// ln 1.25 / ln 1.03 = 7.55: three halvings bring one ladder step under 3 %.
	if n := ladder.BisectSteps(); n != 3 {
		t.Errorf("BisectSteps = %d, want 3", n)
	}
	// Up: 100k·1.25^k for k = 0…16, then 4M itself (18 steps); down: 100k/1.25^k
	// for k = 0…4; then 3.
	if n := ladder.MaxSteps(); n != 21 {
		t.Errorf("MaxSteps = %d, want 21", n)
	}
	coarse := ladder
	coarse.Factor, coarse.Precision = 2, 0.01 // ln 2/ln 1.01 = 69.7 → 7 halvings
	if n := coarse.BisectSteps(); n != 7 {
		t.Errorf("BisectSteps(2, 1 %%) = %d, want 7", n)
	}
}

// The edge is bracketed within Precision, the loss-free figure never above
// the capacity, and the bound holds.
func TestSearchBisectsToPrecision(t *testing.T) {
	for _, c := range []float64{150_000, 1_490_000, 1_860_000, 3_640_000} {
		f := &capacity{c: c}
		row := Search(f.measure, ladder, nil)
		if row.Err != "" || row.Limited || row.AtMax {
			t.Fatalf("capacity %.0f: %+v", c, row)
		}
		if row.MaxRate > c || row.Lossy <= c {
			t.Errorf("capacity %.0f: loss-free %.0f, lossy %.0f: the bracket must hold it", c, row.MaxRate, row.Lossy)
		}
		if row.Lossy > row.MaxRate*1.03 {
			t.Errorf("capacity %.0f: bracket %.0f–%.0f wider than 3 %%", c, row.MaxRate, row.Lossy)
		}
		if len(row.Steps) > ladder.MaxSteps() {
			t.Errorf("capacity %.0f: %d steps, bound %d", c, len(row.Steps), ladder.MaxSteps())
		}
		if row.At.SentRate != row.MaxRate || row.At.Loss != 0 {
			t.Errorf("capacity %.0f: At %+v does not match %.0f", c, row.At, row.MaxRate)
		}
	}
}

// The exact rates tried: up the ladder, then bisection between the last two.
func TestSearchSequence(t *testing.T) {
	f := &capacity{c: 170_000}
	row := Search(f.measure, ladder, nil)
	lo, hi := 156_250.0, 195_312.5
	m1 := math.Sqrt(lo * hi) // 174,693: lossy
	m2 := math.Sqrt(lo * m1) // 165,214: loss-free
	m3 := math.Sqrt(m2 * m1) // 169,888: loss-free
	want := []float64{100_000, 125_000, lo, hi, m1, m2, m3}
	if !near(f.asked, want) {
		t.Fatalf("asked %v, want %v", f.asked, want)
	}
	if row.MaxRate != m3 || row.Lossy != m1 {
		t.Errorf("result %.0f (lossy %.0f), want %.0f (%.0f)", row.MaxRate, row.Lossy, m3, m1)
	}
}

// A receiver slower than the first rate (goflow2 on sFlow loses 2 % at
// 100,000/s) is found by stepping down, not reported as 0.
func TestSearchStepsDownBelowStart(t *testing.T) {
	f := &capacity{c: 70_000}
	row := Search(f.measure, ladder, nil)
	if !near(f.asked[:4], []float64{100_000, 80_000, 64_000, math.Sqrt(64_000 * 80_000)}) {
		t.Fatalf("asked %v", f.asked)
	}
	if row.MaxRate > 70_000 || row.MaxRate < 70_000/1.03 || row.Lossy > row.MaxRate*1.03 {
		t.Errorf("found %.0f (lossy %.0f) for a capacity of 70,000", row.MaxRate, row.Lossy)
	}

	// Below Min (100,000/1.25⁴ = 40,960) it gives up: nothing loss-free.
	f = &capacity{c: 30_000}
	row = Search(f.measure, ladder, nil)
	if row.MaxRate != 0 || len(f.asked) != 5 || row.Lossy != f.asked[4] {
		t.Errorf("capacity under Min: %+v after %v", row, f.asked)
	}
}

func TestSearchLowerBounds(t *testing.T) {
	// Loss-free up to Max: no bisection, marked as a lower bound.
	f := &capacity{c: 1e9}
	row := Search(f.measure, ladder, nil)
	if !row.AtMax || row.Lossy != 0 || len(f.asked) != 18 || f.asked[17] != ladder.Max {
		t.Errorf("unbounded receiver: %+v after %d steps", row, len(f.asked))
	}
	// The sender cannot go faster: stop there.
	f = &capacity{c: 1e9, send: 500_000}
	row = Search(f.measure, ladder, nil)
	if !row.Limited || row.MaxRate != 500_000 {
		t.Errorf("sender-limited: %+v", row)
	}
}

func TestSearchStopsOnErrorAndBudget(t *testing.T) {
	n := 0
	row := Search(func(rate float64) (Step, error) {
		if n++; n == 3 {
			return Step{}, errors.New("receiver died")
		}
		return Step{Rate: rate, SentRate: rate}, nil
	}, ladder, nil)
	if row.Err != "receiver died" || len(row.Steps) != 2 || n != 3 {
		t.Errorf("error: %+v after %d calls", row, n)
	}
	o := ladder
	o.Budget = 4
	f := &capacity{c: 1_500_000}
	Search(f.measure, o, nil)
	if len(f.asked) != 4 {
		t.Errorf("budget 4: %d steps", len(f.asked))
	}
}

func TestMedianAndSummarize(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	rows := []Row{
		{Receiver: "r", Protocol: "p", MaxRate: 1.6e6, At: Step{CPU: 0.8, PeakRSS: 30 << 20}},
		{Receiver: "r", Protocol: "p", Err: "boom"},
		{Receiver: "r", Protocol: "p", MaxRate: 1.4e6, At: Step{CPU: 0.7, PeakRSS: 40 << 20}},
		{Receiver: "r", Protocol: "p", MaxRate: 1.5e6, At: Step{CPU: 1.0, PeakRSS: 35 << 20}, Limited: true},
	}
	s := Summarize(rows)
	if s.Median != 1.5e6 || s.Min != 1.4e6 || s.Max != 1.6e6 || s.CPU != 0.8 || s.PeakRSS != 40<<20 || !s.LowerBound || s.Err != "" || len(s.Runs) != 4 {
		t.Errorf("summary %+v", s)
	}
	if s.PerCore != 2e6 { // 1.6/0.8, 1.4/0.7, 1.5/1.0 → median 2.0 M
		t.Errorf("per core %v, want 2e6", s.PerCore)
	}
	if s := Summarize([]Row{{Err: "a"}, {Err: "b"}}); s.Err != "b" || s.Median != 0 {
		t.Errorf("all failed: %+v", s)
	}
}

type fakeReceiver struct {
	name  string
	sflow bool
}

func (f fakeReceiver) Name() string                  { return f.name }
func (f fakeReceiver) Supports(p flow.Protocol) bool { return f.sflow || p != flow.SFlowV5 }
func (fakeReceiver) Start(context.Context, flow.Protocol, int, string) (*Proc, error) {
	return nil, errors.New("fake")
}
func (fakeReceiver) Finish(*Proc, Sent) (float64, error) { return 0, errors.New("fake") }

// Runs are interleaved (all pairs of run 1, then run 2), later runs start
// one Factor below the median found so far, and progress carries a bound.
func TestRunPlanInterleavesAndWarmStarts(t *testing.T) {
	pl := Plan{
		Receivers: []Receiver{fakeReceiver{"a", true}, fakeReceiver{"b", false}},
		Protocols: []flow.Protocol{flow.NetFlowV9, flow.SFlowV5},
		Runs:      3,
		Options:   ladder,
	}
	if steps, d := pl.Bound(); steps != 3*3*21 || d != time.Duration(steps)*StepOverhead {
		t.Errorf("bound %d steps, %v", steps, d)
	}
	caps := map[string]float64{"a netflow_v9": 1_500_000, "b netflow_v9": 2_000_000, "a sflow_v5": 700_000}
	var order []string
	var starts []float64
	var lines []string
	sum := runPlan(context.Background(), pl, func(rc Receiver, p flow.Protocol, o DriverOptions, say func(string)) Row {
		key := rc.Name() + " " + p.String()
		order = append(order, key)
		starts = append(starts, o.Start)
		f := &capacity{c: caps[key] * (1 + 0.01*float64(len(order)%3))}
		r := Search(f.measure, o, func(Step) { say(key) })
		r.Receiver, r.Protocol = rc.Name(), p.String()
		return r
	}, func(s string) { lines = append(lines, s) })
	wantOrder := strings.Repeat("a netflow_v9,b netflow_v9,a sflow_v5,", 3)
	if got := strings.Join(order, ",") + ","; got != wantOrder {
		t.Errorf("order %s, want %s", got, wantOrder)
	}
	for i := 0; i < 3; i++ {
		if starts[i] != ladder.Start {
			t.Errorf("run 1 search %d started at %.0f", i, starts[i])
		}
	}
	if starts[3] > caps["a netflow_v9"]*1.03/1.25 || starts[3] < caps["a netflow_v9"]/1.03/1.25 {
		t.Errorf("run 2 of a started at %.0f, want about %.0f", starts[3], caps["a netflow_v9"]/1.25)
	}
	if len(sum) != 3 || sum[0].Receiver != "a" || len(sum[0].Runs) != 3 || sum[2].Protocol != "sflow_v5" {
		t.Fatalf("summaries %+v", sum)
	}
	for _, s := range sum {
		c := caps[s.Receiver+" "+s.Protocol]
		if s.Median < c/1.03 || s.Median > c*1.03 || s.Min > s.Median || s.Max < s.Median {
			t.Errorf("%s %s: median %.0f (%.0f–%.0f), capacity about %.0f", s.Receiver, s.Protocol, s.Median, s.Min, s.Max, c)
		}
	}
	if len(lines) == 0 || !strings.Contains(lines[0], "left] run 1/3: a netflow_v9") {
		t.Errorf("progress %q", lines[:min(len(lines), 1)])
	}
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-6*b[i] {
			return false
		}
	}
	return true
}

// goflow2's sFlow count is its flow samples, not the records inside them
// nor its counter samples (the exposition is goflow2 v2.2.6's, trimmed).
func TestGoflow2Records(t *testing.T) {
	text := `# TYPE goflow2_flow_process_sf_samples_records_total counter
goflow2_flow_process_sf_samples_records_total{agent="127.0.0.1",router="127.0.0.1",type="FlowSample",version="5"} 600
goflow2_flow_process_sf_samples_records_total{agent="127.0.0.1",router="127.0.0.1",type="CounterSample",version="5"} 40
goflow2_flow_process_sf_samples_total{agent="127.0.0.1",router="127.0.0.1",type="CounterSample",version="5"} 20
goflow2_flow_process_sf_samples_total{agent="127.0.0.1",router="127.0.0.1",type="FlowSample",version="5"} 300
goflow2_flow_process_sf_samples_total{agent="127.0.0.2",router="127.0.0.2",type="FlowSample",version="5"} 7
goflow2_flow_process_nf_flowset_records_total{router="127.0.0.1",type="DataFlowSet",version="9"} 2400
goflow2_flow_process_nf_flowset_records_total{router="127.0.0.1",type="TemplateFlowSet",version="9"} 2
`
	if n := goflow2Records(flow.SFlowV5, text); n != 307 {
		t.Errorf("sFlow: %v records, want the 307 flow samples", n)
	}
	if n := goflow2Records(flow.NetFlowV9, text); n != 2400 {
		t.Errorf("NetFlow: %v records, want the 2400 data records", n)
	}
}

func TestScaleCases(t *testing.T) {
	var got []string
	for _, c := range ScaleCases(1_000_000, true) {
		o, suspects := c.options()
		got = append(got, fmt.Sprintf("%s: %d records, %d remotes, %d to the pool", c.Name, o.Records, o.Remotes, suspects))
	}
	want := []string{
		"10k hosts: 10000 records, 100000 remotes, 10 to the pool",
		"100k hosts: 100000 records, 100000 remotes, 100 to the pool",
		"1M hosts: 1000000 records, 100000 remotes, 1000 to the pool",
		"1 host × 10k endpoints: 10000 records, 10000 remotes, 0 to the pool",
		"10k hosts × 50 sessions: 500000 records, 500000 remotes, 10 to the pool",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := ScaleCases(250_000, false); len(c) != 3 || c[2].Name != "250k hosts" {
		t.Errorf("up to 250k: %+v", c)
	}
	// The traffic of a sessions case: each host's records go to distinct
	// endpoints, but host 0 (one in a thousand) talks to the pool only.
	o, _ := ScaleCase{Hosts: 3, SessionsPerHost: 4}.options()
	recs := records(flow.NetFlowV9, o.withDefaults(flow.NetFlowV9))
	seen := map[[2]string]bool{}
	for _, r := range recs {
		host, remote := r.Src, r.Dst
		if host.As4()[0] != 10 {
			host, remote = r.Dst, r.Src
		}
		seen[[2]string{host.String(), remote.String()}] = true
	}
	if len(recs) != 12 || len(seen) != 4+4+1 || !seen[[2]string{"10.0.0.0", pool.String()}] {
		t.Errorf("3 hosts × 4 sessions: %d records, %d distinct host–endpoint pairs", len(recs), len(seen))
	}
}
