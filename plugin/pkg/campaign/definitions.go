// Package campaign turns minewatch's time series into the IP清零 campaign's
// cases and weeks: episodes, states (mining, quiet, cleared, relapsed),
// deadlines and the weekly review. The definitions are pure functions over
// flagged intervals (docs/campaign.md); source.go fetches those intervals
// from VictoriaMetrics. The Grafana datasource and the minewatch CLI both
// call this package, so they print the same numbers.
package campaign

import (
	"sort"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// Config holds the configurable parts of the definitions.
type Config struct {
	Quiet          time.Duration  // gaps shorter than this join episodes; this long without a flag clears an IP
	LocateDeadline time.Duration  // after an episode starts: device and person located
	ReportDeadline time.Duration  // after an episode starts: written report filed
	Location       *time.Location // ISO weeks and calendar years are taken in this zone
	RelapseLimit   int            // relapses of a unit in a calendar year that mark it as relapsing repeatedly
	Step           time.Duration  // resolution of flagged time near the table's range (hour buckets)
	Coarse         time.Duration  // resolution of older history, where only episodes count (day buckets)
	History        time.Duration  // look-back before the first moment a table needs, to know earlier episodes
}

// DefaultConfig returns the definitions of issue 4.
func DefaultConfig() Config {
	return Config{
		Quiet:          7 * 24 * time.Hour,
		LocateDeadline: 48 * time.Hour,
		ReportDeadline: 72 * time.Hour,
		Location:       names.Location(),
		RelapseLimit:   2,
		Step:           time.Hour,
		Coarse:         24 * time.Hour,
		History:        90 * 24 * time.Hour,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Quiet <= 0 {
		c.Quiet = d.Quiet
	}
	if c.LocateDeadline <= 0 {
		c.LocateDeadline = d.LocateDeadline
	}
	if c.ReportDeadline <= 0 {
		c.ReportDeadline = d.ReportDeadline
	}
	if c.Location == nil {
		c.Location = d.Location
	}
	if c.RelapseLimit <= 0 {
		c.RelapseLimit = d.RelapseLimit
	}
	if c.Step <= 0 {
		c.Step = d.Step
	}
	if c.Coarse < c.Step {
		c.Coarse = d.Coarse
	}
	if c.History <= 0 {
		c.History = d.History
	}
	return c
}

// Interval is flagged time [Start, End): Start is the beginning of the first
// flagged bucket, End the end of the last one (the last flagged moment).
type Interval struct {
	Start, End time.Time
}

// Overlaps reports whether the interval shares time with [from, to).
func (iv Interval) Overlaps(from, to time.Time) bool {
	return iv.Start.Before(to) && iv.End.After(from)
}

// Runs turns the evaluation times of flagged buckets (a point at t means the
// IP was flagged some time in (t-step, t]) into runs of consecutive buckets.
func Runs(flagged []time.Time, step time.Duration) []Interval {
	if len(flagged) == 0 {
		return nil
	}
	ts := append([]time.Time(nil), flagged...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var runs []Interval
	cur := Interval{Start: ts[0].Add(-step), End: ts[0]}
	for _, t := range ts[1:] {
		if !t.Add(-step).After(cur.End) { // next bucket touches (or repeats) the run
			if t.After(cur.End) {
				cur.End = t
			}
			continue
		}
		runs = append(runs, cur)
		cur = Interval{Start: t.Add(-step), End: t}
	}
	return append(runs, cur)
}

// MergeRuns merges two sets of runs, joining runs that touch or overlap.
func MergeRuns(a, b []Interval) []Interval {
	all := append(append([]Interval(nil), a...), b...)
	sort.Slice(all, func(i, j int) bool { return all[i].Start.Before(all[j].Start) })
	var out []Interval
	for _, r := range all {
		if n := len(out); n > 0 && !r.Start.After(out[n-1].End) {
			if r.End.After(out[n-1].End) {
				out[n-1].End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// Episodes joins runs separated by gaps shorter than the quiet period.
// A gap of exactly the quiet period does not join: the IP was cleared at
// that moment and relapsed at the same moment.
func Episodes(runs []Interval, quiet time.Duration) []Interval {
	var eps []Interval
	for _, r := range runs {
		if n := len(eps); n > 0 && r.Start.Sub(eps[n-1].End) < quiet {
			if r.End.After(eps[n-1].End) {
				eps[n-1].End = r.End
			}
			continue
		}
		eps = append(eps, r)
	}
	return eps
}

// State of an IP at a moment.
type State string

// The four states of the tracker. Relapsed wins over mining and quiet: an IP
// in its second or later episode stays relapsed until it is cleared again.
const (
	StateMining   State = "mining"   // first episode, flagged in the latest bucket
	StateQuiet    State = "quiet"    // first episode, not flagged now, quiet period still running
	StateCleared  State = "cleared"  // last flagged moment older than the quiet period
	StateRelapsed State = "relapsed" // flagged again after having been cleared, not cleared since
)

// StateLabel is the Chinese name of a state, shown first in tables.
func StateLabel(s State) string {
	switch s {
	case StateMining:
		return "挖矿中"
	case StateQuiet:
		return "静默观察"
	case StateCleared:
		return "已清零"
	case StateRelapsed:
		return "复发"
	}
	return string(s)
}

// ValidState reports whether s names one of the four states.
func ValidState(s string) bool {
	switch State(s) {
	case StateMining, StateQuiet, StateCleared, StateRelapsed:
		return true
	}
	return false
}

// StateAt classifies an IP at moment at from its episodes (only episodes
// started before at are considered). ok is false when it was never flagged.
func StateAt(eps []Interval, at time.Time, quiet time.Duration) (st State, miningNow, ok bool) {
	n := 0
	for n < len(eps) && eps[n].Start.Before(at) {
		n++
	}
	if n == 0 {
		return "", false, false
	}
	last := eps[n-1]
	end := last.End
	if end.After(at) {
		end = at
	}
	miningNow = !end.Before(at)
	switch {
	case at.Sub(end) >= quiet:
		return StateCleared, false, true
	case n > 1:
		return StateRelapsed, miningNow, true
	case miningNow:
		return StateMining, true, true
	default:
		return StateQuiet, false, true
	}
}

// FlaggedAt reports whether any run covers the bucket ending at t.
func FlaggedAt(runs []Interval, t time.Time) bool {
	for _, r := range runs {
		if r.Start.Before(t) && !r.End.Before(t) {
			return true
		}
	}
	return false
}

// ClearedAt is the moment an episode's IP counts as cleared.
func ClearedAt(ep Interval, quiet time.Duration) time.Time { return ep.End.Add(quiet) }
