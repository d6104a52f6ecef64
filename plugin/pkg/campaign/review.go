package campaign

import (
	"sort"
	"time"
)

// TotalUnit is the Unit of the weekly review's total row.
const TotalUnit = "total"

// ReviewRow is one unit's line of the weekly review (周研判).
type ReviewRow struct {
	Unit, UnitName, Sector, District string
	MiningAtEnd                      int  // IPs flagged in the last bucket of the week
	New                              int  // IPs whose first episode started in the week
	Relapsed                         int  // IPs with an episode started in the week after having been cleared
	Cleared                          int  // IPs cleared in the week (last flag + quiet period fell in the week)
	DistinctIPs                      int  // IPs flagged at any moment of the week
	PrevDistinctIPs                  int  // the same for the previous week
	Change                           int  // DistinctIPs - PrevDistinctIPs
	Overdue                          int  // open cases with a missed deadline at the end of the week
	EpisodesYear                     int  // episodes started in the calendar year up to the week's end
	RelapsesYear                     int  // relapses (episodes after a clearing) started in the year
	RepeatedRelapse                  bool // RelapsesYear >= RelapseLimit (total row: any unit)
}

// ReviewInput is everything the weekly review is computed from.
type ReviewInput struct {
	Week  Week
	Now   time.Time // data end: a week still running is judged now
	Hosts []HostHistory
	Units map[string]UnitMeta
}

// WeeklyReview builds one row per unit with anything to report in the week
// or the year, sorted by unit id, followed by the total row.
func WeeklyReview(cfg Config, in ReviewInput) []ReviewRow {
	cfg = cfg.withDefaults()
	loc := cfg.Location
	ws, we := in.Week.Start(loc), in.Week.End(loc)
	pws := in.Week.Prev(loc).Start(loc)
	ys := in.Week.YearStart(loc)
	at := we
	if !in.Now.IsZero() && in.Now.Before(at) {
		at = in.Now
	}
	byUnit := map[string]*ReviewRow{}
	row := func(u string) *ReviewRow {
		r := byUnit[u]
		if r == nil {
			m := in.Units[u]
			r = &ReviewRow{Unit: u, UnitName: m.Name, Sector: m.Sector, District: m.District}
			byUnit[u] = r
		}
		return r
	}
	for _, h := range in.Hosts {
		runs := clip(h.Runs, at)
		if len(runs) == 0 {
			continue
		}
		eps := Episodes(runs, cfg.Quiet)
		disps := append([]Disposition(nil), h.Dispositions...)
		sortDispositions(disps)
		var r ReviewRow
		if FlaggedAt(runs, at) {
			r.MiningAtEnd = 1
		}
		for _, run := range runs {
			if run.Overlaps(ws, we) {
				r.DistinctIPs = 1
			}
			if run.Overlaps(pws, ws) {
				r.PrevDistinctIPs = 1
			}
		}
		for i, ep := range eps {
			startsInWeek := !ep.Start.Before(ws) && ep.Start.Before(we)
			if startsInWeek && i == 0 {
				r.New = 1
			}
			if startsInWeek && i > 0 {
				r.Relapsed = 1
			}
			if c := ClearedAt(ep, cfg.Quiet); !c.Before(ws) && c.Before(we) && !c.After(at) {
				r.Cleared = 1
			}
			if !ep.Start.Before(ys) {
				r.EpisodesYear++
				if i > 0 {
					r.RelapsesYear++
				}
			}
			// Open at some moment of the week: not cleared before it started.
			if ClearedAt(ep, cfg.Quiet).After(ws) && CaseAt(eps, i, disps, at, cfg).Overdue() {
				r.Overdue++
			}
		}
		if r == (ReviewRow{}) {
			continue
		}
		u := row(h.Unit)
		u.MiningAtEnd += r.MiningAtEnd
		u.New += r.New
		u.Relapsed += r.Relapsed
		u.Cleared += r.Cleared
		u.DistinctIPs += r.DistinctIPs
		u.PrevDistinctIPs += r.PrevDistinctIPs
		u.Overdue += r.Overdue
		u.EpisodesYear += r.EpisodesYear
		u.RelapsesYear += r.RelapsesYear
	}
	total := ReviewRow{Unit: TotalUnit, UnitName: "合计"}
	rows := make([]ReviewRow, 0, len(byUnit)+1)
	for _, r := range byUnit {
		r.Change = r.DistinctIPs - r.PrevDistinctIPs
		r.RepeatedRelapse = r.RelapsesYear >= cfg.RelapseLimit
		rows = append(rows, *r)
		total.MiningAtEnd += r.MiningAtEnd
		total.New += r.New
		total.Relapsed += r.Relapsed
		total.Cleared += r.Cleared
		total.DistinctIPs += r.DistinctIPs
		total.PrevDistinctIPs += r.PrevDistinctIPs
		total.Overdue += r.Overdue
		total.EpisodesYear += r.EpisodesYear
		total.RelapsesYear += r.RelapsesYear
		total.RepeatedRelapse = total.RepeatedRelapse || r.RepeatedRelapse
	}
	total.Change = total.DistinctIPs - total.PrevDistinctIPs
	sort.Slice(rows, func(i, j int) bool { return rows[i].Unit < rows[j].Unit })
	return append(rows, total)
}
