package campaign

import (
	"context"
	"time"
)

// HostEvents is what the dashboards mark on their time axis for one IP: its
// mining episodes and the dispositions recorded for them.
type HostEvents struct {
	HostKey
	Episodes     []Interval // episodes overlapping the range, whole (their start may lie before it)
	Relapses     []bool     // per episode: whether it is a relapse
	Dispositions []Disposition
}

// Events lists, for every IP in scope flagged in [from, to), its episodes
// overlapping the range and its dispositions recorded in it. Episodes come
// from the same hour-bucketed flagged history as the tracker, fetched from
// the look-back before from, so an episode begun earlier shows its true
// start; ips, when not empty, keeps only those IPs.
func (s *Source) Events(ctx context.Context, f Filter, ips []string, from, to time.Time, st *Stats) ([]HostEvents, error) {
	cfg := s.Config.withDefaults()
	histFrom := HistoryStart(cfg, from)
	sc, _, err := s.Resolve(ctx, st, f, to, to.Sub(histFrom))
	if err != nil || sc.Empty() {
		return nil, err
	}
	hosts, err := s.histories(ctx, st, sc, histFrom, to)
	if err != nil {
		return nil, err
	}
	keep := set(ips)
	var out []HostEvents
	for _, h := range hosts {
		if len(keep) > 0 && !keep[h.IP] {
			continue
		}
		ev := HostEvents{HostKey: h.HostKey}
		eps := Episodes(h.Runs, cfg.Quiet)
		for i, ep := range eps {
			if ep.Overlaps(from, to) {
				ev.Episodes = append(ev.Episodes, ep)
				ev.Relapses = append(ev.Relapses, IsRelapse(eps, i, cfg.RelapseWindow))
			}
		}
		for _, d := range h.Dispositions {
			if !d.At.Before(from) && d.At.Before(to) {
				ev.Dispositions = append(ev.Dispositions, d)
			}
		}
		if len(ev.Episodes) > 0 || len(ev.Dispositions) > 0 {
			out = append(out, ev)
		}
	}
	return out, nil
}
