// Package campaign turns minewatch's time series into the IP清零 campaign's
// cases and weeks: episodes, states (mining, quiet, cleared, relapsed),
// deadlines and the weekly review. The definitions are pure functions over
// flagged intervals (docs/campaign.md); source.go fetches those intervals
// from VictoriaMetrics. The Grafana datasource and the minewatch CLI both
// call this package, so they print the same numbers.
package campaign

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// The campaign's definition (docs/campaign.md). These constants are the only
// place the numbers live: the datasource refuses settings that differ from
// them, the CLI has no flags for them, and the alert rules
// (alerts/rules/cases.yml) are generated from them by package alerts.
const (
	// QuietPeriod: gaps shorter than this join episodes; this long without a flag clears an IP.
	QuietPeriod = 7 * 24 * time.Hour
	// LocateDeadline: after an episode starts, device and person located (定位).
	LocateDeadline = 48 * time.Hour
	// ReportDeadline: after an episode starts, written report filed (书面报告).
	ReportDeadline = 72 * time.Hour
	// RelapseWindow: an episode is a relapse when the IP was flagged within this
	// long before it started; relapses are counted over this long (rolling, not
	// the calendar year) up to the moment of judgement.
	RelapseWindow = 365 * 24 * time.Hour
	// RelapseLimit: relapses of a unit within RelapseWindow that mark it as relapsing repeatedly (反复复发).
	RelapseLimit = 2
	// Bucket is the precision of flagged time everywhere (tracker, review,
	// alert rules): whole hours, on the hour in Beijing time.
	Bucket = time.Hour
	// Lookback is how far before the moment of judgement flagged history is
	// read: enough to know whether each episode counted in the last
	// RelapseWindow was itself a relapse.
	Lookback = 2 * RelapseWindow
	// TimeZone of days, ISO weeks and the 1 January boundary.
	TimeZone = names.TimeZone
)

// Location is the campaign's clock (Asia/Shanghai, loaded from the embedded
// zone database).
func Location() *time.Location { return names.Location() }

// Config holds the definitions as the functions of this package take them.
// Production code uses DefaultConfig(); tests may vary a value to exercise
// an edge, nothing else should.
type Config struct {
	Quiet          time.Duration
	LocateDeadline time.Duration
	ReportDeadline time.Duration
	RelapseWindow  time.Duration
	Location       *time.Location // ISO weeks are taken in this zone
	RelapseLimit   int
	Step           time.Duration // precision of flagged time (Bucket)
	Lookback       time.Duration // history read before the moment of judgement
}

// DefaultConfig returns the campaign's definition.
func DefaultConfig() Config {
	return Config{
		Quiet:          QuietPeriod,
		LocateDeadline: LocateDeadline,
		ReportDeadline: ReportDeadline,
		RelapseWindow:  RelapseWindow,
		Location:       Location(),
		RelapseLimit:   RelapseLimit,
		Step:           Bucket,
		Lookback:       Lookback,
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
	if c.RelapseWindow <= 0 {
		c.RelapseWindow = d.RelapseWindow
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
	if c.Lookback <= 0 {
		c.Lookback = d.Lookback
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
// whose latest episode is a relapse stays relapsed until it is cleared again.
const (
	StateMining   State = "mining"   // first episode, flagged in the latest bucket
	StateQuiet    State = "quiet"    // first episode, not flagged now, quiet period still running
	StateCleared  State = "cleared"  // last flagged moment older than the quiet period
	StateRelapsed State = "relapsed" // latest episode is a relapse (IsRelapse), not cleared since
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

// IsRelapse reports whether episode eps[i] is a relapse: the IP was cleared
// before it (true of every episode but the first) and flagged less than
// window before it started.
func IsRelapse(eps []Interval, i int, window time.Duration) bool {
	return i > 0 && eps[i].Start.Sub(eps[i-1].End) < window
}

// StateAt classifies an IP at moment at from its episodes (only episodes
// started before at are considered). ok is false when it was never flagged.
func StateAt(eps []Interval, at time.Time, cfg Config) (st State, miningNow, ok bool) {
	cfg = cfg.withDefaults()
	quiet := cfg.Quiet
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
	case IsRelapse(eps, n-1, cfg.RelapseWindow):
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

// CutOffRule names the rule that makes a terminal one that keeps mining
// (连续出现挖矿行为的终端): it is to be cut off from the Internet (停止互联网接入)
// until its case is closed. "" means none applies.
type CutOffRule string

// The rules, judged on an IP's latest episode (KeepsMining).
const (
	// CutOffPersists: still flagged after the report deadline of its
	// episode (72 h: the unit was told and had that long to stop it).
	CutOffPersists CutOffRule = "persists"
	// CutOffRelapse: the episode is a relapse (IsRelapse): it mined again
	// after it was cleared.
	CutOffRelapse CutOffRule = "relapse"
)

// CutOffLabel is the rule as bureau staff read it, Chinese first.
func CutOffLabel(r CutOffRule) string {
	switch r {
	case CutOffPersists:
		return "报告期限后仍在挖矿 still mining after the report deadline"
	case CutOffRelapse:
		return "清零后复发 mining again after it was cleared"
	}
	return string(r)
}

// KeepsMining judges episode eps[i]: whether it makes its terminal one that
// keeps mining, and by which rule (a relapse first: it is the graver).
// Both rules hold for the rest of the episode once they hold, so an entry
// they put on the cut-off list stays until the case is closed.
func KeepsMining(eps []Interval, i int, cfg Config) CutOffRule {
	cfg = cfg.withDefaults()
	switch {
	case IsRelapse(eps, i, cfg.RelapseWindow):
		return CutOffRelapse
	case eps[i].End.After(eps[i].Start.Add(cfg.ReportDeadline)):
		return CutOffPersists
	}
	return ""
}

// IsRepeatOffender is the one rule for a repeat-offender unit (反复复发单位),
// the units that lose the year's awards (评先评优, shared/DESIGN.md §1): its
// IPs relapsed at least RelapseLimit times in the rolling relapse window
// (docs/campaign.md). The review's repeated_relapse column, the meeting
// pack's list and the alert MinewatchUnitRepeatedRelapses all mean this.
func IsRepeatOffender(relapses365d, limit int) bool {
	if limit <= 0 {
		limit = RelapseLimit
	}
	return relapses365d >= limit
}

// Energy, cost and carbon of mining (能耗、电费、碳排放), docs/campaign.md
// "Energy, cost and carbon". kWh of a case = hours flagged × machines behind
// the address × the power of its class / 1000; cost = kWh × (tariff +
// surcharge); CO₂ = kWh × the grid emission factor. The defaults below are
// the documented ones; a deployment sets its own (EnergyConfig).
const (
	// GPURigWatts: one GPU mining machine at the wall: a mid-range card at
	// its rated board power (NVIDIA GeForce RTX 3060: 170 W graphics card
	// power, NVIDIA's specification) plus the host PC (CPUPCWatts), rounded:
	// 300 W, the per-machine figure the wall screen already used.
	GPURigWatts = 300.0
	// CPUPCWatts: a desktop PC with a mainstream CPU held at full load on all
	// cores, as RandomX (XMRig) keeps it (Intel Core i5-12400: 65 W base,
	// 117 W maximum turbo power, Intel's specification), rounded: 120 W.
	CPUPCWatts = 120.0
	// TariffYuanPerKWh: the electricity tariff before the surcharge; a round
	// general industrial and commercial figure. Set the local tariff.
	TariffYuanPerKWh = 0.6
	// SurchargeYuanPerKWh: the surcharge the seeds put on mining power
	// (加价 0.5 元/千瓦时).
	SurchargeYuanPerKWh = 0.5
	// GridKgCO2PerKWh: China's national average grid CO₂ emission factor for
	// 2023, 0.5306 kgCO₂/kWh, published by the Ministry of Ecology and
	// Environment and the National Bureau of Statistics (生态环境部、国家统计局
	// 《关于发布2023年电力二氧化碳排放因子的公告》, January 2026; the
	// 2022 factor was 0.5366).
	GridKgCO2PerKWh = 0.5306
)

// PowerClass is what a mining machine draws power as: a GPU rig or a CPU PC.
type PowerClass string

// The two power classes.
const (
	PowerGPU PowerClass = "gpu" // GPU rig (显卡矿机)
	PowerCPU PowerClass = "cpu" // CPU PC (CPU挖矿电脑)
)

// gpuCoins are coins mined on GPUs (their proof-of-work is memory-hard on
// graphics cards); everything else (XMR's RandomX above all, the trojans'
// coin) is taken as CPU mining.
var gpuCoins = map[string]bool{"ETC": true, "ETH": true, "RVN": true, "ERG": true, "KAS": true, "CFX": true, "FLUX": true, "BEAM": true, "FIRO": true}

// PowerClassOf classifies a mining IP: a GPU rig when the asset ledger calls
// the device a GPU machine (kind contains "gpu") or it mines a GPU coin,
// else a CPU PC.
func PowerClassOf(kind string, coins []string) PowerClass {
	if strings.Contains(strings.ToLower(kind), "gpu") {
		return PowerGPU
	}
	for _, c := range coins {
		if gpuCoins[strings.ToUpper(c)] {
			return PowerGPU
		}
	}
	return PowerCPU
}

// EnergyConfig holds the configurable figures of the energy definition.
type EnergyConfig struct {
	GPUWatts     float64 `yaml:"gpu_watts"`       // per GPU rig
	CPUWatts     float64 `yaml:"cpu_watts"`       // per CPU PC
	Tariff       float64 `yaml:"tariff"`          // 元/kWh before the surcharge
	Surcharge    float64 `yaml:"surcharge"`       // 元/kWh added for mining
	GridKgPerKWh float64 `yaml:"grid_kg_per_kwh"` // kgCO₂ per kWh
}

// DefaultEnergy is the documented default of the energy definition.
func DefaultEnergy() EnergyConfig {
	return EnergyConfig{GPUWatts: GPURigWatts, CPUWatts: CPUPCWatts, Tariff: TariffYuanPerKWh, Surcharge: SurchargeYuanPerKWh, GridKgPerKWh: GridKgCO2PerKWh}
}

// Validate refuses negative figures and a zero power (which would hide mining).
func (e EnergyConfig) Validate() error {
	switch {
	case e.GPUWatts <= 0 || e.CPUWatts <= 0:
		return fmt.Errorf("energy: gpu_watts and cpu_watts must be > 0 (got %g, %g)", e.GPUWatts, e.CPUWatts)
	case e.Tariff < 0 || e.Surcharge < 0 || e.GridKgPerKWh < 0:
		return fmt.Errorf("energy: tariff, surcharge and grid factor must be ≥ 0 (got %g, %g, %g)", e.Tariff, e.Surcharge, e.GridKgPerKWh)
	}
	return nil
}

// Watts is the power of one machine of a class.
func (e EnergyConfig) Watts(c PowerClass) float64 {
	if c == PowerGPU {
		return e.GPUWatts
	}
	return e.CPUWatts
}

// Energy is the energy, cost and carbon of mining.
type Energy struct {
	Hours float64 // flagged hours (one IP), or their sum
	KWh   float64
	Yuan  float64 // at tariff + surcharge
	KgCO2 float64
}

// Add sums two energies.
func (a Energy) Add(b Energy) Energy {
	return Energy{Hours: a.Hours + b.Hours, KWh: a.KWh + b.KWh, Yuan: a.Yuan + b.Yuan, KgCO2: a.KgCO2 + b.KgCO2}
}

// EnergyOf is the energy of hours of mining by machines of a class (fewer
// than one machine counts as one: a flagged address has at least one miner).
func (e EnergyConfig) EnergyOf(hours, machines float64, c PowerClass) Energy {
	machines = math.Max(1, machines)
	kwh := hours * machines * e.Watts(c) / 1000
	return Energy{Hours: hours, KWh: kwh, Yuan: kwh * (e.Tariff + e.Surcharge), KgCO2: kwh * e.GridKgPerKWh}
}

// FlaggedHours is the flagged time of runs inside [from, to), in hours.
func FlaggedHours(runs []Interval, from, to time.Time) float64 {
	var d time.Duration
	for _, r := range runs {
		s, e := r.Start, r.End
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if e.After(s) {
			d += e.Sub(s)
		}
	}
	return d.Hours()
}

// Level is how far up the ledger's parent chain a table is rolled up.
type Level string

// The roll-up levels (docs/campaign.md "Roll-up").
const (
	LevelUnit     Level = "unit"     // one row per unit
	LevelDistrict Level = "district" // per the unit's parent (辖区)
	LevelBureau   Level = "bureau"   // per the top of the unit's parent chain (局)
)

// ParseLevel accepts "", unit, district or bureau ("" = unit).
func ParseLevel(s string) (Level, error) {
	switch Level(s) {
	case "", LevelUnit:
		return LevelUnit, nil
	case LevelDistrict, LevelBureau:
		return Level(s), nil
	}
	return "", fmt.Errorf("%w: bad level %q: want unit, district or bureau", ErrBadInput, s)
}

// Ancestor is the unit a row of unit id rolls up to at level, following the
// ledger's parent chain in units (a parent missing from the ledger ends the
// chain and is its own top).
func Ancestor(units map[string]UnitMeta, id string, level Level) string {
	switch level {
	case LevelDistrict:
		if p := units[id].District; p != "" {
			return p
		}
		return id
	case LevelBureau:
		seen := map[string]bool{id: true}
		for {
			p := units[id].District
			if p == "" || seen[p] {
				return id
			}
			seen[p] = true
			id = p
		}
	}
	return id
}

// Within reports whether unit id is root or lies below it in the parent chain.
func Within(units map[string]UnitMeta, id, root string) bool {
	seen := map[string]bool{}
	for id != "" && !seen[id] {
		if id == root {
			return true
		}
		seen[id] = true
		id = units[id].District
	}
	return false
}
