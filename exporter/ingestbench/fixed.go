package ingestbench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

// CPUAt is one receiver on one protocol at one fixed rate, over the runs:
// the CPU it spends per record received. On a shared 2-core machine the
// loss-free rate moves by a fifth from run to run (the sender, the kernel's
// loopback delivery and the receiver compete for the cores, so the edge
// depends on who gets scheduled), while the CPU a receiver spends at a rate
// it keeps up with moves by a few per cent: this is the figure to compare
// receivers' efficiency by, the loss-free rate the one to compare capacity.
type CPUAt struct {
	Receiver string  `json:"receiver"`
	Protocol string  `json:"protocol"`
	Rate     float64 `json:"rate"` // records/s asked
	// NsPerRecord is the median over the loss-free runs of the receiver's
	// CPU time (user + system, its process group, while the sender sent)
	// per record sent; Min and Max the spread.
	NsPerRecord float64 `json:"median_cpu_ns_per_record"`
	Min         float64 `json:"min_cpu_ns_per_record"`
	Max         float64 `json:"max_cpu_ns_per_record"`
	Lossy       int     `json:"lossy_runs"` // runs that lost records at this rate (left out of the median)
	// Skipped: the receiver's loss-free median is below Rate, so it was not
	// measured there.
	Skipped bool   `json:"skipped,omitempty"`
	Steps   []Step `json:"steps,omitempty"`
	Err     string `json:"error,omitempty"`
}

// PerCore is the records a second one core takes at this cost.
func (c CPUAt) PerCore() float64 {
	if c.NsPerRecord <= 0 {
		return 0
	}
	return 1e9 / c.NsPerRecord
}

// nsPerRecord is a step's CPU time per record sent.
func (st Step) nsPerRecord() float64 {
	if st.SentRate <= 0 {
		return 0
	}
	return st.CPU / st.SentRate * 1e9
}

// CPUBound is how many steps MeasureCPU takes at most and the time they
// are estimated to take.
func (pl Plan) CPUBound(rates []float64) (steps int, d time.Duration) {
	steps = max(pl.Runs, 1) * len(pl.Pairs()) * len(rates)
	return steps, time.Duration(steps) * (pl.Options.Step + StepOverhead)
}

// MeasureCPU sends every pair of the plan each of rates, Runs times,
// interleaved as RunPlan does, and reports the CPU per record. A pair that
// was loss-free below a rate in every run (sums, from RunPlan) is not
// measured at that rate: it would lose records there, and its CPU would be
// that of a receiver falling behind. One that reached it in some run is
// (runs that lose records count as lossy, not in the median).
func MeasureCPU(ctx context.Context, pl Plan, rates []float64, sums []Summary, t map[flow.Protocol]*Traffic, progress func(string)) []CPUAt {
	dirs := 0
	return measureCPU(ctx, pl, rates, sums, func(rc Receiver, p flow.Protocol, rate float64) (Step, error) {
		dirs++
		return stepIn(ctx, rc, t[p], rate, pl.Options, fmt.Sprintf("%s-%s-cpu%d-", rc.Name(), p, dirs))
	}, progress)
}

// fixedFunc measures one receiver on one protocol at one rate (step; a fake
// in tests).
type fixedFunc func(rc Receiver, p flow.Protocol, rate float64) (Step, error)

func measureCPU(ctx context.Context, pl Plan, rates []float64, sums []Summary, measure fixedFunc, progress func(string)) []CPUAt {
	pairs := pl.Pairs()
	var out []CPUAt
	idx := map[[3]int]int{} // pair, rate → index in out
	for ri, rate := range rates {
		for pi, pr := range pairs {
			rc, p := pl.Receivers[pr[0]], pl.Protocols[pr[1]]
			c := CPUAt{Receiver: rc.Name(), Protocol: p.String(), Rate: rate}
			for _, s := range sums {
				if s.Receiver == c.Receiver && s.Protocol == c.Protocol && s.Max < rate {
					c.Skipped = true
				}
			}
			idx[[3]int{pi, ri}] = len(out)
			out = append(out, c)
		}
	}
	runs := max(pl.Runs, 1)
	for run := 1; run <= runs && ctx.Err() == nil; run++ {
		for ri, rate := range rates {
			for pi, pr := range pairs {
				c := &out[idx[[3]int{pi, ri}]]
				if c.Skipped || ctx.Err() != nil {
					continue
				}
				st, err := measure(pl.Receivers[pr[0]], pl.Protocols[pr[1]], rate)
				if err != nil {
					c.Err = err.Error()
					continue
				}
				c.Steps = append(c.Steps, st)
				if progress != nil {
					progress(fmt.Sprintf("CPU run %d/%d: %s %s at %.0f records/s: %.0f sent, loss %.3f%%, %.2f cores, %.0f ns/record",
						run, runs, c.Receiver, c.Protocol, rate, st.SentRate, 100*st.Loss, st.CPU, st.nsPerRecord()))
				}
			}
		}
	}
	for i := range out {
		c := &out[i]
		var ns []float64
		for _, st := range c.Steps {
			// A step the sender fell short in still measures CPU per record
			// at the rate it reached; one that lost records does not.
			if st.Loss > pl.Options.Tolerance {
				c.Lossy++
			} else if v := st.nsPerRecord(); v > 0 {
				ns = append(ns, v)
			}
		}
		if len(ns) > 0 {
			c.NsPerRecord, c.Min, c.Max = Median(ns), slices.Min(ns), slices.Max(ns)
			c.Err = ""
		}
	}
	return out
}
