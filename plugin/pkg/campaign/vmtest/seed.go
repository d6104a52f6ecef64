package vmtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// CST is the campaign's zone (Asia/Shanghai).
var CST = names.Location()

// At is a wall-clock time in CST.
func At(year int, month time.Month, day, hour, minute int) time.Time {
	return time.Date(year, month, day, hour, minute, 0, 0, CST)
}

// Series builds samples in Prometheus text format with timestamps, and the
// dispositions that go to the case store.
type Series struct {
	Lines     []string
	Disposals []Disposal
}

// Disposal is a seeded disposition, for the case store (casestore.Seed).
type Disposal struct {
	IP, Unit, Stage, Class, Note string
	At                           time.Time
}

func labelsText(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+strconv.Quote(kv[i+1]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Sample adds one sample.
func (s *Series) Sample(metric string, v float64, t time.Time, kv ...string) {
	s.Lines = append(s.Lines, fmt.Sprintf("%s%s %s %d", metric, labelsText(kv...), strconv.FormatFloat(v, 'g', -1, 64), t.UnixMilli()))
}

// Every adds samples every step in [from, to).
func (s *Series) Every(metric string, v float64, from, to time.Time, step time.Duration, kv ...string) {
	for t := from; t.Before(to); t = t.Add(step) {
		s.Sample(metric, v, t, kv...)
	}
}

// Flag writes what the exporter writes for a flagged stretch of one machine
// (FlagMachines with 1).
func (s *Series) Flag(ip, unit, class string, from, to time.Time, score float64) {
	s.FlagMachines(ip, unit, class, from, to, score, 1)
}

// FlagMachines writes what the exporter writes for a flagged stretch:
// mining=1, the score and the estimated machines every 15 minutes in
// [from, to), then mining=0 and no machines for the hour after. The exporter
// writes minewatch_host_machines with every mining sample and never below 1
// while mining (score.Engine.machines), so a seed without it would show
// mining hosts with 0 machines.
func (s *Series) FlagMachines(ip, unit, class string, from, to time.Time, score, machines float64) {
	s.Every("minewatch_host_mining", 1, from, to, 15*time.Minute, "ip", ip, "unit", unit, "class", class)
	s.Every("minewatch_host_score", score, from, to, 15*time.Minute, "ip", ip, "unit", unit)
	s.Every("minewatch_host_machines", machines, from, to, 15*time.Minute, "ip", ip, "unit", unit)
	s.Every("minewatch_host_mining", 0, to, to.Add(time.Hour), 15*time.Minute, "ip", ip, "unit", unit, "class", class)
	s.Every("minewatch_host_score", 10, to, to.Add(time.Hour), 15*time.Minute, "ip", ip, "unit", unit)
	s.Every("minewatch_host_machines", 0, to, to.Add(time.Hour), 15*time.Minute, "ip", ip, "unit", unit)
}

// Dispose records a case disposition for the case store. The tracker reads
// dispositions from the store only; the legacy minewatch_case_disposition
// sample is still written because alerts/rules/cases.yml and dashboards/ip.json
// read it until they move to the store.
func (s *Series) Dispose(ip, unit, stage, class, note string, t time.Time) {
	s.Disposals = append(s.Disposals, Disposal{IP: ip, Unit: unit, Stage: stage, Class: class, Note: note, At: t})
	s.Sample("minewatch_case_disposition", float64(t.Unix()), t, "ip", ip, "unit", unit, "stage", stage, "class", class, "note", note)
}

// Unit writes the ledger's unit info every 15 minutes over [from, to), as
// the exporter does with every push (more often still).
func (s *Series) Unit(id, name, sector, parent string, from, to time.Time) {
	s.Every("minewatch_unit_info", 1, from, to, 15*time.Minute, "unit", id, "name", name, "sector", sector, "parent", parent)
}

// Campaign is the seeded history the integration tests assert on. Review
// week 2026-W45 runs from Mon 2 Nov to Mon 9 Nov 2026 00:00 CST.
//
//	u-a 一中 (school, d-east)
//	  10.1.0.1 new in W45 (3 Nov 10:10 – 5 Nov 09:10), located and reported in time
//	  10.1.0.2 new in W45 (4 Nov 20:10 – 10 Nov 05:10), no disposition: overdue, mining at week end
//	u-b 二中 (school, d-east)
//	  10.2.0.1 20 Oct 08:10 – 27 Oct 14:10, closed 21 Oct: cleared 3 Nov 14:00 (in W45)
//	  10.2.0.2 1–3 Sep (disposed), cleared, relapses 6 Nov 09:10 – 7 Nov 21:10, no disposition: overdue
//	u-c 税务局 (government, d-west)
//	  10.3.0.1 28 Oct 10:10 – 29 Oct 10:10 and 2 Nov 10:10 – 18:10: one episode (gap < 7 d), closed false-positive
//	u-d 热电厂 (soe, d-west)
//	  10.4.0.1 1–2 Feb, 10–11 Mar, 5 Nov 10:10 – 12:10: relapses twice in 2026, every episode closed
//	u-x 保密单位 (government, d-secret), outside every scoped datasource of the tests
//	  10.9.0.1 1 Nov 08:10 – 10 Nov 08:10, no disposition
func Campaign() []string { return campaignSeries().Lines }

// CampaignDispositions are the dispositions of the seeded campaign.
func CampaignDispositions() []Disposal { return campaignSeries().Disposals }

func campaignSeries() Series {
	var s Series
	begin, end := At(2025, 12, 1, 0, 0), At(2026, 11, 12, 0, 0)
	s.Unit("u-a", "一中", "school", "d-east", begin, end)
	s.Unit("u-b", "二中", "school", "d-east", begin, end)
	s.Unit("u-c", "税务局", "government", "d-west", begin, end)
	s.Unit("u-d", "热电厂", "soe", "d-west", begin, end)
	s.Unit("u-x", "保密单位", "government", "d-secret", begin, end)

	s.FlagMachines("10.1.0.1", "u-a", "active", At(2026, 11, 3, 10, 10), At(2026, 11, 5, 9, 10), 85, 3)
	s.Every("minewatch_host_info", 1, At(2026, 11, 3, 10, 10), At(2026, 11, 5, 9, 10), time.Hour,
		"ip", "10.1.0.1", "unit", "u-a", "asset", "实验楼301 GPU工作站", "kind", "gpu-workstation",
		"location", "实验楼301", "department", "信息中心", "owner", "李老师", "research", "false")
	// a counter that starts with the episode
	n := 0.0
	for t := At(2026, 11, 3, 10, 10); t.Before(At(2026, 11, 5, 9, 10)); t = t.Add(15 * time.Minute) {
		n += 4
		s.Sample("minewatch_pool_contacts_total", n, t, "ip", "10.1.0.1", "unit", "u-a", "pool", "xmr.pool.example:3333", "coin", "XMR")
	}
	s.Dispose("10.1.0.1", "u-a", "located", "active", "学生宿舍私接矿机", At(2026, 11, 4, 12, 0))
	s.Dispose("10.1.0.1", "u-a", "reported", "active", "书面报告已提交", At(2026, 11, 5, 9, 0))

	s.Flag("10.1.0.2", "u-a", "passive", At(2026, 11, 4, 20, 10), At(2026, 11, 10, 5, 10), 70)

	s.Flag("10.2.0.1", "u-b", "passive", At(2026, 10, 20, 8, 10), At(2026, 10, 27, 14, 10), 60)
	s.Dispose("10.2.0.1", "u-b", "closed", "passive", "木马已清除", At(2026, 10, 21, 10, 0))

	s.Flag("10.2.0.2", "u-b", "active", At(2026, 9, 1, 8, 10), At(2026, 9, 3, 8, 10), 90)
	s.Dispose("10.2.0.2", "u-b", "located", "active", "", At(2026, 9, 2, 8, 0))
	s.Dispose("10.2.0.2", "u-b", "reported", "active", "", At(2026, 9, 2, 18, 0))
	s.Flag("10.2.0.2", "u-b", "active", At(2026, 11, 6, 9, 10), At(2026, 11, 7, 21, 10), 95)

	s.Flag("10.3.0.1", "u-c", "unknown", At(2026, 10, 28, 10, 10), At(2026, 10, 29, 10, 10), 55)
	s.Flag("10.3.0.1", "u-c", "unknown", At(2026, 11, 2, 10, 10), At(2026, 11, 2, 18, 10), 58)
	s.Dispose("10.3.0.1", "u-c", "closed", "false-positive", "视频会议误报", At(2026, 10, 29, 9, 0))

	s.Flag("10.4.0.1", "u-d", "active", At(2026, 2, 1, 8, 10), At(2026, 2, 2, 8, 10), 80)
	s.Dispose("10.4.0.1", "u-d", "closed", "active", "", At(2026, 2, 1, 12, 0))
	s.Flag("10.4.0.1", "u-d", "active", At(2026, 3, 10, 8, 10), At(2026, 3, 11, 8, 10), 80)
	s.Dispose("10.4.0.1", "u-d", "closed", "active", "", At(2026, 3, 10, 12, 0))
	s.Flag("10.4.0.1", "u-d", "active", At(2026, 11, 5, 10, 10), At(2026, 11, 5, 12, 10), 88)
	s.Dispose("10.4.0.1", "u-d", "closed", "active", "再次复发", At(2026, 11, 5, 11, 0))

	s.Flag("10.9.0.1", "u-x", "active", At(2026, 11, 1, 8, 10), At(2026, 11, 10, 8, 10), 99)
	s.Every("minewatch_host_info", 1, At(2026, 11, 1, 8, 10), At(2026, 11, 10, 8, 10), time.Hour,
		"ip", "10.9.0.1", "unit", "u-x", "asset", "机房服务器", "kind", "server",
		"location", "保密机房", "department", "保密处", "owner", "王处长", "research", "false")
	n = 0
	for t := At(2026, 11, 1, 8, 10); t.Before(At(2026, 11, 10, 8, 10)); t = t.Add(15 * time.Minute) {
		n++
		s.Sample("minewatch_pool_contacts_total", n, t, "ip", "10.9.0.1", "unit", "u-x", "pool", "secret.pool.example:443", "coin", "ETC")
	}
	sort.Strings(s.Lines)
	return s
}
