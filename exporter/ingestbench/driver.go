package ingestbench

import (
	"context"
	"fmt"
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
	CPU      float64 `json:"cpu"`      // cores the receiver used while receiving
	PeakRSS  int64   `json:"peak_rss_bytes"`
}

// Row is a receiver's result for one protocol.
type Row struct {
	Receiver string  `json:"receiver"`
	Protocol string  `json:"protocol"`
	MaxRate  float64 `json:"max_lossfree_rate"` // highest rate with loss ≤ tolerance (0: none)
	At       Step    `json:"at"`                // the step of MaxRate
	Limited  bool    `json:"sender_limited"`    // the sender could not go faster: MaxRate is a lower bound
	Steps    []Step  `json:"steps"`
	Err      string  `json:"error,omitempty"`
}

// DriverOptions bound the search.
type DriverOptions struct {
	Start     float64       // first rate, records/s
	Factor    float64       // each next rate is this many times the last
	Max       float64       // highest rate tried
	Step      time.Duration // sending time per rate
	Tolerance float64       // loss counted as none (templates missed at start, rounding)
	Dir       string        // where receivers work; each step gets a subdirectory
}

// Run raises the rate until the receiver loses records (or Max), a fresh
// receiver each step, and returns the highest loss-free rate.
func Run(ctx context.Context, rc Receiver, t *Traffic, o DriverOptions, progress func(string)) Row {
	row := Row{Receiver: rc.Name(), Protocol: t.Protocol.String()}
	for i, rate := 0, o.Start; rate <= o.Max && ctx.Err() == nil; i, rate = i+1, rate*o.Factor {
		dir, err := os.MkdirTemp(o.Dir, fmt.Sprintf("%s-%s-%d-", rc.Name(), t.Protocol, i))
		if err != nil {
			row.Err = err.Error()
			return row
		}
		st, err := step(ctx, rc, t, rate, o, dir)
		os.RemoveAll(dir)
		if err != nil {
			row.Err = err.Error()
			return row
		}
		row.Steps = append(row.Steps, st)
		if progress != nil {
			progress(fmt.Sprintf("%s %s: %.0f records/s asked, %.0f sent, loss %.3f%%, %.2f cores, peak %d MiB",
				rc.Name(), t.Protocol, rate, st.SentRate, 100*st.Loss, st.CPU, st.PeakRSS>>20))
		}
		if st.Loss > o.Tolerance {
			break
		}
		row.MaxRate, row.At = st.SentRate, st
		if st.SentRate < 0.95*rate {
			row.Limited = true // the sender is the bottleneck now: going on says nothing more
			break
		}
	}
	return row
}

func step(ctx context.Context, rc Receiver, t *Traffic, rate float64, o DriverOptions, dir string) (Step, error) {
	port, err := proc.FreeUDPPort()
	if err != nil {
		return Step{}, err
	}
	pr, err := rc.Start(ctx, t.Protocol, port, dir)
	if err != nil {
		return Step{}, err
	}
	sent, err := Send(ctx, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, t, rate, o.Step)
	if err != nil {
		pr.Stop()
		return Step{}, err
	}
	time.Sleep(time.Second) // let the socket buffer drain
	got, err := rc.Finish(pr, sent)
	if err != nil {
		return Step{}, err
	}
	st := Step{Rate: rate, SentRate: float64(sent.Records) / sent.Elapsed.Seconds(), Received: got,
		CPU: pr.CPU.Seconds() / (sent.Elapsed + time.Second).Seconds(), PeakRSS: pr.PeakRSS}
	if sent.Records > 0 {
		st.Loss = max(0, 1-got/float64(sent.Records))
	}
	return st, nil
}
