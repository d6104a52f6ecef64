package campaign

import (
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
// (JSON keys, frame field names), Header what people see, Chinese first.
type Column struct {
	Key, Header string
	Kind        Kind
}

// Table is a campaign table in a form both the datasource (data frames) and
// the CLI (table, CSV, JSON) render, so they show the same columns.
type Table struct {
	Columns []Column
	Rows    [][]any
}

// TrackerColumns are the tracker's columns.
var TrackerColumns = []Column{
	{"ip", "IP地址 IP", KindString},
	{"unit", "单位 unit", KindString},
	{"unit_name", "单位名称 unit name", KindString},
	{"asset", "资产 asset", KindString},
	{"location", "位置 location", KindString},
	{"department", "部门 department", KindString},
	{"person", "责任人 responsible", KindString},
	{"state", "状态 state", KindString},
	{"state_label", "状态(中文) state label", KindString},
	{"mining_now", "当前挖矿 mining now", KindBool},
	{"first_flagged", "首次发现 first flagged", KindTime},
	{"last_flagged", "最近发现 last flagged", KindTime},
	{"episode_start", "本次开始 episode start", KindTime},
	{"episodes", "次数 episodes", KindInt},
	{"max_score", "最高分 max score", KindFloat},
	{"pools", "矿池 pools", KindString},
	{"coins", "币种 coins", KindString},
	{"machines", "估计机器数 est. machines", KindFloat},
	{"class", "类别 class", KindString},
	{"locate_deadline", "定位时限 locate deadline", KindTime},
	{"locate_overdue", "定位超期 locate overdue", KindBool},
	{"report_deadline", "报告时限 report deadline", KindTime},
	{"report_overdue", "报告超期 report overdue", KindBool},
	{"disposition", "处置 disposition", KindString},
	{"disposition_class", "定性 disposition class", KindString},
	{"disposition_note", "处置说明 note", KindString},
	{"disposition_at", "处置时间 disposed at", KindTime},
}

// TrackerTable renders tracker rows.
func TrackerTable(rows []TrackerRow) Table {
	t := Table{Columns: TrackerColumns}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{
			r.IP, r.Unit, r.UnitName, r.Asset, r.Location, r.Department, r.Person,
			string(r.State), StateLabel(r.State), r.MiningNow,
			r.FirstFlagged, r.LastFlagged, r.EpisodeStart, r.Episodes, r.MaxScore,
			r.Pools, r.Coins, r.Machines, r.Class,
			r.LocateDeadline, r.LocateOverdue, r.ReportDeadline, r.ReportOverdue,
			r.Disposition, r.DispositionClass, r.DispositionNote, r.DispositionAt,
		})
	}
	return t
}

// ReviewColumns are the weekly review's columns.
var ReviewColumns = []Column{
	{"unit", "单位 unit", KindString},
	{"unit_name", "单位名称 unit name", KindString},
	{"sector", "行业 sector", KindString},
	{"district", "辖区 district", KindString},
	{"mining_at_end", "周末在挖 mining at week end", KindInt},
	{"new", "新增 new", KindInt},
	{"relapsed", "复发 relapsed", KindInt},
	{"cleared", "清零 cleared", KindInt},
	{"distinct_ips", "本周涉及IP distinct IPs", KindInt},
	{"prev_distinct_ips", "上周涉及IP previous week", KindInt},
	{"change", "环比 change", KindInt},
	{"overdue", "超期 overdue", KindInt},
	{"episodes_year", "本年次数 episodes this year", KindInt},
	{"relapses_year", "本年复发 relapses this year", KindInt},
	{"repeated_relapse", "反复复发 repeated relapse", KindBool},
}

// ReviewTable renders weekly review rows.
func ReviewTable(rows []ReviewRow) Table {
	t := Table{Columns: ReviewColumns}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{
			r.Unit, r.UnitName, r.Sector, r.District,
			r.MiningAtEnd, r.New, r.Relapsed, r.Cleared, r.DistinctIPs, r.PrevDistinctIPs, r.Change,
			r.Overdue, r.EpisodesYear, r.RelapsesYear, r.RepeatedRelapse,
		})
	}
	return t
}

// PoolColumns are the pools table's columns.
var PoolColumns = []Column{
	{"pool", "矿池 pool", KindString},
	{"coin", "币种 coin", KindString},
	{"ips", "IP数 IPs", KindInt},
	{"contacts", "连接次数 contacts", KindFloat},
	{"first_seen", "首次发现 first seen", KindTime},
}

// PoolTable renders pool rows.
func PoolTable(rows []PoolRow) Table {
	t := Table{Columns: PoolColumns}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.Pool, r.Coin, r.IPs, r.Contacts, r.FirstSeen})
	}
	return t
}

// FormatTime renders a time for text output in loc ("" for none).
func FormatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04")
}
