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

	// Devices are the same counts by device (DeviceKey): the IPs of one
	// device are one history, so a PC that DHCP moved to another address
	// counts once, neither cleared at the old address nor new at the new one.
	Devices DeviceCounts
}

// DeviceCounts are the weekly review's counts by device, each defined as
// the IP count of the same name over the device's history (the union of
// the flagged time of its IPs, and their dispositions). An IP whose device
// is not known is a device of its own, so without known devices they equal
// the IP counts.
type DeviceCounts struct {
	MiningAtEnd, New, Relapsed, Cleared int
	Distinct, PrevDistinct, Change      int
	Overdue                             int // open cases of the device's episodes with a missed deadline
}

// StillActive is the devices flagged in the week whose episode started
// before it (持续), as ReviewRow.StillActive.
func (d DeviceCounts) StillActive() int { return d.Distinct - d.New - d.Relapsed }

// IPCounts are the row's IP counts as DeviceCounts: what the device counts
// are when no IP's device is known (each IP a device of its own).
func (r ReviewRow) IPCounts() DeviceCounts {
	return DeviceCounts{MiningAtEnd: r.MiningAtEnd, New: r.New, Relapsed: r.Relapsed, Cleared: r.Cleared,
		Distinct: r.DistinctIPs, PrevDistinct: r.PrevDistinctIPs, Change: r.Change, Overdue: r.Overdue}
}

func (d DeviceCounts) add(o DeviceCounts) DeviceCounts {
	d.MiningAtEnd += o.MiningAtEnd
	d.New += o.New
	d.Relapsed += o.Relapsed
	d.Cleared += o.Cleared
	d.Distinct += o.Distinct
	d.PrevDistinct += o.PrevDistinct
	d.Change += o.Change
	d.Overdue += o.Overdue
	return d
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
	// Devices give the device key of IPs whose device is known
	// (DeviceStore); the others are counted as devices of their own.
	Devices map[HostKey]string
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
		r := reviewCounts(cfg, runs, h.Dispositions, ws, we, pws, ys, at)
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
	// The same counts by device: one history per device of a unit. With no
	// device known every IP is a device of its own and the counts are the
	// IP counts already made.
	if len(in.Devices) == 0 {
		for _, u := range byUnit {
			u.Devices = u.IPCounts()
		}
	} else {
		for _, h := range deviceHistories(in.Hosts, in.Devices) {
			runs := clip(h.Runs, at)
			if len(runs) == 0 {
				continue
			}
			d := reviewCounts(cfg, runs, h.Dispositions, ws, we, pws, ys, at).IPCounts()
			if d == (DeviceCounts{}) {
				continue
			}
			u := row(h.Unit)
			u.Devices = u.Devices.add(d)
		}
	}
	total := ReviewRow{Unit: TotalUnit, UnitName: "合计"}
	rows := make([]ReviewRow, 0, len(byUnit)+1)
	for _, r := range byUnit {
		r.Change = r.DistinctIPs - r.PrevDistinctIPs
		r.Devices.Change = r.Devices.Distinct - r.Devices.PrevDistinct
		r.RepeatedRelapse = IsRepeatOffender(r.Relapses365d, cfg.RelapseLimit)
		rows = append(rows, *r)
		total.Devices = total.Devices.add(r.Devices)
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
	total.Devices.Change = total.Devices.Distinct - total.Devices.PrevDistinct
	total.Units = len(rows)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Unit < rows[j].Unit })
	return append(rows, total)
}

// reviewCounts is one history's counts in the review of the week [ws, we)
// judged at at (pws: the previous week's start, ys: the relapse window's):
// each count 0 or 1 but Overdue, Episodes365d and Relapses365d. It is the one
// rule for an IP and for a device (the union of its IPs' histories).
func reviewCounts(cfg Config, runs []Interval, dispositions []Disposition, ws, we, pws, ys, at time.Time) ReviewRow {
	eps := Episodes(runs, cfg.Quiet)
	disps := append([]Disposition(nil), dispositions...)
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
	return r
}

// deviceHistories joins the histories of the IPs of one device (deviceOf)
// within a unit: their flagged time merged, their dispositions together.
// HostKey.IP of the result is the device key. Sorted by unit and key.
func deviceHistories(hosts []HostHistory, devices map[HostKey]string) []HostHistory {
	byKey := map[HostKey]*HostHistory{}
	var keys []HostKey
	for _, h := range hosts {
		k := HostKey{IP: deviceOf(devices, h.HostKey), Unit: h.Unit}
		d := byKey[k]
		if d == nil {
			d = &HostHistory{HostKey: k}
			byKey[k] = d
			keys = append(keys, k)
		}
		d.Runs = MergeRuns(d.Runs, h.Runs)
		d.Dispositions = append(d.Dispositions, h.Dispositions...)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Unit != keys[j].Unit {
			return keys[i].Unit < keys[j].Unit
		}
		return keys[i].IP < keys[j].IP
	})
	out := make([]HostHistory, len(keys))
	for i, k := range keys {
		out[i] = *byKey[k]
	}
	return out
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
		g.Devices = g.Devices.add(r.Devices)
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
