package ingestbench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Plan is a whole comparison: every receiver on every protocol it takes,
// Runs times, interleaved (run 1 of every receiver and protocol, then run 2,
// …) so that a noisy minute of the machine hits all receivers alike instead
// of one receiver's three runs.
type Plan struct {
	Receivers []Receiver
	Protocols []flow.Protocol
	Runs      int
	Options   DriverOptions
}

// Pairs lists the (receiver, protocol) pairs measured, in the order of one run.
func (pl Plan) Pairs() [][2]int {
	var out [][2]int
	for pi, p := range pl.Protocols {
		for ri, rc := range pl.Receivers {
			if rc.Supports(p) {
				out = append(out, [2]int{ri, pi})
			}
		}
	}
	return out
}

// StepOverhead is the estimated time a step takes beyond its sending time:
// starting the receiver, the drain, reading its count and stopping it.
const StepOverhead = 2500 * time.Millisecond

// Bound is the most steps the plan takes and the time they are estimated
// to take (each search at most DriverOptions.MaxSteps).
func (pl Plan) Bound() (steps int, d time.Duration) {
	steps = max(pl.Runs, 1) * len(pl.Pairs()) * pl.Options.MaxSteps()
	return steps, time.Duration(steps) * (pl.Options.Step + StepOverhead)
}

// Summary is one receiver on one protocol over all runs.
type Summary struct {
	Receiver string  `json:"receiver"`
	Protocol string  `json:"protocol"`
	Median   float64 `json:"median_lossfree_rate"`
	Min      float64 `json:"min_lossfree_rate"`
	Max      float64 `json:"max_lossfree_rate"`
	CPU      float64 `json:"median_cpu_cores"` // at each run's highest loss-free rate
	PerCore  float64 `json:"median_records_per_core"`
	PeakRSS  int64   `json:"peak_rss_bytes"` // highest over the runs' loss-free steps
	Runs     []Row   `json:"runs"`
	// LowerBound: in at least one run the sender could not go faster or the
	// receiver was loss-free up to the highest rate tried.
	LowerBound bool   `json:"lower_bound"`
	Err        string `json:"error,omitempty"` // every run failed: the last error
}

// Median of xs (the mean of the middle two for an even count); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// Summarize folds the runs of one receiver and protocol. Runs that failed
// count for nothing; those that found no loss-free rate count as 0.
func Summarize(rows []Row) Summary {
	var s Summary
	var rates, cpus, perCore []float64
	for _, r := range rows {
		s.Receiver, s.Protocol = r.Receiver, r.Protocol
		s.Runs = append(s.Runs, r)
		if r.Err != "" {
			s.Err = r.Err
			continue
		}
		rates = append(rates, r.MaxRate)
		if r.MaxRate > 0 {
			cpus = append(cpus, r.At.CPU)
			if r.At.CPU > 0 {
				perCore = append(perCore, r.MaxRate/r.At.CPU)
			}
		}
		s.PeakRSS = max(s.PeakRSS, r.At.PeakRSS)
		s.LowerBound = s.LowerBound || r.Limited || r.AtMax
	}
	if len(rates) == 0 {
		return s
	}
	s.Err = ""
	s.Median, s.CPU, s.PerCore = Median(rates), Median(cpus), Median(perCore)
	s.Min, s.Max = slices.Min(rates), slices.Max(rates)
	return s
}

// RunPlan measures every pair Runs times, interleaved, each run after the
// first starting its ladder one Factor below the median found so far for
// that pair (the edge is then a few steps away, not a dozen). t holds the
// traffic of each protocol. Progress lines say where it is and the time
// left at most.
func RunPlan(ctx context.Context, pl Plan, t map[flow.Protocol]*Traffic, progress func(string)) []Summary {
	return runPlan(ctx, pl, func(rc Receiver, p flow.Protocol, o DriverOptions, say func(string)) Row {
		return Run(ctx, rc, t[p], o, say)
	}, progress)
}

// searchFunc runs one search of rc on p (Run; a fake in tests), calling say
// once per step.
type searchFunc func(rc Receiver, p flow.Protocol, o DriverOptions, say func(string)) Row

func runPlan(ctx context.Context, pl Plan, search searchFunc, progress func(string)) []Summary {
	pairs := pl.Pairs()
	runs := max(pl.Runs, 1)
	rows := make([][]Row, len(pairs))
	per := pl.Options.MaxSteps()
	searchesLeft := runs * len(pairs)
	began := time.Now()
	stepsDone := 0
	for run := 1; run <= runs && ctx.Err() == nil; run++ {
		for i, pr := range pairs {
			if ctx.Err() != nil {
				break
			}
			rc, p := pl.Receivers[pr[0]], pl.Protocols[pr[1]]
			o := pl.Options
			var found []float64
			for _, r := range rows[i] {
				if r.Err == "" && r.MaxRate > 0 {
					found = append(found, r.MaxRate)
				}
			}
			if len(found) > 0 {
				d := pl.Options.withDefaults()
				o.Min, o.Budget = d.Min, per // the first run's floor and bound
				o.Start = math.Min(math.Max(Median(found)/d.Factor, d.Min), d.Max)
			}
			inSearch := 0
			say := func(s string) {
				inSearch++
				stepsDone++
				if progress == nil {
					return
				}
				el := time.Since(began)
				left := time.Duration(searchesLeft*per-inSearch) * (el / time.Duration(stepsDone))
				progress(fmt.Sprintf("[%s elapsed, ≤ %s left] run %d/%d: %s", el.Round(time.Second), left.Round(time.Second), run, runs, s))
			}
			rows[i] = append(rows[i], withRun(search(rc, p, o, say), run))
			searchesLeft--
		}
	}
	out := make([]Summary, 0, len(pairs))
	for i, pr := range pairs {
		s := Summarize(rows[i])
		s.Receiver, s.Protocol = pl.Receivers[pr[0]].Name(), pl.Protocols[pr[1]].String()
		out = append(out, s)
	}
	return out
}

func withRun(r Row, run int) Row { r.Run = run; return r }
