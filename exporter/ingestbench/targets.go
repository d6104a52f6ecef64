package ingestbench

import (
	"fmt"
	"slices"

	"github.com/minewatch/minewatch/exporter/flow"
)

// The targets (issue 12), printed after the tables by bench-ingest:
// the figures decide them, never a timed assertion in a test.
const (
	// TargetPerCore is the NetFlow v9 rate one core of the exporter must
	// ingest (decode, ledger, intel and score).
	TargetPerCore = 4_000_000
	// TargetBytesPerHost bounds the exporter's state per tracked host, by
	// its own gauge, in every state-scale case with many hosts.
	TargetBytesPerHost = 400
	// SeriesPerSuspect bounds the per-host series (an ip label) per host
	// talking to the pool: a host's score, stage and info series and one
	// pool-contact counter per pool it reached, a handful each, never a
	// series for an ordinary host.
	SeriesPerSuspect = 10
	// manyHosts: below this a case's per-host figure is one host's session
	// table, not a per-host cost (the 1 host × 10k endpoints case).
	manyHosts = 1000
)

// Target is one target with the figure of this run.
type Target struct {
	Name   string `json:"name"`
	Figure string `json:"figure"`
	Met    bool   `json:"met"`
}

// Targets judges a run against the targets: minewatch's loss-free rate
// above every other receiver's on each protocol both measured (a peer's
// lower bound counts as not beaten, since its true rate may be higher), its
// NetFlow v9 rate per core, the state per host in each scale case with many
// hosts, and at most SeriesPerSuspect per-host series per host talking to
// the pool (series follow suspects, not hosts). Only what the run measured is judged.
func Targets(sums []Summary, scales []*Scale) []Target {
	ours := Exporter{}.Name()
	var out []Target
	for _, s := range sums {
		if s.Receiver != ours || s.Err != "" {
			continue
		}
		for _, peer := range sums {
			if peer.Protocol != s.Protocol || peer.Receiver == ours {
				continue
			}
			t := Target{Name: fmt.Sprintf("%s: minewatch above %s", s.Protocol, peer.Receiver)}
			switch {
			case peer.Err != "":
				t.Figure = "peer failed: " + peer.Err
			case peer.Median == 0:
				t.Figure, t.Met = fmt.Sprintf("%.0f vs none loss-free", s.Median), s.Median > 0
			default:
				t.Figure = fmt.Sprintf("%.0f vs %.0f (×%.2f)", s.Median, peer.Median, s.Median/peer.Median)
				t.Met = s.Median > peer.Median && !peer.LowerBound
				if peer.LowerBound {
					t.Figure += ", peer's figure a lower bound"
				}
			}
			out = append(out, t)
		}
		if s.Protocol == flow.NetFlowV9.String() {
			out = append(out, Target{
				Name:   fmt.Sprintf("%s: minewatch above %d records/s per core", s.Protocol, TargetPerCore),
				Figure: fmt.Sprintf("%.0f per core (%.0f/s on %.2f cores)", s.PerCore, s.Median, s.CPU),
				Met:    s.PerCore > TargetPerCore,
			})
		}
	}
	var perSuspect []float64
	for _, sc := range scales {
		if sc.HostsTracked >= manyHosts {
			out = append(out, Target{
				Name:   fmt.Sprintf("state of %s: at most %d B per host", sc.Name, TargetBytesPerHost),
				Figure: fmt.Sprintf("%.0f B/host by the gauge (%.0f B/host RSS)", sc.BytesPerHost, sc.RSSPerHost),
				Met:    sc.BytesPerHost <= TargetBytesPerHost,
			})
		}
		switch {
		case sc.Suspects > 0:
			perSuspect = append(perSuspect, float64(sc.HostSeries)/float64(sc.Suspects))
		case sc.HostSeries > 0:
			perSuspect = append(perSuspect, -1) // series of hosts that never talked to the pool
		}
	}
	if len(perSuspect) > 0 {
		t := Target{Name: fmt.Sprintf("per-host series: at most %d per host talking to the pool, none for the others", SeriesPerSuspect),
			Figure: fmt.Sprintf("%v per such host, by case (-1: series without such hosts)", perSuspect)}
		t.Met = slices.Min(perSuspect) >= 0 && slices.Max(perSuspect) <= SeriesPerSuspect
		out = append(out, t)
	}
	return out
}
