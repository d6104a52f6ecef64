package ingestbench

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"time"

	"github.com/minewatch/minewatch/exporter/proc"
)

// Step is one rate tried on one receiver.
type Step struct {
	Rate     float64 `json:"rate"`     // records/s asked of the sender
	SentRate float64 `json:"sent"`     // records/s the sender achieved
	Received float64 `json:"received"` // records the receiver took in
	Loss     float64 `json:"loss"`     // share of sent records lost
	CPU      float64 `json:"cpu"`      // cores the receiver used while the sender sent
	PeakRSS  int64   `json:"peak_rss_bytes"`
}

// Row is a receiver's result for one protocol in one run.
type Row struct {
	Receiver string  `json:"receiver"`
	Protocol string  `json:"protocol"`
	Run      int     `json:"run"`               // 1-based
	MaxRate  float64 `json:"max_lossfree_rate"` // highest sent rate with loss ≤ tolerance (0: none)
	At       Step    `json:"at"`                // the step of MaxRate
	Lossy    float64 `json:"lowest_lossy_rate"` // lowest asked rate that lost records (0: none up to Max)
	Limited  bool    `json:"sender_limited"`    // the sender could not go faster: MaxRate is a lower bound
	AtMax    bool    `json:"reached_max"`       // loss-free up to DriverOptions.Max: MaxRate is a lower bound
	Steps    []Step  `json:"steps"`
	Err      string  `json:"error,omitempty"`
}

// DriverOptions bound the search.
type DriverOptions struct {
	Start  float64 // first rate, records/s
	Factor float64 // the coarse ladder: each next rate is this many times the last
	Max    float64 // highest rate tried
	// Min is the lowest rate tried when even Start loses records: the
	// ladder then steps down by Factor (default Start/Factor⁴).
	Min float64
	// Precision: once the ladder has a loss-free and a lossy rate, bisect
	// (geometrically) until the lossy one is within this share above the
	// loss-free one (default 0.03). The number of bisection steps follows
	// from Factor and Precision (BisectSteps) and bounds the search.
	Precision float64
	// Budget caps the steps of one search (0: MaxSteps), so that a search
	// started elsewhere than Start keeps the bound printed up front.
	Budget    int
	Step      time.Duration // sending time per rate
	Tolerance float64       // loss counted as none (templates missed at start, rounding)
	Dir       string        // where receivers work; each step gets a subdirectory
}

func (o DriverOptions) withDefaults() DriverOptions {
	if o.Factor <= 1 {
		o.Factor = 1.25
	}
	if o.Start <= 0 {
		o.Start = 100_000
	}
	if o.Max < o.Start {
		o.Max = o.Start
	}
	if o.Min <= 0 || o.Min > o.Start {
		o.Min = o.Start / math.Pow(o.Factor, 4)
	}
	if o.Precision <= 0 {
		o.Precision = 0.03
	}
	return o
}

// BisectSteps is how many bisection steps narrow a bracket of one Factor to
// within Precision: each geometric bisection halves the log of the ratio.
func (o DriverOptions) BisectSteps() int {
	o = o.withDefaults()
	return max(0, int(math.Ceil(math.Log2(math.Log(o.Factor)/math.Log1p(o.Precision)))))
}

// MaxSteps bounds the steps one Search takes: the longer of the ladder up to
// Max (whose last rung is Max) and the ladder down to Min, then the bisection.
func (o DriverOptions) MaxSteps() int {
	o = o.withDefaults()
	up := 1 + int(math.Ceil(math.Log(o.Max/o.Start)/math.Log(o.Factor)-1e-9))
	down := 1 + int(math.Floor(math.Log(o.Start/o.Min)/math.Log(o.Factor)+1e-9))
	return max(up, down) + o.BisectSteps()
}

// Measure tries one rate on a fresh receiver.
type Measure func(rate float64) (Step, error)

// Search finds the highest loss-free rate: a coarse ladder up from Start by
// Factor until a rate loses records (or down from Start, if Start already
// does, until one does not), then geometric bisection between the last
// loss-free and the first lossy rate until they are within Precision. At
// most MaxSteps (or Budget) measurements. A rate the sender could not reach ends the
// search (the sender is the bottleneck: going on says nothing more).
func Search(measure Measure, o DriverOptions, progress func(Step)) Row {
	o = o.withDefaults()
	var row Row
	var lo, hi float64 // asked rates: highest loss-free, lowest lossy
	// try measures one rate; stop says the search must end.
	budget := o.Budget
	if budget <= 0 {
		budget = o.MaxSteps()
	}
	try := func(rate float64) (lossFree, stop bool) {
		if len(row.Steps) >= budget {
			return false, true
		}
		st, err := measure(rate)
		if err != nil {
			row.Err = err.Error()
			return false, true
		}
		row.Steps = append(row.Steps, st)
		if progress != nil {
			progress(st)
		}
		if st.Loss > o.Tolerance {
			if hi == 0 || rate < hi {
				hi = rate
			}
			return false, false
		}
		lo = max(lo, rate)
		if st.SentRate > row.MaxRate {
			row.MaxRate, row.At = st.SentRate, st
		}
		if st.SentRate < 0.95*rate {
			row.Limited = true
			return true, true
		}
		return true, false
	}
	finish := func() Row { row.Lossy = hi; return row }

	for rate := o.Start; ; rate = math.Min(rate*o.Factor, o.Max) { // the last rung is Max itself
		ok, stop := try(rate)
		if stop {
			return finish()
		}
		if !ok || rate >= o.Max {
			break
		}
	}
	if lo == 0 { // Start already lost records: step down
		for rate := o.Start / o.Factor; rate >= o.Min*(1-1e-9); rate /= o.Factor {
			ok, stop := try(rate)
			if stop {
				return finish()
			}
			if ok {
				break
			}
		}
	}
	if hi == 0 {
		row.AtMax = lo > 0
		return finish()
	}
	for i := 0; lo > 0 && hi > lo*(1+o.Precision) && i < o.BisectSteps(); i++ {
		if _, stop := try(math.Sqrt(lo * hi)); stop {
			return finish()
		}
	}
	return finish()
}

// Run searches the highest loss-free rate of one receiver on t, a fresh
// receiver each step.
func Run(ctx context.Context, rc Receiver, t *Traffic, o DriverOptions, progress func(string)) Row {
	i := 0
	measure := func(rate float64) (Step, error) {
		i++
		return stepIn(ctx, rc, t, rate, o, fmt.Sprintf("%s-%s-%d-", rc.Name(), t.Protocol, i-1))
	}
	say := func(st Step) {
		if progress != nil {
			progress(fmt.Sprintf("%s %s: %.0f records/s asked, %.0f sent, loss %.3f%%, %.2f cores, peak %d MiB",
				rc.Name(), t.Protocol, st.Rate, st.SentRate, 100*st.Loss, st.CPU, st.PeakRSS>>20))
		}
	}
	row := Search(measure, o, say)
	row.Receiver, row.Protocol = rc.Name(), t.Protocol.String()
	return row
}

// stepIn measures one rate in a fresh working directory under o.Dir (named
// from prefix), removed afterwards.
func stepIn(ctx context.Context, rc Receiver, t *Traffic, rate float64, o DriverOptions, prefix string) (Step, error) {
	if err := ctx.Err(); err != nil {
		return Step{}, err
	}
	dir, err := os.MkdirTemp(o.Dir, prefix)
	if err != nil {
		return Step{}, err
	}
	defer os.RemoveAll(dir)
	return step(ctx, rc, t, rate, o, dir)
}

// drain is how long a receiver gets after the sender stops to empty its
// socket buffer before it is read and stopped.
const drain = time.Second

func step(ctx context.Context, rc Receiver, t *Traffic, rate float64, o DriverOptions, dir string) (Step, error) {
	port, err := proc.FreeUDPPort()
	if err != nil {
		return Step{}, err
	}
	pr, err := rc.Start(ctx, t.Protocol, port, dir)
	if err != nil {
		return Step{}, err
	}
	if err := waitUDP(ctx, port); err != nil {
		pr.Stop()
		return Step{}, fmt.Errorf("%s: %w", rc.Name(), err)
	}
	// CPU is counted over the sending time only: the start-up before and the
	// idle drain after would make a receiver look cheaper or dearer per record.
	cpu0, _ := pr.groupUsage()
	sent, err := Send(ctx, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, t, rate, o.Step)
	cpu1, _ := pr.groupUsage()
	if err != nil {
		pr.Stop()
		return Step{}, err
	}
	time.Sleep(drain)
	got, err := rc.Finish(pr, sent)
	if err != nil {
		return Step{}, err
	}
	st := Step{Rate: rate, SentRate: float64(sent.Records) / sent.Elapsed.Seconds(), Received: got,
		CPU: (cpu1 - cpu0).Seconds() / sent.Elapsed.Seconds(), PeakRSS: pr.PeakRSS}
	if sent.Records > 0 {
		st.Loss = max(0, 1-got/float64(sent.Records))
	}
	return st, nil
}
