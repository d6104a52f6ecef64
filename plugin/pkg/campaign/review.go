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
	RepeatedRelapse                  bool // IsRepeatOffender(Relapses365d) (total row: any unit)
	Energy                                // flagged hours in the week, kWh, cost and CO₂ (EnergyConfig)
	Units                            int  // units in the row (1 at LevelUnit; the total: all units)

	DistrictName string // the district's own name in the ledger ("" if unknown)
}

// StillActive is the IPs flagged in the week whose episode started before
// it (持续): flagged, neither new nor relapsed in the week. No IP is both
// (two episode starts in one week would need a gap of the quiet period, 7 d,
// inside it), so distinct IPs = new + relapsed + still active.
func (r ReviewRow) StillActive() int { return r.DistinctIPs - r.New - r.Relapsed }

// ReviewInput is everything the weekly review is computed from.
type ReviewInput struct {
	Week  Week
	Now   time.Time // data end: a week still running is judged now (Running says so)
	Hosts []HostHistory
	Units map[string]UnitMeta
	// Details give each IP's power class and machines for the energy
	// columns; an IP without details counts as one CPU PC.
	Details map[HostKey]HostDetail
	Energy  EnergyConfig // zero = DefaultEnergy()
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
	en := in.Energy
	if en == (EnergyConfig{}) {
		en = DefaultEnergy()
	}
	byUnit := map[string]*ReviewRow{}
	row := func(u string) *ReviewRow {
		r := byUnit[u]
		if r == nil {
			m := in.Units[u]
			r = &ReviewRow{Unit: u, UnitName: m.Name, Sector: m.Sector, District: m.District, DistrictName: m.DistrictName, Units: 1}
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
		if hours := FlaggedHours(runs, ws, minTime(we, at)); hours > 0 {
			d := in.Details[h.HostKey]
			r.Energy = en.EnergyOf(hours, d.Machines, PowerClassOf(d.Kind, d.Coins))
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
		u.Energy = u.Energy.Add(r.Energy)
	}
	total := ReviewRow{Unit: TotalUnit, UnitName: "合计"}
	rows := make([]ReviewRow, 0, len(byUnit)+1)
	for _, r := range byUnit {
		r.Change = r.DistinctIPs - r.PrevDistinctIPs
		r.RepeatedRelapse = IsRepeatOffender(r.Relapses365d, cfg.RelapseLimit)
		rows = append(rows, *r)
		total.Energy = total.Energy.Add(r.Energy)
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
	total.Units = len(rows)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Unit < rows[j].Unit })
	return append(rows, total)
}

// RollUp sums unit rows (without the total row) up the ledger's parent
// chain to level: one row per district or bureau, sorted by id, then the
// total row. Counts of IPs and cases add up (an IP belongs to one unit);
// repeated_relapse says whether any unit of the row is a repeat offender
// (the units themselves are listed by RepeatOffenders).
func RollUp(rows []ReviewRow, units map[string]UnitMeta, level Level) []ReviewRow {
	if level == LevelUnit || level == "" {
		return rows
	}
	byID := map[string]*ReviewRow{}
	var total *ReviewRow
	for _, r := range rows {
		if r.Unit == TotalUnit {
			t := r
			total = &t
			continue
		}
		id := Ancestor(units, r.Unit, level)
		g := byID[id]
		if g == nil {
			m := units[id]
			g = &ReviewRow{Unit: id, UnitName: m.Name, Sector: m.Sector, District: m.District, DistrictName: m.DistrictName}
			if m.Name == "" {
				g.UnitName = id
			}
			byID[id] = g
		}
		g.MiningAtEnd += r.MiningAtEnd
		g.New += r.New
		g.Relapsed += r.Relapsed
		g.Cleared += r.Cleared
		g.DistinctIPs += r.DistinctIPs
		g.PrevDistinctIPs += r.PrevDistinctIPs
		g.Change += r.Change
		g.Overdue += r.Overdue
		g.Episodes365d += r.Episodes365d
		g.Relapses365d += r.Relapses365d
		g.RepeatedRelapse = g.RepeatedRelapse || r.RepeatedRelapse
		g.Energy = g.Energy.Add(r.Energy)
		g.Units += r.Units
	}
	out := make([]ReviewRow, 0, len(byID)+1)
	for _, g := range byID {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Unit < out[j].Unit })
	if total != nil {
		out = append(out, *total)
	}
	return out
}

// RepeatOffenders are the unit rows (not the total) whose unit is a repeat
// offender (IsRepeatOffender): they lose the year's awards.
func RepeatOffenders(rows []ReviewRow) []ReviewRow {
	var out []ReviewRow
	for _, r := range rows {
		if r.Unit != TotalUnit && r.RepeatedRelapse {
			out = append(out, r)
		}
	}
	return out
}
