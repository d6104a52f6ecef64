package campaign

import (
	"fmt"
	"math"
	"time"
)

// Kind is the type of a table column.
type Kind int

// Column kinds.
const (
	KindString Kind = iota
	KindTime        // time.Time; the zero time means "none"
	KindFloat       // float64
	KindInt         // int
	KindBool        // bool
)

// Column is one column of a campaign table: Key is the stable English name
// (JSON keys, CSV keys, frame field names, dashboard overrides), Header what
// people see, Chinese first. Value reads the cell from a row; the typed
// constructors below tie Kind to the Go type Value returns, so a column
// cannot claim one kind and deliver another.
type Column[R any] struct {
	Key, Header string
	Kind        Kind
	Value       func(R) any
}

// StringCol, TimeCol, FloatCol, IntCol and BoolCol build columns of rows R.
func StringCol[R any](key, header string, f func(R) string) Column[R] {
	return Column[R]{key, header, KindString, func(r R) any { return f(r) }}
}

// TimeCol is a column of times (zero = none).
func TimeCol[R any](key, header string, f func(R) time.Time) Column[R] {
	return Column[R]{key, header, KindTime, func(r R) any { return f(r) }}
}

// FloatCol is a column of float64.
func FloatCol[R any](key, header string, f func(R) float64) Column[R] {
	return Column[R]{key, header, KindFloat, func(r R) any { return f(r) }}
}

// IntCol is a column of int.
func IntCol[R any](key, header string, f func(R) int) Column[R] {
	return Column[R]{key, header, KindInt, func(r R) any { return f(r) }}
}

// BoolCol is a column of bool.
func BoolCol[R any](key, header string, f func(R) bool) Column[R] {
	return Column[R]{key, header, KindBool, func(r R) any { return f(r) }}
}

// Field describes a column of a built table.
type Field struct {
	Key, Header string
	Kind        Kind
}

// Table is a campaign table in a form both the datasource (data frames) and
// the CLI (table, CSV, JSON) render, so they show the same columns. Cells
// are addressed by key (Cell, Index), never by position alone.
type Table struct {
	Fields []Field
	Rows   [][]any
	index  map[string]int
}

// Build renders rows through their columns. Keys must be unique (a test
// checks every table of the package).
func Build[R any](cols []Column[R], rows []R) Table {
	t := Table{Fields: make([]Field, len(cols)), index: make(map[string]int, len(cols))}
	for i, c := range cols {
		t.Fields[i] = Field{c.Key, c.Header, c.Kind}
		t.index[c.Key] = i
	}
	for _, r := range rows {
		row := make([]any, len(cols))
		for i, c := range cols {
			row[i] = c.Value(r)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Index is the position of the column with key, and whether there is one.
func (t Table) Index(key string) (int, bool) {
	i, ok := t.index[key]
	return i, ok
}

// Cell is row r's value of the column with key.
func (t Table) Cell(r int, key string) (any, error) {
	i, ok := t.index[key]
	if !ok {
		return nil, fmt.Errorf("table has no column %q", key)
	}
	return t.Rows[r][i], nil
}

// TrackerColumns are the tracker's columns.
var TrackerColumns = []Column[TrackerRow]{
	StringCol("ip", "IP地址 IP", func(r TrackerRow) string { return r.IP }),
	StringCol("unit", "单位 unit", func(r TrackerRow) string { return r.Unit }),
	StringCol("unit_name", "单位名称 unit name", func(r TrackerRow) string { return r.UnitName }),
	StringCol("asset", "资产 asset", func(r TrackerRow) string { return r.Asset }),
	StringCol("location", "位置 location", func(r TrackerRow) string { return r.Location }),
	StringCol("department", "部门 department", func(r TrackerRow) string { return r.Department }),
	StringCol("person", "责任人 responsible", func(r TrackerRow) string { return r.Person }),
	StringCol("device", "设备标识 device", func(r TrackerRow) string { return r.Device }),
	StringCol("state", "状态 state", func(r TrackerRow) string { return string(r.State) }),
	StringCol("state_label", "状态(中文) state label", func(r TrackerRow) string { return StateLabel(r.State) }),
	BoolCol("mining_now", "当前挖矿 mining now", func(r TrackerRow) bool { return r.MiningNow }),
	TimeCol("first_flagged", "首次发现 first flagged", func(r TrackerRow) time.Time { return r.FirstFlagged }),
	TimeCol("last_flagged", "最近发现 last flagged", func(r TrackerRow) time.Time { return r.LastFlagged }),
	TimeCol("episode_start", "本次开始 episode start", func(r TrackerRow) time.Time { return r.EpisodeStart }),
	IntCol("episodes", "次数 episodes", func(r TrackerRow) int { return r.Episodes }),
	FloatCol("max_score", "最高分 max score", func(r TrackerRow) float64 { return r.MaxScore }),
	StringCol("pools", "矿池 pools", func(r TrackerRow) string { return r.Pools }),
	StringCol("coins", "币种 coins", func(r TrackerRow) string { return r.Coins }),
	FloatCol("machines", "估计机器数 est. machines", func(r TrackerRow) float64 { return r.Machines }),
	StringCol("class", "类别 class", func(r TrackerRow) string { return r.Class }),
	TimeCol("locate_deadline", "定位时限 locate deadline", func(r TrackerRow) time.Time { return r.LocateDeadline }),
	BoolCol("locate_overdue", "定位超期 locate overdue", func(r TrackerRow) bool { return r.LocateOverdue }),
	TimeCol("report_deadline", "报告时限 report deadline", func(r TrackerRow) time.Time { return r.ReportDeadline }),
	BoolCol("report_overdue", "报告超期 report overdue", func(r TrackerRow) bool { return r.ReportOverdue }),
	StringCol("disposition", "处置 disposition", func(r TrackerRow) string { return r.Disposition }),
	StringCol("disposition_class", "定性 disposition class", func(r TrackerRow) string { return r.DispositionClass }),
	StringCol("disposition_note", "处置说明 note", func(r TrackerRow) string { return r.DispositionNote }),
	TimeCol("disposition_at", "处置时间 disposed at", func(r TrackerRow) time.Time { return r.DispositionAt }),
	StringCol("power_class", "功耗类别 power class", func(r TrackerRow) string { return string(r.PowerClass) }),
	FloatCol("mining_hours", "本次挖矿时长(小时) mining hours", func(r TrackerRow) float64 { return Round2(r.Hours) }),
	FloatCol("energy_kwh", "耗电(千瓦时) energy kWh", func(r TrackerRow) float64 { return Round2(r.KWh) }),
	FloatCol("cost_yuan", "电费(元) cost yuan", func(r TrackerRow) float64 { return Round2(r.Yuan) }),
	FloatCol("co2_kg", "二氧化碳(千克) CO2 kg", func(r TrackerRow) float64 { return Round2(r.KgCO2) }),
}

// TrackerTable renders tracker rows.
func TrackerTable(rows []TrackerRow) Table { return Build(TrackerColumns, rows) }

// ReviewColumns are the weekly review's columns.
var ReviewColumns = []Column[ReviewRow]{
	StringCol("unit", "单位 unit", func(r ReviewRow) string { return r.Unit }),
	StringCol("unit_name", "单位名称 unit name", func(r ReviewRow) string { return r.UnitName }),
	StringCol("sector", "行业 sector", func(r ReviewRow) string { return r.Sector }),
	StringCol("district", "辖区 district", func(r ReviewRow) string { return UnitLabel(r.DistrictName, r.District) }),
	IntCol("mining_at_end", "周末在挖 mining at week end", func(r ReviewRow) int { return r.MiningAtEnd }),
	IntCol("new", "新增 new", func(r ReviewRow) int { return r.New }),
	IntCol("relapsed", "复发 relapsed", func(r ReviewRow) int { return r.Relapsed }),
	IntCol("still_active", "持续 still active", func(r ReviewRow) int { return r.StillActive() }),
	IntCol("cleared", "清零 cleared", func(r ReviewRow) int { return r.Cleared }),
	IntCol("distinct_ips", "本周涉及IP distinct IPs", func(r ReviewRow) int { return r.DistinctIPs }),
	IntCol("prev_distinct_ips", "上周涉及IP previous week", func(r ReviewRow) int { return r.PrevDistinctIPs }),
	IntCol("change", "环比 change", func(r ReviewRow) int { return r.Change }),
	IntCol("overdue", "超期 overdue", func(r ReviewRow) int { return r.Overdue }),
	// The same counts by device (ReviewRow.Devices): a PC at two DHCP addresses is one.
	IntCol("mining_devices_at_end", "周末在挖设备 devices mining at week end", func(r ReviewRow) int { return r.Devices.MiningAtEnd }),
	IntCol("new_devices", "新增设备 new devices", func(r ReviewRow) int { return r.Devices.New }),
	IntCol("relapsed_devices", "复发设备 relapsed devices", func(r ReviewRow) int { return r.Devices.Relapsed }),
	IntCol("still_active_devices", "持续设备 still active devices", func(r ReviewRow) int { return r.Devices.StillActive() }),
	IntCol("cleared_devices", "清零设备 cleared devices", func(r ReviewRow) int { return r.Devices.Cleared }),
	IntCol("distinct_devices", "本周涉及设备 distinct devices", func(r ReviewRow) int { return r.Devices.Distinct }),
	IntCol("prev_distinct_devices", "上周涉及设备 previous week devices", func(r ReviewRow) int { return r.Devices.PrevDistinct }),
	IntCol("device_change", "设备环比 device change", func(r ReviewRow) int { return r.Devices.Change }),
	IntCol("overdue_devices", "超期设备 overdue devices", func(r ReviewRow) int { return r.Devices.Overdue }),
	IntCol("episodes_365d", "近365天次数 episodes, 365 d", func(r ReviewRow) int { return r.Episodes365d }),
	IntCol("relapses_365d", "近365天复发 relapses, 365 d", func(r ReviewRow) int { return r.Relapses365d }),
	BoolCol("repeated_relapse", "反复复发 repeated relapse", func(r ReviewRow) bool { return r.RepeatedRelapse }),
	FloatCol("mining_hours", "本周挖矿时长(小时) mining hours", func(r ReviewRow) float64 { return Round2(r.Hours) }),
	FloatCol("energy_kwh", "耗电(千瓦时) energy kWh", func(r ReviewRow) float64 { return Round2(r.KWh) }),
	FloatCol("cost_yuan", "电费(元) cost yuan", func(r ReviewRow) float64 { return Round2(r.Yuan) }),
	FloatCol("co2_kg", "二氧化碳(千克) CO2 kg", func(r ReviewRow) float64 { return Round2(r.KgCO2) }),
}

// UnitLinkKey and UnitLinkHeader name the column the datasource adds to the
// weekly review's frames (and only there: the CLI and the pack have no
// dashboards to link to): each unit row's link to the unit dashboard, ""
// for the total row, which the dashboards show as a 详情 column.
const (
	UnitLinkKey    = "unit_url"
	UnitLinkHeader = "详情 details"
)

// Round2 rounds to two decimals (kWh, 元 to the 分, kg), as every table shows
// energy figures, so the CLI, the datasource and the pack print the same.
func Round2(x float64) float64 { return math.Round(x*100) / 100 }

// RunningHeader replaces the header of mining_at_end while the week has not
// ended: the count is of now, not of the week's end.
const RunningHeader = "当前在挖(本周未结束) mining now (week not over)"

// RunningDeviceHeader is RunningHeader of mining_devices_at_end.
const RunningDeviceHeader = "当前在挖设备(本周未结束) devices mining now (week not over)"

// ReviewTable renders weekly review rows of a week that has ended.
func ReviewTable(rows []ReviewRow) Table { return ReviewTableOf(rows, false) }

// ReviewTableOf renders weekly review rows; running says the week has not
// ended, so mining_at_end is headed as a count of now, not of the week's end.
func ReviewTableOf(rows []ReviewRow, running bool) Table {
	t := Build(ReviewColumns, rows)
	if running {
		if i, ok := t.Index("mining_at_end"); ok {
			t.Fields[i].Header = RunningHeader
		}
		if i, ok := t.Index("mining_devices_at_end"); ok {
			t.Fields[i].Header = RunningDeviceHeader
		}
	}
	return t
}

// PoolColumns are the pools table's columns.
var PoolColumns = []Column[PoolRow]{
	StringCol("pool", "矿池 pool", func(r PoolRow) string { return r.Pool }),
	StringCol("coin", "币种 coin", func(r PoolRow) string { return r.Coin }),
	IntCol("ips", "IP数 IPs", func(r PoolRow) int { return r.IPs }),
	FloatCol("contacts", "连接次数 contacts", func(r PoolRow) float64 { return r.Contacts }),
	TimeCol("first_seen", "首次发现 first seen", func(r PoolRow) time.Time { return r.FirstSeen }),
}

// PoolTable renders pool rows.
func PoolTable(rows []PoolRow) Table { return Build(PoolColumns, rows) }

// FormatTime renders a time for text output in loc ("" for none).
func FormatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04")
}
