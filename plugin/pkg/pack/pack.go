// Package pack builds the weekly review meeting pack (周研判会议材料): the
// review of one ISO week for a unit, a district or a bureau, as an XLSX
// workbook (a sheet per table, a trend chart) or a PDF (an HTML page printed
// by headless Chromium). Every number in it is a cell of a campaign table
// (campaign.Review), printed the way the CLI prints it, so the pack, the
// CLI and the datasource cannot disagree.
package pack

import (
	"fmt"
	"strconv"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// Pack is one meeting pack.
type Pack struct {
	Review    campaign.Review
	Selection string // who the pack covers, in words (Selection builds it)
	Generated time.Time
	Location  *time.Location // Beijing time (campaign.Location) when nil
}

func (p Pack) loc() *time.Location {
	if p.Location != nil {
		return p.Location
	}
	return campaign.Location()
}

// Section is one table of the pack: a sheet of the workbook, a section of
// the PDF.
type Section struct {
	Sheet string // sheet name (≤ 31 characters)
	Title string // heading, Chinese first
	Note  string // a line under the heading
	Table campaign.Table
	// Keys are the columns the PDF shows (nil: all); the workbook has all.
	Keys []string
}

// LevelLabel names a roll-up level in Chinese and English.
func LevelLabel(l campaign.Level) string {
	switch l {
	case campaign.LevelDistrict:
		return "辖区 district"
	case campaign.LevelBureau:
		return "局 bureau"
	}
	return "单位 unit"
}

// Selection describes a filter for the pack's heading.
func Selection(f campaign.Filter) string {
	var s string
	add := func(zh string, xs []string) {
		for _, x := range xs {
			if s != "" {
				s += "；"
			}
			s += zh + " " + x
		}
	}
	add("单位", f.Units)
	add("辖区", f.Districts)
	add("行业", f.Sectors)
	add("所辖", f.Under)
	if s == "" {
		return "全部单位 all units"
	}
	return s
}

// SummaryRow is one line of the summary sheet.
type SummaryRow struct{ Key, Item, Value string }

// SummaryColumns are the summary sheet's columns.
var SummaryColumns = []campaign.Column[SummaryRow]{
	campaign.StringCol("key", "键 key", func(r SummaryRow) string { return r.Key }),
	campaign.StringCol("item", "项目 item", func(r SummaryRow) string { return r.Item }),
	campaign.StringCol("value", "数值 value", func(r SummaryRow) string { return r.Value }),
}

func num(x float64) string { return strconv.FormatFloat(campaign.Round2(x), 'f', -1, 64) }

// Summary is the pack's first table: the week, the selection and the total
// row's counts, energy and the figures the energy was computed with.
func (p Pack) Summary() []SummaryRow {
	r, loc := p.Review, p.loc()
	tot := r.Units[len(r.Units)-1]
	end := r.Week.End(loc)
	judged := campaign.FormatTime(r.JudgedAt, loc)
	if r.Running {
		judged += "（本周尚未结束 week not over）"
	}
	e := r.Energy
	return []SummaryRow{
		{"week", "周次 week", r.Week.String()},
		{"period", "时段 period", campaign.FormatTime(r.Week.Start(loc), loc) + " – " + campaign.FormatTime(end, loc) + " 北京时间"},
		{"judged_at", "研判时刻 judged at", judged},
		{"selection", "范围 selection", p.Selection},
		{"level", "汇总层级 level", LevelLabel(r.Level)},
		{"units", "涉及单位数 units", strconv.Itoa(tot.Units)},
		{"distinct_ips", "本周涉及IP distinct IPs", strconv.Itoa(tot.DistinctIPs)},
		{"new", "新增 new", strconv.Itoa(tot.New)},
		{"still_active", "持续 still active", strconv.Itoa(tot.StillActive())},
		{"relapsed", "复发 relapsed", strconv.Itoa(tot.Relapsed)},
		{"cleared", "清零 cleared", strconv.Itoa(tot.Cleared)},
		{"mining_at_end", "周末在挖 mining at week end", strconv.Itoa(tot.MiningAtEnd)},
		{"overdue", "超期案件 overdue cases", strconv.Itoa(tot.Overdue)},
		{"distinct_devices", "本周涉及设备 distinct devices", strconv.Itoa(tot.Devices.Distinct)},
		{"new_devices", "新增设备 new devices", strconv.Itoa(tot.Devices.New)},
		{"still_active_devices", "持续设备 still active devices", strconv.Itoa(tot.Devices.StillActive())},
		{"relapsed_devices", "复发设备 relapsed devices", strconv.Itoa(tot.Devices.Relapsed)},
		{"cleared_devices", "清零设备 cleared devices", strconv.Itoa(tot.Devices.Cleared)},
		{"mining_devices_at_end", "周末在挖设备 devices mining at week end", strconv.Itoa(tot.Devices.MiningAtEnd)},
		{"overdue_devices", "超期设备 overdue devices", strconv.Itoa(tot.Devices.Overdue)},
		{"repeat_offenders", "反复复发单位 repeat-offender units", strconv.Itoa(len(r.Repeat))},
		{"energy_kwh", "耗电(千瓦时) energy kWh", num(tot.KWh)},
		{"cost_yuan", "电费(元) cost yuan", num(tot.Yuan)},
		{"co2_kg", "二氧化碳(千克) CO2 kg", num(tot.KgCO2)},
		{"power", "功率 power per machine", fmt.Sprintf("显卡矿机 GPU rig %g W；CPU电脑 CPU PC %g W", e.GPUWatts, e.CPUWatts)},
		{"tariff", "电价 tariff", fmt.Sprintf("%g 元/千瓦时 + 加价 surcharge %g 元/千瓦时", e.Tariff, e.Surcharge)},
		{"grid_factor", "电网排放因子 grid factor", fmt.Sprintf("%g kgCO2/kWh（生态环境部、国家统计局 2023年全国电力平均二氧化碳排放因子 by default）", e.GridKgPerKWh)},
	}
}

// RepeatColumns are the repeat offenders' columns.
var RepeatColumns = []campaign.Column[campaign.ReviewRow]{
	campaign.StringCol("unit", "单位 unit", func(r campaign.ReviewRow) string { return r.Unit }),
	campaign.StringCol("unit_name", "单位名称 unit name", func(r campaign.ReviewRow) string { return r.UnitName }),
	campaign.StringCol("district", "辖区 district", func(r campaign.ReviewRow) string { return r.District }),
	campaign.IntCol("relapses_365d", "近365天复发 relapses, 365 d", func(r campaign.ReviewRow) int { return r.Relapses365d }),
	campaign.IntCol("episodes_365d", "近365天次数 episodes, 365 d", func(r campaign.ReviewRow) int { return r.Episodes365d }),
	campaign.StringCol("consequence", "后果 consequence", func(campaign.ReviewRow) string { return "取消本年度评先评优资格 loses the year's awards" }),
}

// TrendColumns are the trend's columns (the total row of each week).
var TrendColumns = []campaign.Column[campaign.TrendPoint]{
	campaign.StringCol("week", "周次 week", func(r campaign.TrendPoint) string { return r.Week.String() }),
	campaign.IntCol("distinct_ips", "本周涉及IP distinct IPs", func(r campaign.TrendPoint) int { return r.DistinctIPs }),
	campaign.IntCol("new", "新增 new", func(r campaign.TrendPoint) int { return r.New }),
	campaign.IntCol("relapsed", "复发 relapsed", func(r campaign.TrendPoint) int { return r.Relapsed }),
	campaign.IntCol("cleared", "清零 cleared", func(r campaign.TrendPoint) int { return r.Cleared }),
	campaign.IntCol("mining_at_end", "周末在挖 mining at week end", func(r campaign.TrendPoint) int { return r.MiningAtEnd }),
	campaign.IntCol("overdue", "超期 overdue", func(r campaign.TrendPoint) int { return r.Overdue }),
	campaign.IntCol("distinct_devices", "本周涉及设备 distinct devices", func(r campaign.TrendPoint) int { return r.Devices.Distinct }),
	campaign.IntCol("new_devices", "新增设备 new devices", func(r campaign.TrendPoint) int { return r.Devices.New }),
	campaign.IntCol("cleared_devices", "清零设备 cleared devices", func(r campaign.TrendPoint) int { return r.Devices.Cleared }),
	campaign.IntCol("mining_devices_at_end", "周末在挖设备 devices mining at week end", func(r campaign.TrendPoint) int { return r.Devices.MiningAtEnd }),
}

// UnitKeys are the review columns the PDF shows per unit (the workbook has all).
var UnitKeys = []string{"unit", "unit_name", "new", "still_active", "relapsed", "cleared", "mining_at_end", "overdue", "distinct_ips", "change", "relapses_365d", "repeated_relapse"}

// DeviceKeys are the review columns the PDF shows per unit by device.
var DeviceKeys = []string{"unit", "unit_name", "new_devices", "still_active_devices", "relapsed_devices", "cleared_devices", "mining_devices_at_end", "overdue_devices", "distinct_devices", "device_change"}

// TrendKeys are the trend columns the PDF shows (the devices' distinct count beside the IPs'; the workbook has all).
var TrendKeys = []string{"week", "distinct_ips", "distinct_devices", "new", "relapsed", "cleared", "mining_at_end", "overdue"}

// EnergyKeys are the review columns of the energy section.
var EnergyKeys = []string{"unit", "unit_name", "mining_hours", "energy_kwh", "cost_yuan", "co2_kg"}

// Sections are the pack's tables in order.
func (p Pack) Sections() []Section {
	r := p.Review
	rows := campaign.ReviewTableOf(r.Rows, r.Running)
	per := map[campaign.Level]string{campaign.LevelUnit: "各单位", campaign.LevelDistrict: "各辖区", campaign.LevelBureau: "各局"}[r.Level]
	if per == "" {
		per = "各单位"
	}
	return []Section{
		{Sheet: "汇总 Summary", Title: "汇总 Summary", Table: campaign.Build(SummaryColumns, p.Summary()), Keys: []string{"item", "value"}},
		{Sheet: per + " " + string(r.Level), Title: per + "情况 per " + string(r.Level), Note: "新增、持续、复发、清零、超期按 docs/campaign.md 的定义计数（IP数；超期为案件数）", Table: rows, Keys: UnitKeys},
		{Sheet: "按设备 Devices", Title: per + "按设备计数 per " + string(r.Level) + " by device", Note: "同上各项按设备计数：已关联MAC或上网账号的各IP合为一台设备（DHCP换址的电脑只计一次），未关联的IP各计一台", Table: rows, Keys: DeviceKeys},
		{Sheet: "反复复发 Repeat", Title: "反复复发单位 Repeat-offender units", Note: fmt.Sprintf("近365天复发 ≥ %d 次的单位，取消本年度评先评优资格 (units with ≥ %d relapses in 365 d lose the year's awards)", campaign.RelapseLimit, campaign.RelapseLimit), Table: campaign.Build(RepeatColumns, r.Repeat)},
		{Sheet: "趋势 Trend", Title: fmt.Sprintf("近%d周趋势 Trend, %d weeks", campaign.TrendWeeks, campaign.TrendWeeks), Table: campaign.Build(TrendColumns, r.Trend), Keys: TrendKeys},
		{Sheet: "能耗 Energy", Title: "能耗、电费与碳排放 Energy, cost and CO2", Note: "耗电 = 挖矿小时 × 机器数 × 每台功率；电费 = 耗电 × (电价 + 加价)；二氧化碳 = 耗电 × 电网排放因子", Table: rows, Keys: EnergyKeys},
	}
}

// project keeps the columns of t named by keys (all when keys is nil).
func project(t campaign.Table, keys []string) (fields []campaign.Field, idx []int) {
	if keys == nil {
		for i, f := range t.Fields {
			fields, idx = append(fields, f), append(idx, i)
		}
		return
	}
	for _, k := range keys {
		if i, ok := t.Index(k); ok {
			fields, idx = append(fields, t.Fields[i]), append(idx, i)
		}
	}
	return
}
