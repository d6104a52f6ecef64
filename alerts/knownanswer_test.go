package alerts

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

// The known-answer history: five ISO weeks (2025-W51 … 2026-W03, Monday 15
// December 2025 to Monday 19 January 2026, Beijing time; in the past, as
// VictoriaMetrics drops samples more than two days ahead of now) and three
// units. Every expectation below was worked out by hand from
// docs/campaign.md (hour buckets: a sample at s flags the bucket
// (ceil_h(s)-1h, ceil_h(s)]; episodes join across gaps shorter than 7 d
// between buckets; a relapse is an episode within 365 d of an earlier flag;
// deadlines start + 48 h / 72 h), not computed by the code under test. Cases:
//
//	u1 一中 (school)
//	  A 10.1.0.1  Mon 5 Jan 2026 07:30–11:45: starts 07:00 Beijing = Sunday 23:00 UTC, so in 2026-W02 (week
//	              boundary); located in time, report one hour late (report overdue 8 Jan 07:00–08:00 only)
//	  B 10.1.0.2  Thu 1 Jan 2026 07:30–10:00 (31 Dec 2025 in UTC: year boundary), no disposition; again 8 Jan
//	              10:01–13:01: the gap is 7 d + 1 min, the bucket gap exactly 7 d, so cleared 8 Jan 10:00 and relapsed
//	              at once; located 9 Jan, never reported
//	u2 税务局 (government)
//	  C 10.2.0.1  16 Dec 09:05–10:59 and 23 Dec 10:58–12:58: gap 7 d − 1 min, one episode; located and reported in time
//	  D 10.2.0.2  15 Dec 08:10 – 17 Dec 20:30 and 24 Dec 20:31 – 25 Dec 02:31: gap 7 d + 1 min but within the same
//	              hour, bucket gap 6 d 23 h: one episode; no disposition
//	  F 10.3.0.9  29 Dec 10:10–11:40 under u2, no disposition (ledger change: the subnet then moves to u3)
//	u3 三公司 (enterprise), renamed 三公司新厂 (soe) in the ledger on 7 Jan 2026
//	  E 10.3.0.1  6 Oct 2025, 18 Dec 14:10–15:40, 13 Jan 09:10–10:40: relapses twice within 365 d, each closed
//	  F 10.3.0.9  14 Jan 10:10–11:40 under u3: a new IP of u3, located and reported in time
var bj = vmtest.CST

func at(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, bj) }

type history struct {
	lines     []string
	disposals []vmtest.Disposal // recorded in a real case store for the tracker and the reviews
}

func (s *history) sample(metric string, v float64, t time.Time, kv ...string) {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
	}
	s.lines = append(s.lines, fmt.Sprintf("%s{%s} %g %d", metric, strings.Join(parts, ","), v, t.UnixMilli()))
}

// flag writes mining=1 (and a score) every 15 minutes from first, and at
// last, then mining=0 for the hour after, as the exporter does.
func (s *history) flag(ip, unit, class string, score float64, first, last time.Time) {
	var ts []time.Time
	for t := first; t.Before(last); t = t.Add(15 * time.Minute) {
		ts = append(ts, t)
	}
	ts = append(ts, last)
	for _, t := range ts {
		s.sample("minewatch_host_mining", 1, t, "ip", ip, "unit", unit, "class", class)
		s.sample("minewatch_host_score", score, t, "ip", ip, "unit", unit)
	}
	for t := last.Add(15 * time.Minute); !t.After(last.Add(time.Hour)); t = t.Add(15 * time.Minute) {
		s.sample("minewatch_host_mining", 0, t, "ip", ip, "unit", unit, "class", class)
		s.sample("minewatch_host_score", 10, t, "ip", ip, "unit", unit)
	}
}

// dispose records a disposition in the case store and, from its moment on,
// the store's read-only view the exporter serves to vmalert (cases.store:
// value = the disposition's Unix time, no note).
func (s *history) dispose(ip, unit, stage, class, note string, t time.Time) {
	s.disposals = append(s.disposals, vmtest.Disposal{IP: ip, Unit: unit, Stage: stage, Class: class, Note: note, At: t})
	s.sample("minewatch_case_disposition", float64(t.Unix()), t, "ip", ip, "unit", unit, "stage", stage, "class", class)
}

func (s *history) unit(id, name, sector, parent string, from, to time.Time) {
	for t := from; t.Before(to); t = t.Add(6 * time.Hour) {
		s.sample("minewatch_unit_info", 1, t, "unit", id, "name", name, "sector", sector, "parent", parent)
	}
}

var (
	replayFrom = at(2025, 10, 2, 0, 0)
	replayTo   = at(2026, 1, 19, 0, 0)
)

func knownHistory() *history {
	var s history
	s.unit("u1", "一中", "school", "d-1", replayFrom, replayTo)
	s.unit("u2", "税务局", "government", "d-1", replayFrom, replayTo)
	s.unit("u3", "三公司", "enterprise", "d-2", replayFrom, at(2026, 1, 7, 0, 0))
	s.unit("u3", "三公司新厂", "soe", "d-2", at(2026, 1, 7, 0, 0), replayTo)

	s.flag("10.1.0.1", "u1", "active", 80, at(2026, 1, 5, 7, 30), at(2026, 1, 5, 11, 45))
	s.dispose("10.1.0.1", "u1", "located", "active", "宿舍矿机", at(2026, 1, 6, 9, 0))
	s.dispose("10.1.0.1", "u1", "reported", "active", "报告迟交", at(2026, 1, 8, 8, 0))

	s.flag("10.1.0.2", "u1", "passive", 70, at(2026, 1, 1, 7, 30), at(2026, 1, 1, 10, 0))
	s.flag("10.1.0.2", "u1", "passive", 70, at(2026, 1, 8, 10, 1), at(2026, 1, 8, 13, 1))
	s.dispose("10.1.0.2", "u1", "located", "passive", "木马", at(2026, 1, 9, 10, 0))

	s.flag("10.2.0.1", "u2", "active", 60, at(2025, 12, 16, 9, 5), at(2025, 12, 16, 10, 59))
	s.flag("10.2.0.1", "u2", "active", 60, at(2025, 12, 23, 10, 58), at(2025, 12, 23, 12, 58))
	s.dispose("10.2.0.1", "u2", "located", "active", "", at(2025, 12, 17, 10, 0))
	s.dispose("10.2.0.1", "u2", "reported", "active", "已报告", at(2025, 12, 18, 9, 30))

	s.flag("10.2.0.2", "u2", "passive", 75, at(2025, 12, 15, 8, 10), at(2025, 12, 17, 20, 30))
	s.flag("10.2.0.2", "u2", "passive", 75, at(2025, 12, 24, 20, 31), at(2025, 12, 25, 2, 31))

	s.flag("10.3.0.9", "u2", "unknown", 55, at(2025, 12, 29, 10, 10), at(2025, 12, 29, 11, 40))
	s.flag("10.3.0.9", "u3", "unknown", 55, at(2026, 1, 14, 10, 10), at(2026, 1, 14, 11, 40))
	s.dispose("10.3.0.9", "u3", "located", "active", "", at(2026, 1, 15, 9, 0))
	s.dispose("10.3.0.9", "u3", "reported", "active", "划归三公司", at(2026, 1, 16, 11, 0))

	s.flag("10.3.0.1", "u3", "active", 90, at(2025, 10, 6, 10, 10), at(2025, 10, 6, 12, 10))
	s.dispose("10.3.0.1", "u3", "closed", "active", "", at(2025, 10, 6, 11, 0))
	s.flag("10.3.0.1", "u3", "active", 90, at(2025, 12, 18, 14, 10), at(2025, 12, 18, 15, 40))
	s.dispose("10.3.0.1", "u3", "closed", "active", "", at(2025, 12, 18, 16, 0))
	s.flag("10.3.0.1", "u3", "active", 90, at(2026, 1, 13, 9, 10), at(2026, 1, 13, 10, 40))
	s.dispose("10.3.0.1", "u3", "closed", "active", "再次复发", at(2026, 1, 13, 11, 0))
	sort.Strings(s.lines)
	return &s
}

// expectedTracker: the tracker of 14 Dec 2026 – 18 Jan 2027, judged at its end.
func expectedTracker() []campaign.TrackerRow {
	return []campaign.TrackerRow{
		{IP: "10.1.0.1", Unit: "u1", UnitName: "一中", State: campaign.StateCleared,
			FirstFlagged: at(2026, 1, 5, 7, 0), LastFlagged: at(2026, 1, 5, 12, 0), EpisodeStart: at(2026, 1, 5, 7, 0), Episodes: 1,
			MaxScore: 80, Class: "active", LocateDeadline: at(2026, 1, 7, 7, 0), ReportDeadline: at(2026, 1, 8, 7, 0),
			Disposition: "reported", DispositionClass: "active", DispositionNote: "报告迟交", DispositionAt: at(2026, 1, 8, 8, 0)},
		{IP: "10.1.0.2", Unit: "u1", UnitName: "一中", State: campaign.StateCleared,
			FirstFlagged: at(2026, 1, 1, 7, 0), LastFlagged: at(2026, 1, 8, 14, 0), EpisodeStart: at(2026, 1, 8, 10, 0), Episodes: 2,
			MaxScore: 70, Class: "passive", LocateDeadline: at(2026, 1, 10, 10, 0), ReportDeadline: at(2026, 1, 11, 10, 0), ReportOverdue: true,
			Disposition: "located", DispositionClass: "passive", DispositionNote: "木马", DispositionAt: at(2026, 1, 9, 10, 0),
			CutOff: campaign.CutOffRelapse}, // the 8 Jan episode follows a gap of exactly the quiet period: a relapse
		{IP: "10.2.0.1", Unit: "u2", UnitName: "税务局", State: campaign.StateCleared,
			FirstFlagged: at(2025, 12, 16, 9, 0), LastFlagged: at(2025, 12, 23, 13, 0), EpisodeStart: at(2025, 12, 16, 9, 0), Episodes: 1,
			MaxScore: 60, Class: "active", LocateDeadline: at(2025, 12, 18, 9, 0), ReportDeadline: at(2025, 12, 19, 9, 0),
			Disposition: "reported", DispositionClass: "active", DispositionNote: "已报告", DispositionAt: at(2025, 12, 18, 9, 30),
			CutOff: campaign.CutOffPersists}, // one episode of 7 d 4 h: flagged past its 72 h report deadline
		{IP: "10.2.0.2", Unit: "u2", UnitName: "税务局", State: campaign.StateCleared,
			FirstFlagged: at(2025, 12, 15, 8, 0), LastFlagged: at(2025, 12, 25, 3, 0), EpisodeStart: at(2025, 12, 15, 8, 0), Episodes: 1,
			MaxScore: 75, Class: "passive", LocateDeadline: at(2025, 12, 17, 8, 0), ReportDeadline: at(2025, 12, 18, 8, 0),
			LocateOverdue: true, ReportOverdue: true, CutOff: campaign.CutOffPersists},
		{IP: "10.3.0.9", Unit: "u2", UnitName: "税务局", State: campaign.StateCleared,
			FirstFlagged: at(2025, 12, 29, 10, 0), LastFlagged: at(2025, 12, 29, 12, 0), EpisodeStart: at(2025, 12, 29, 10, 0), Episodes: 1,
			MaxScore: 55, Class: "unknown", LocateDeadline: at(2025, 12, 31, 10, 0), ReportDeadline: at(2026, 1, 1, 10, 0),
			LocateOverdue: true, ReportOverdue: true},
		{IP: "10.3.0.1", Unit: "u3", UnitName: "三公司新厂", State: campaign.StateRelapsed,
			FirstFlagged: at(2025, 10, 6, 10, 0), LastFlagged: at(2026, 1, 13, 11, 0), EpisodeStart: at(2026, 1, 13, 9, 0), Episodes: 3,
			MaxScore: 90, Class: "active", LocateDeadline: at(2026, 1, 15, 9, 0), ReportDeadline: at(2026, 1, 16, 9, 0),
			Disposition: "closed", DispositionClass: "active", DispositionNote: "再次复发", DispositionAt: at(2026, 1, 13, 11, 0),
			CutOff: campaign.CutOffRelapse},
		{IP: "10.3.0.9", Unit: "u3", UnitName: "三公司新厂", State: campaign.StateQuiet,
			FirstFlagged: at(2026, 1, 14, 10, 0), LastFlagged: at(2026, 1, 14, 12, 0), EpisodeStart: at(2026, 1, 14, 10, 0), Episodes: 1,
			MaxScore: 55, Class: "unknown", LocateDeadline: at(2026, 1, 16, 10, 0), ReportDeadline: at(2026, 1, 17, 10, 0),
			Disposition: "reported", DispositionClass: "active", DispositionNote: "划归三公司", DispositionAt: at(2026, 1, 16, 11, 0)},
	}
}

type rr = campaign.ReviewRow

func u1(r rr) rr {
	r.Unit, r.UnitName, r.Sector, r.District = "u1", "一中", "school", "d-1"
	return r
}
func u2(r rr) rr {
	r.Unit, r.UnitName, r.Sector, r.District = "u2", "税务局", "government", "d-1"
	return r
}
func u3old(r rr) rr {
	r.Unit, r.UnitName, r.Sector, r.District = "u3", "三公司", "enterprise", "d-2"
	return r
}
func u3(r rr) rr {
	r.Unit, r.UnitName, r.Sector, r.District = "u3", "三公司新厂", "soe", "d-2"
	return r
}
func total(r rr) rr { r.Unit, r.UnitName = campaign.TotalUnit, "合计"; return r }

// expectedReviews: the weekly review of each of the five weeks, judged at its end.
func expectedReviews() map[string][]campaign.ReviewRow {
	return map[string][]campaign.ReviewRow{
		"2025-W51": {
			u2(rr{New: 2, DistinctIPs: 2, Change: 2, Overdue: 1, Episodes365d: 2}),
			u3old(rr{Relapsed: 1, DistinctIPs: 1, Change: 1, Episodes365d: 2, Relapses365d: 1}),
			total(rr{New: 2, Relapsed: 1, DistinctIPs: 3, Change: 3, Overdue: 1, Episodes365d: 4, Relapses365d: 1}),
		},
		"2025-W52": {
			u2(rr{DistinctIPs: 2, PrevDistinctIPs: 2, Overdue: 1, Episodes365d: 2}),
			u3old(rr{Cleared: 1, PrevDistinctIPs: 1, Change: -1, Episodes365d: 2, Relapses365d: 1}),
			total(rr{Cleared: 1, DistinctIPs: 2, PrevDistinctIPs: 3, Change: -1, Overdue: 1, Episodes365d: 4, Relapses365d: 1}),
		},
		"2026-W01": {
			u1(rr{New: 1, DistinctIPs: 1, Change: 1, Overdue: 1, Episodes365d: 1}),
			u2(rr{New: 1, Cleared: 2, DistinctIPs: 1, PrevDistinctIPs: 2, Change: -1, Overdue: 2, Episodes365d: 3}),
			u3old(rr{Episodes365d: 2, Relapses365d: 1}),
			total(rr{New: 2, Cleared: 2, DistinctIPs: 2, PrevDistinctIPs: 2, Overdue: 3, Episodes365d: 6, Relapses365d: 1}),
		},
		"2026-W02": {
			// B2's report deadline (11 Jan 10:00) passed before the week's end: both of B's cases are overdue.
			u1(rr{New: 1, Relapsed: 1, Cleared: 1, DistinctIPs: 2, PrevDistinctIPs: 1, Change: 1, Overdue: 2, Episodes365d: 3, Relapses365d: 1}),
			u2(rr{Cleared: 1, PrevDistinctIPs: 1, Change: -1, Overdue: 1, Episodes365d: 3}),
			u3(rr{Episodes365d: 2, Relapses365d: 1}),
			total(rr{New: 1, Relapsed: 1, Cleared: 2, DistinctIPs: 2, PrevDistinctIPs: 2, Overdue: 3, Episodes365d: 8, Relapses365d: 2}),
		},
		"2026-W03": {
			u1(rr{Cleared: 2, PrevDistinctIPs: 2, Change: -2, Overdue: 1, Episodes365d: 3, Relapses365d: 1}),
			u2(rr{Episodes365d: 3}),
			u3(rr{New: 1, Relapsed: 1, DistinctIPs: 2, Change: 2, Episodes365d: 4, Relapses365d: 2, RepeatedRelapse: true}),
			total(rr{New: 1, Relapsed: 1, Cleared: 2, DistinctIPs: 2, PrevDistinctIPs: 2, Overdue: 1, Episodes365d: 10, Relapses365d: 3, RepeatedRelapse: true}),
		},
	}
}

// firing is an alert firing at every evaluation (hour) in [From, To).
type firing struct {
	Alert, IP, Unit string
	From, To        time.Time
}

func expectedAlerts() []firing {
	return []firing{
		{"MinewatchMiningIPNew", "10.1.0.1", "u1", at(2026, 1, 5, 8, 0), at(2026, 1, 6, 9, 0)},
		{"MinewatchMiningIPNew", "10.1.0.2", "u1", at(2026, 1, 1, 8, 0), at(2026, 1, 3, 7, 0)},
		{"MinewatchMiningIPNew", "10.2.0.1", "u2", at(2025, 12, 16, 10, 0), at(2025, 12, 17, 10, 0)},
		{"MinewatchMiningIPNew", "10.2.0.2", "u2", at(2025, 12, 15, 9, 0), at(2025, 12, 17, 8, 0)},
		{"MinewatchMiningIPNew", "10.3.0.9", "u2", at(2025, 12, 29, 11, 0), at(2025, 12, 31, 10, 0)},
		{"MinewatchMiningIPNew", "10.3.0.9", "u3", at(2026, 1, 14, 11, 0), at(2026, 1, 15, 9, 0)},
		{"MinewatchMiningIPRelapsed", "10.1.0.2", "u1", at(2026, 1, 8, 11, 0), at(2026, 1, 9, 10, 0)},
		{"MinewatchMiningIPRelapsed", "10.3.0.1", "u3", at(2025, 12, 18, 15, 0), at(2025, 12, 18, 16, 0)},
		{"MinewatchMiningIPRelapsed", "10.3.0.1", "u3", at(2026, 1, 13, 10, 0), at(2026, 1, 13, 11, 0)},
		{"MinewatchInvestigationOverdue", "10.1.0.2", "u1", at(2026, 1, 3, 7, 0), at(2026, 1, 8, 10, 0)},
		{"MinewatchInvestigationOverdue", "10.2.0.2", "u2", at(2025, 12, 17, 8, 0), at(2026, 1, 1, 3, 0)},
		{"MinewatchInvestigationOverdue", "10.3.0.9", "u2", at(2025, 12, 31, 10, 0), at(2026, 1, 5, 12, 0)},
		{"MinewatchReportOverdue", "10.1.0.1", "u1", at(2026, 1, 8, 7, 0), at(2026, 1, 8, 8, 0)},
		{"MinewatchReportOverdue", "10.1.0.2", "u1", at(2026, 1, 4, 7, 0), at(2026, 1, 8, 10, 0)},
		{"MinewatchReportOverdue", "10.1.0.2", "u1", at(2026, 1, 11, 10, 0), at(2026, 1, 15, 14, 0)},
		{"MinewatchReportOverdue", "10.2.0.2", "u2", at(2025, 12, 18, 8, 0), at(2026, 1, 1, 3, 0)},
		{"MinewatchReportOverdue", "10.3.0.9", "u2", at(2026, 1, 1, 10, 0), at(2026, 1, 5, 12, 0)},
		{"MinewatchUnitRepeatedRelapses", "", "u3", at(2026, 1, 13, 10, 0), replayTo.Add(time.Hour)},
	}
}

// TestKnownAnswerHistory: the tracker, the five weekly reviews and the case
// alert rules (evaluated by the real vmalert in -replay mode against the real
// VictoriaMetrics) all give the hand-worked answers over the same history.
func TestKnownAnswerHistory(t *testing.T) {
	vmalertBin := testsupport.Require(t, "vmalert")
	vm := vmtest.Start(t)
	h := knownHistory()
	vm.Import(t, h.lines)
	vm.Flush(t)
	src, err := campaign.NewSource(campaign.SourceOptions{URL: vm.URL})
	if err != nil {
		t.Fatal(err)
	}
	src.Dispositions, _ = storetest.Seeded(t, h.disposals)
	ctx := context.Background()
	timeEq := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	// This history checks cases and alerts; energy is checked by hand in
	// plugin/pkg/campaign (ExpectedReview, ExpectedTracker).
	noEnergy := cmp.Options{cmpopts.IgnoreFields(campaign.TrackerRow{}, "PowerClass", "Energy"), cmpopts.IgnoreFields(campaign.ReviewRow{}, "Energy", "Units")}

	t.Run("tracker", func(t *testing.T) {
		rows, err := src.Tracker(ctx, campaign.Filter{}, nil, at(2025, 12, 15, 0, 0), replayTo, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := expectedTracker()
		for i := range want { // no MAC or account in this history: each IP is its own device
			want[i].Device = campaign.DeviceKey("", "", want[i].IP)
		}
		if d := cmp.Diff(want, rows, timeEq, noEnergy); d != "" {
			t.Errorf("tracker (-want +got):\n%s", d)
		}
	})
	t.Run("weekly reviews", func(t *testing.T) {
		for week, want := range expectedReviews() {
			w, err := campaign.ParseWeek(week)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := src.WeeklyReview(ctx, campaign.Filter{}, w, replayTo.Add(24*time.Hour), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want { // no MAC or account in this history: devices are the IPs
				want[i].Devices = want[i].IPCounts()
			}
			if d := cmp.Diff(want, rows, noEnergy); d != "" {
				t.Errorf("review %s (-want +got):\n%s", week, d)
			}
		}
	})
	t.Run("alert rules in vmalert -replay", func(t *testing.T) {
		replayRules(t, vmalertBin, vm)
		got := firingHours(t, vm.URL)
		want := map[string][]time.Time{}
		for _, f := range expectedAlerts() {
			k := f.Alert + " " + f.IP + " " + f.Unit
			for h := f.From; h.Before(f.To) && !h.After(replayTo); h = h.Add(time.Hour) {
				want[k] = append(want[k], h)
			}
		}
		for k := range want {
			sort.Slice(want[k], func(i, j int) bool { return want[k][i].Before(want[k][j]) })
		}
		if d := cmp.Diff(want, got, timeEq); d != "" {
			t.Errorf("firing hours (-want +got):\n%s", d)
		}
	})
}

// replayRules runs vmalert -replay with the hourly group of the generated
// rules (replay flavour) over the history, writing back to VictoriaMetrics.
func replayRules(t *testing.T, vmalertBin string, vm *vmtest.VM) {
	t.Helper()
	out, err := ReplayRules() // the hourly group; the 1m "now" group is no part of the definition
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "cases-replay.yml")
	if err := os.WriteFile(rules, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vmalertBin, "-rule="+rules, "-datasource.url="+vm.URL, "-remoteWrite.url="+vm.URL,
		"-replay.timeFrom="+replayFrom.UTC().Format(time.RFC3339), "-replay.timeTo="+replayTo.UTC().Format(time.RFC3339),
		"-replay.rulesDelay=2s", "-datasource.queryStep=0s", "-remoteWrite.flushInterval=100ms", "-replay.disableProgressBar", "-loggerLevel=ERROR",
		"-httpListenAddr=127.0.0.1:0")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vmalert -replay: %v\n%s", err, tail(string(o), 4000))
	}
	vm.Flush(t)
}

// firingHours reads the ALERTS series vmalert wrote: per alert and IP, the
// evaluation times at which it was firing.
func firingHours(t *testing.T, vmURL string) map[string][]time.Time {
	t.Helper()
	q := url.Values{"match[]": {`ALERTS{alertstate="firing"}`}, "start": {fmt.Sprint(replayFrom.Add(-time.Hour).Unix())}, "end": {fmt.Sprint(replayTo.Add(time.Hour).Unix())}}
	resp, err := http.Get(vmURL + "/api/v1/export?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := map[string][]time.Time{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Values     []float64         `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		k := line.Metric["alertname"] + " " + line.Metric["ip"] + " " + line.Metric["unit"]
		for _, ts := range line.Timestamps {
			got[k] = append(got[k], time.UnixMilli(ts).In(bj))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k := range got {
		sort.Slice(got[k], func(i, j int) bool { return got[k][i].Before(got[k][j]) })
		// -replay evaluates in chunks of -replay.maxDatapointsPerQuery steps and
		// evaluates the step between two chunks in both: the same evaluation
		// written twice, kept once.
		got[k] = slices.CompactFunc(got[k], func(a, b time.Time) bool { return a.Equal(b) })
	}
	if len(got) == 0 {
		t.Fatal("vmalert wrote no ALERTS series")
	}
	return got
}
