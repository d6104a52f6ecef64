package campaign

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// Reason is one signal behind an IP's score: its id (the signal label of
// minewatch_host_signal_points), its label, Chinese first, and the most
// points it gave in the window (negative: points it took away).
type Reason struct {
	Signal, Label string
	Points        float64
}

// Evidence is what an IP's flag rested on in a window: the highest score
// and the signals that made it (the case page and the written report).
type Evidence struct {
	Score   float64
	Reasons []Reason // largest contribution first
}

// Evidence reads the evidence of one IP of a unit in [from, to] from
// minewatch_host_score and minewatch_host_signal_points. The unit must be in
// the admin scope (an empty Evidence otherwise); ip and unit go into the
// query only quoted, after validation.
func (s *Source) Evidence(ctx context.Context, k HostKey, from, to time.Time, st *Stats) (Evidence, error) {
	if err := CheckUnits([]string{k.Unit}); err != nil {
		return Evidence{}, err
	}
	sc, err := NewScope(s.ScopeUnits, []string{k.Unit})
	if err != nil || sc.Empty() {
		return Evidence{}, err
	}
	sel := func(metric string) string {
		return fmt.Sprintf("%s{ip=%s,unit=%s}", metric, QuoteLabelValue(k.IP), QuoteLabelValue(k.Unit))
	}
	w := dur(to.Sub(from))
	var ev Evidence
	v, err := s.instant(ctx, st, fmt.Sprintf("max(max_over_time(%s[%s]))", sel(names.HostScore), w), to)
	if err != nil {
		return Evidence{}, err
	}
	if vec := asVector(v); len(vec) > 0 {
		ev.Score = Round2(float64(vec[0].Value))
	}
	v, err = s.instant(ctx, st, fmt.Sprintf("max by (signal) (max_over_time(%s[%s]))", sel(names.HostSignalPoints), w), to)
	if err != nil {
		return Evidence{}, err
	}
	labels := map[string]string{}
	for _, sig := range names.Signals() {
		labels[sig.ID] = sig.Label()
	}
	for _, smp := range asVector(v) {
		id := string(smp.Metric["signal"])
		if smp.Value == 0 || id == "" {
			continue
		}
		l := labels[id]
		if l == "" {
			l = id
		}
		ev.Reasons = append(ev.Reasons, Reason{Signal: id, Label: l, Points: Round2(float64(smp.Value))})
	}
	sort.Slice(ev.Reasons, func(i, j int) bool {
		if ev.Reasons[i].Points != ev.Reasons[j].Points {
			return ev.Reasons[i].Points > ev.Reasons[j].Points
		}
		return ev.Reasons[i].Signal < ev.Reasons[j].Signal
	})
	return ev, nil
}
