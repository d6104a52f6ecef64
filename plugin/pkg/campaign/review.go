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
	New                              int  // IPs with an episode started in the week that is not a relapse
	Relapsed                         int  // IPs with a relapse episode (IsRelapse) started in the week
	Cleared                          int  // IPs cleared in the week (last flag + quiet period fell in the week)
	DistinctIPs                      int  // IPs flagged at any moment of the week
	PrevDistinctIPs                  int  // the same for the previous week
	Change                           int  // DistinctIPs - PrevDistinctIPs
	Overdue                          int  // open cases with a missed deadline at the end of the week
	Episodes365d                     int  // episodes started in the relapse window (365 d) before the judgement moment
	Relapses365d                     int  // relapse episodes started in that window
	RepeatedRelapse                  bool // Relapses365d >= RelapseLimit (total row: any unit)
}

// ReviewInput is everything the weekly review is computed from.
type ReviewInput struct {
	Week  Week
	Now   time.Time // data end: a week still running is judged now (Running says so)
	Hosts []HostHistory
	Units map[string]UnitMeta
}

// JudgedAt is the moment a week's review is judged: the week's end, or now
// while the week is still running.
func JudgedAt(w Week, now time.Time, loc *time.Location) time.Time {
	at := w.End(loc)
	if !now.IsZero() && now.Before(at) {
		at = now
	}
	return at
}

// Running reports whether the week has not ended at now.
func Running(w Week, now time.Time, loc *time.Location) bool {
	return now.Before(w.End(loc))
}

// WeeklyReview builds one row per unit with anything to report in the week
// or the year, sorted by unit id, followed by the total row.
func WeeklyReview(cfg Config, in ReviewInput) []ReviewRow {
	cfg = cfg.withDefaults()
	loc := cfg.Location
	ws, we := in.Week.Start(loc), in.Week.End(loc)
	pws := in.Week.Prev(loc).Start(loc)
	at := JudgedAt(in.Week, in.Now, loc)
	ys := at.Add(-cfg.RelapseWindow)
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
			relapse := IsRelapse(eps, i, cfg.RelapseWindow)
			if startsInWeek && !relapse {
				r.New = 1
			}
			if startsInWeek && relapse {
				r.Relapsed = 1
			}
			if c := ClearedAt(ep, cfg.Quiet); !c.Before(ws) && c.Before(we) && !c.After(at) {
				r.Cleared = 1
			}
			if !ep.Start.Before(ys) && ep.Start.Before(at) {
				r.Episodes365d++
				if relapse {
					r.Relapses365d++
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
		u.Episodes365d += r.Episodes365d
		u.Relapses365d += r.Relapses365d
	}
	total := ReviewRow{Unit: TotalUnit, UnitName: "合计"}
	rows := make([]ReviewRow, 0, len(byUnit)+1)
	for _, r := range byUnit {
		r.Change = r.DistinctIPs - r.PrevDistinctIPs
		r.RepeatedRelapse = r.Relapses365d >= cfg.RelapseLimit
		rows = append(rows, *r)
		total.MiningAtEnd += r.MiningAtEnd
		total.New += r.New
		total.Relapsed += r.Relapsed
		total.Cleared += r.Cleared
		total.DistinctIPs += r.DistinctIPs
		total.PrevDistinctIPs += r.PrevDistinctIPs
		total.Overdue += r.Overdue
		total.Episodes365d += r.Episodes365d
		total.Relapses365d += r.Relapses365d
		total.RepeatedRelapse = total.RepeatedRelapse || r.RepeatedRelapse
	}
	total.Change = total.DistinctIPs - total.PrevDistinctIPs
	sort.Slice(rows, func(i, j int) bool { return rows[i].Unit < rows[j].Unit })
	return append(rows, total)
}
