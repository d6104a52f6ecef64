package campaign

import (
	"net/netip"
	"sort"
	"strings"
	"time"
)

// UnitMeta is a unit of the ledger (minewatch_unit_info). District is the
// unit's parent (a unit of the ledger too), DistrictName the parent's name.
type UnitMeta struct {
	ID, Name, Sector, District string
	DistrictName               string
}

// UnitLabel is how a unit (or a district, itself a unit) is named where
// staff read it: "name id", as the unit variables show it; the id alone when
// the ledger gives no name (a parent outside the datasource's scope).
func UnitLabel(name, id string) string {
	if name == "" || id == "" {
		return id
	}
	return name + " " + id
}

// HostDetail is what the tracker shows of an IP besides its flagged time.
type HostDetail struct {
	Class      string // detector's class of the latest minewatch_host_mining series
	MaxScore   float64
	Machines   float64
	Asset      string
	Kind       string
	Location   string
	Department string
	Owner      string
	Research   bool
	Pools      []string // pool endpoints contacted in the range
	Coins      []string
}

// TrackerRow is one row of the IP清零 tracker.
type TrackerRow struct {
	IP, Unit, UnitName           string
	Asset, Location, Department  string
	Person                       string
	Device                       string // DeviceKey: the device the IP belongs to (ip:… when not known)
	State                        State
	MiningNow                    bool
	FirstFlagged, LastFlagged    time.Time
	EpisodeStart                 time.Time // start of the latest episode (the open case)
	Episodes                     int       // episodes started in the look-back (Lookback before the judgement moment)
	MaxScore                     float64
	Pools, Coins                 string
	Machines                     float64
	Class                        string
	LocateDeadline               time.Time
	ReportDeadline               time.Time
	LocateOverdue, ReportOverdue bool
	Disposition                  string // highest stage recorded for the latest episode; "" for none
	DispositionClass             string
	DispositionNote              string
	DispositionAt                time.Time
	CutOff                       CutOffRule // KeepsMining of the latest episode ("" if none)
	PowerClass                   PowerClass // GPU rig or CPU PC (PowerClassOf)
	Energy                                  // of the latest episode up to To (the case)
}

// TrackerInput is everything the tracker is computed from.
type TrackerInput struct {
	From, To    time.Time // the range; state and overdue are judged at To
	Hosts       []HostHistory
	Details     map[HostKey]HostDetail
	Units       map[string]UnitMeta
	States      []string // keep only these states (empty = all)
	HidePersons bool
	Energy      EnergyConfig       // zero = DefaultEnergy()
	Devices     map[HostKey]string // device key of IPs whose device is known (DeviceStore)
}

// Tracker builds one row per IP flagged in [From, To).
func Tracker(cfg Config, in TrackerInput) []TrackerRow {
	cfg = cfg.withDefaults()
	en := in.Energy
	if en == (EnergyConfig{}) {
		en = DefaultEnergy()
	}
	keep := map[State]bool{}
	for _, s := range in.States {
		keep[State(s)] = true
	}
	var rows []TrackerRow
	for _, h := range in.Hosts {
		runs := clip(h.Runs, in.To)
		inRange := false
		for _, r := range runs {
			if r.Overlaps(in.From, in.To.Add(time.Nanosecond)) {
				inRange = true
				break
			}
		}
		if !inRange {
			continue
		}
		eps := Episodes(runs, cfg.Quiet)
		st, now, _ := StateAt(eps, in.To, cfg)
		if len(keep) > 0 && !keep[st] {
			continue
		}
		disps := append([]Disposition(nil), h.Dispositions...)
		sortDispositions(disps)
		c := CaseAt(eps, len(eps)-1, disps, in.To, cfg)
		d := in.Details[h.HostKey]
		row := TrackerRow{
			IP: h.IP, Unit: h.Unit, UnitName: in.Units[h.Unit].Name,
			Asset: d.Asset, Location: d.Location, Department: d.Department, Person: d.Owner,
			Device: deviceOf(in.Devices, h.HostKey), State: st, MiningNow: now,
			FirstFlagged: eps[0].Start, LastFlagged: eps[len(eps)-1].End,
			EpisodeStart: c.Episode.Start, Episodes: len(eps),
			MaxScore: d.MaxScore, Machines: d.Machines, Class: d.Class,
			Pools: strings.Join(d.Pools, ", "), Coins: strings.Join(d.Coins, ", "),
			LocateDeadline: c.LocateDeadline, ReportDeadline: c.ReportDeadline,
			LocateOverdue: c.LocateOverdue, ReportOverdue: c.ReportOverdue,
			CutOff: KeepsMining(eps, len(eps)-1, cfg),
		}
		row.PowerClass = PowerClassOf(d.Kind, d.Coins)
		last := eps[len(eps)-1]
		row.Energy = en.EnergyOf(FlaggedHours(runs, last.Start, last.End), d.Machines, row.PowerClass)
		if in.HidePersons {
			row.Person, row.Device = "", hideAccount(row.Device)
		}
		if c.Latest != nil {
			row.Disposition, row.DispositionClass = c.Latest.Stage, c.Latest.Class
			row.DispositionNote, row.DispositionAt = c.Latest.Note, c.Latest.At
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Unit != rows[j].Unit {
			return rows[i].Unit < rows[j].Unit
		}
		return lessIP(rows[i].IP, rows[j].IP)
	})
	return rows
}

// clip drops flagged time after to (a table judged at to must not see later data).
func clip(runs []Interval, to time.Time) []Interval {
	out := make([]Interval, 0, len(runs))
	for _, r := range runs {
		if !r.Start.Before(to) {
			break
		}
		if r.End.After(to) {
			r.End = to
		}
		out = append(out, r)
	}
	return out
}

func lessIP(a, b string) bool {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	if ea == nil && eb == nil {
		return pa.Less(pb)
	}
	return a < b
}
