package campaign_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

var at = vmtest.At

func seeded(t *testing.T) *vmtest.VM {
	t.Helper()
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Flush(t)
	return vm
}

func source(t *testing.T, url string, scope ...string) *campaign.Source {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := storetest.Campaign(t) // the seeded campaign's dispositions, in a real SQLite case store
	return &campaign.Source{API: v1.NewAPI(c), Config: campaign.DefaultConfig(), ScopeUnits: scope, Dispositions: st}
}

var timeEq = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// approx compares the energy figures (sums of products of decimals) to 1e-9.
var approx = cmpopts.EquateApprox(0, 1e-9)

// ExpectedTracker is the tracker of 2026-W45 over the seeded campaign,
// worked out by hand from docs/campaign.md (hour buckets: a flag first seen
// at 10:10 starts its episode at 10:00; one last seen at 08:55 ends at 09:00).
func ExpectedTracker() []campaign.TrackerRow {
	rows := expectedTrackerRows()
	for i := range rows {
		rows[i].Device = campaign.DeviceKey("", "", rows[i].IP) // no case store: every IP is its own device
	}
	return rows
}

func expectedTrackerRows() []campaign.TrackerRow {
	return []campaign.TrackerRow{
		{IP: "10.1.0.1", Unit: "u-a", UnitName: "一中", Asset: "实验楼301 GPU工作站", Location: "实验楼301", Department: "信息中心", Person: "李老师",
			State: campaign.StateQuiet, FirstFlagged: at(2026, 11, 3, 10, 0), LastFlagged: at(2026, 11, 5, 9, 0), EpisodeStart: at(2026, 11, 3, 10, 0),
			Episodes: 1, MaxScore: 85, Pools: "xmr.pool.example:3333", Coins: "XMR", Machines: 3, Class: "active",
			LocateDeadline: at(2026, 11, 5, 10, 0), ReportDeadline: at(2026, 11, 6, 10, 0),
			Disposition: "reported", DispositionClass: "active", DispositionNote: "书面报告已提交", DispositionAt: at(2026, 11, 5, 9, 0),
			PowerClass: campaign.PowerGPU, Energy: campaign.Energy{Hours: 47, KWh: 42.3, Yuan: 46.53, KgCO2: 22.44438}},
		{IP: "10.1.0.2", Unit: "u-a", UnitName: "一中", State: campaign.StateMining, MiningNow: true,
			FirstFlagged: at(2026, 11, 4, 20, 0), LastFlagged: at(2026, 11, 9, 0, 0), EpisodeStart: at(2026, 11, 4, 20, 0),
			Episodes: 1, MaxScore: 70, Machines: 1, Class: "passive",
			LocateDeadline: at(2026, 11, 6, 20, 0), ReportDeadline: at(2026, 11, 7, 20, 0), LocateOverdue: true, ReportOverdue: true,
			CutOff:     campaign.CutOffPersists, // flagged 100 h: past the 72 h report deadline
			PowerClass: campaign.PowerCPU, Energy: campaign.Energy{Hours: 100, KWh: 12, Yuan: 13.2, KgCO2: 6.3672}},
		{IP: "10.2.0.2", Unit: "u-b", UnitName: "二中", State: campaign.StateRelapsed,
			FirstFlagged: at(2026, 9, 1, 8, 0), LastFlagged: at(2026, 11, 7, 21, 0), EpisodeStart: at(2026, 11, 6, 9, 0),
			Episodes: 2, MaxScore: 95, Machines: 1, Class: "active",
			LocateDeadline: at(2026, 11, 8, 9, 0), ReportDeadline: at(2026, 11, 9, 9, 0), LocateOverdue: true,
			CutOff:     campaign.CutOffRelapse,
			PowerClass: campaign.PowerCPU, Energy: campaign.Energy{Hours: 36, KWh: 4.32, Yuan: 4.752, KgCO2: 2.292192}},
		{IP: "10.3.0.1", Unit: "u-c", UnitName: "税务局", State: campaign.StateQuiet,
			FirstFlagged: at(2026, 10, 28, 10, 0), LastFlagged: at(2026, 11, 2, 18, 0), EpisodeStart: at(2026, 10, 28, 10, 0),
			Episodes: 1, MaxScore: 58, Machines: 1, Class: "unknown",
			LocateDeadline: at(2026, 10, 30, 10, 0), ReportDeadline: at(2026, 10, 31, 10, 0),
			Disposition: "closed", DispositionClass: "false-positive", DispositionNote: "视频会议误报", DispositionAt: at(2026, 10, 29, 9, 0),
			CutOff:     campaign.CutOffPersists, // flagged 5 d 8 h (the case is closed: the cut-off list ends it)
			PowerClass: campaign.PowerCPU, Energy: campaign.Energy{Hours: 32, KWh: 3.84, Yuan: 4.224, KgCO2: 2.037504}},
		{IP: "10.4.0.1", Unit: "u-d", UnitName: "热电厂", State: campaign.StateRelapsed,
			FirstFlagged: at(2026, 2, 1, 8, 0), LastFlagged: at(2026, 11, 5, 12, 0), EpisodeStart: at(2026, 11, 5, 10, 0),
			Episodes: 3, MaxScore: 88, Machines: 1, Class: "active",
			LocateDeadline: at(2026, 11, 7, 10, 0), ReportDeadline: at(2026, 11, 8, 10, 0),
			Disposition: "closed", DispositionClass: "active", DispositionNote: "再次复发", DispositionAt: at(2026, 11, 5, 11, 0),
			CutOff:     campaign.CutOffRelapse,
			PowerClass: campaign.PowerCPU, Energy: campaign.Energy{Hours: 2, KWh: 0.24, Yuan: 0.264, KgCO2: 0.127344}},
		{IP: "10.9.0.1", Unit: "u-x", UnitName: "保密单位", Asset: "机房服务器", Location: "保密机房", Department: "保密处", Person: "王处长",
			State: campaign.StateMining, MiningNow: true,
			FirstFlagged: at(2026, 11, 1, 8, 0), LastFlagged: at(2026, 11, 9, 0, 0), EpisodeStart: at(2026, 11, 1, 8, 0),
			Episodes: 1, MaxScore: 99, Pools: "secret.pool.example:443", Coins: "ETC", Machines: 1, Class: "active",
			LocateDeadline: at(2026, 11, 3, 8, 0), ReportDeadline: at(2026, 11, 4, 8, 0), LocateOverdue: true, ReportOverdue: true,
			CutOff:     campaign.CutOffPersists,
			PowerClass: campaign.PowerGPU, Energy: campaign.Energy{Hours: 184, KWh: 55.2, Yuan: 60.72, KgCO2: 29.28912}},
	}
}

// ExpectedReview is the weekly review of 2026-W45 over the seeded campaign.
// Energy (docs/campaign.md "Energy, cost and carbon", defaults: GPU rig 300 W,
// CPU PC 120 W, 0.6 + 0.5 元/kWh, 0.5306 kgCO₂/kWh), flagged hours inside the week:
//
//	u-a 10.1.0.1 3 Nov 10:00 – 5 Nov 09:00 = 47 h, GPU (asset kind gpu-workstation) × 3 machines: 42.3 kWh
//	    10.1.0.2 4 Nov 20:00 – 9 Nov 00:00 = 100 h, CPU × 1: 12 kWh            → 147 h, 54.3 kWh, 59.73 元, 28.81158 kg
//	u-b 10.2.0.2 6 Nov 09:00 – 7 Nov 21:00 = 36 h, CPU: 4.32 kWh, 4.752 元, 2.292192 kg
//	u-c 10.3.0.1 2 Nov 10:00–18:00 = 8 h, CPU: 0.96 kWh, 1.056 元, 0.509376 kg
//	u-d 10.4.0.1 5 Nov 10:00–12:00 = 2 h, CPU: 0.24 kWh, 0.264 元, 0.127344 kg
//	u-x 10.9.0.1 2 Nov 00:00 – 9 Nov 00:00 = 168 h, GPU (coin ETC) × 1: 50.4 kWh, 55.44 元, 26.74224 kg
//	total 361 h, 110.22 kWh, 121.242 元, 58.482732 kg
func ExpectedReview() []campaign.ReviewRow {
	rows := []campaign.ReviewRow{
		{Unit: "u-a", UnitName: "一中", Sector: "school", District: "d-east", MiningAtEnd: 1, New: 2, DistinctIPs: 2, Change: 2, Overdue: 1, Episodes365d: 2,
			Energy: campaign.Energy{Hours: 147, KWh: 54.3, Yuan: 59.73, KgCO2: 28.81158}, Units: 1},
		{Unit: "u-b", UnitName: "二中", Sector: "school", District: "d-east", Relapsed: 1, Cleared: 1, DistinctIPs: 1, PrevDistinctIPs: 1, Overdue: 1, Episodes365d: 3, Relapses365d: 1,
			Energy: campaign.Energy{Hours: 36, KWh: 4.32, Yuan: 4.752, KgCO2: 2.292192}, Units: 1},
		{Unit: "u-c", UnitName: "税务局", Sector: "government", District: "d-west", DistinctIPs: 1, PrevDistinctIPs: 1, Episodes365d: 1,
			Energy: campaign.Energy{Hours: 8, KWh: 0.96, Yuan: 1.056, KgCO2: 0.509376}, Units: 1},
		{Unit: "u-d", UnitName: "热电厂", Sector: "soe", District: "d-west", Relapsed: 1, DistinctIPs: 1, Change: 1, Episodes365d: 3, Relapses365d: 2, RepeatedRelapse: true,
			Energy: campaign.Energy{Hours: 2, KWh: 0.24, Yuan: 0.264, KgCO2: 0.127344}, Units: 1},
		{Unit: "u-x", UnitName: "保密单位", Sector: "government", District: "d-secret", MiningAtEnd: 1, DistinctIPs: 1, PrevDistinctIPs: 1, Overdue: 1, Episodes365d: 1,
			Energy: campaign.Energy{Hours: 168, KWh: 50.4, Yuan: 55.44, KgCO2: 26.74224}, Units: 1},
		{Unit: campaign.TotalUnit, UnitName: "合计", MiningAtEnd: 2, New: 2, Relapsed: 2, Cleared: 1, DistinctIPs: 6, PrevDistinctIPs: 3, Change: 3, Overdue: 3, Episodes365d: 10, Relapses365d: 3, RepeatedRelapse: true,
			Energy: campaign.Energy{Hours: 361, KWh: 110.22, Yuan: 121.242, KgCO2: 58.482732}, Units: 5},
	}
	for i := range rows { // no MAC or account in the seeded campaign: devices are the IPs
		rows[i].Devices = rows[i].IPCounts()
	}
	return rows
}

func TestSourceAgainstVictoriaMetrics(t *testing.T) {
	vm := seeded(t)
	ctx := context.Background()
	w45, _ := campaign.ParseWeek("2026-W45")
	loc := campaign.DefaultConfig().Location
	from, to := w45.Start(loc), w45.End(loc)
	now := at(2026, 11, 22, 12, 0)

	t.Run("tracker", func(t *testing.T) {
		var st campaign.Stats
		rows, err := source(t, vm.URL).Tracker(ctx, campaign.Filter{}, nil, from, to, &st)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ExpectedTracker(), rows, timeEq, approx); d != "" {
			t.Errorf("tracker (-want +got):\n%s", d)
		}
		t.Logf("%d queries:\n%s", len(st.Queries), st.Executed())
	})
	t.Run("tracker state filter", func(t *testing.T) {
		rows, err := source(t, vm.URL).Tracker(ctx, campaign.Filter{}, []string{"relapsed"}, from, to, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ips []string
		for _, r := range rows {
			ips = append(ips, r.IP)
		}
		if d := cmp.Diff([]string{"10.2.0.2", "10.4.0.1"}, ips); d != "" {
			t.Error(d)
		}
	})
	t.Run("weekly review", func(t *testing.T) {
		rows, err := source(t, vm.URL).WeeklyReview(ctx, campaign.Filter{}, w45, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ExpectedReview(), rows, approx); d != "" {
			t.Errorf("review (-want +got):\n%s", d)
		}
	})
	t.Run("scoped", func(t *testing.T) {
		s := source(t, vm.URL, "u-a", "u-d")
		tr, err := s.Tracker(ctx, campaign.Filter{}, nil, from, to, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []campaign.TrackerRow{}
		for _, r := range ExpectedTracker() {
			if r.Unit == "u-a" || r.Unit == "u-d" {
				want = append(want, r)
			}
		}
		if d := cmp.Diff(want, tr, timeEq, approx); d != "" {
			t.Errorf("scoped tracker (-want +got):\n%s", d)
		}
		// asking for a unit outside the scope yields nothing
		tr, err = s.Tracker(ctx, campaign.Filter{Units: []string{"u-x"}}, nil, from, to, nil)
		if err != nil || len(tr) != 0 {
			t.Errorf("unit outside scope: rows %v err %v", tr, err)
		}
		rv, err := s.WeeklyReview(ctx, campaign.Filter{Sectors: []string{"school", "government"}}, w45, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rv) != 2 || rv[0].Unit != "u-a" || rv[1].Unit != campaign.TotalUnit || rv[1].DistinctIPs != 2 {
			t.Errorf("scoped review by sector: %+v", rv)
		}
	})
	t.Run("pools", func(t *testing.T) {
		rows, err := source(t, vm.URL).Pools(ctx, campaign.Filter{}, from, to, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].IPs != 1 || rows[1].IPs != 1 {
			t.Fatalf("pools: %+v", rows)
		}
		got := map[string]campaign.PoolRow{rows[0].Pool: rows[0], rows[1].Pool: rows[1]}
		if r := got["xmr.pool.example:3333"]; r.Coin != "XMR" || !r.FirstSeen.Equal(at(2026, 11, 3, 10, 10)) {
			t.Errorf("xmr pool: %+v", r)
		}
		if r := got["secret.pool.example:443"]; r.Coin != "ETC" || !r.FirstSeen.Equal(at(2026, 11, 1, 8, 10)) {
			t.Errorf("secret pool: %+v", r)
		}
	})
	t.Run("situation", func(t *testing.T) {
		ser, err := source(t, vm.URL).Situation(ctx, campaign.Filter{}, "district", at(2026, 11, 5, 0, 0), at(2026, 11, 5, 12, 0), time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		// in (10:00, 11:00] of 5 Nov: 10.1.0.2 (d-east; 10.1.0.1 stopped at 09:10); 10.4.0.1 (d-west); 10.9.0.1 (d-secret)
		got := map[string]float64{}
		for _, s := range ser {
			for i, ts := range s.Times {
				if ts.Equal(at(2026, 11, 5, 11, 0)) {
					got[s.Group] = s.Values[i]
				}
			}
		}
		if d := cmp.Diff(map[string]float64{"d-east": 1, "d-west": 1, "d-secret": 1}, got); d != "" {
			t.Error(d)
		}
	})
	t.Run("situation counts zero where units reported and none mined, nothing where none reported", func(t *testing.T) {
		// January 2026: the seeded units report, no host mines. After the
		// seed's end (12 Nov 00:00) nothing reports at all.
		for _, c := range []struct {
			from, to time.Time
			want     []float64
		}{
			{at(2026, 1, 15, 0, 0), at(2026, 1, 15, 3, 0), []float64{0, 0, 0, 0}},
			{at(2026, 11, 12, 1, 0), at(2026, 11, 12, 3, 0), nil},
		} {
			ser, err := source(t, vm.URL).Situation(ctx, campaign.Filter{}, "total", c.from, c.to, time.Hour, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ser) != 1 || ser[0].Group != campaign.TotalUnit {
				t.Fatalf("%s: series %+v, want the total only", c.from, ser)
			}
			if d := cmp.Diff(c.want, ser[0].Values); d != "" {
				t.Errorf("%s – %s: total (-want +got)\n%s", c.from, c.to, d)
			}
		}
	})
}

func newAPI(tb testing.TB, url string) v1.API {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		tb.Fatal(err)
	}
	return v1.NewAPI(c)
}

// TestUpwardReportOfNewPools: the pools contacted in 2026-W45 that a bureau
// list lacks, from the seeded campaign (a real VictoriaMetrics).
func TestUpwardReportOfNewPools(t *testing.T) {
	vm := seeded(t)
	ctx := context.Background()
	w45, _ := campaign.ParseWeek("2026-W45")
	loc := campaign.DefaultConfig().Location
	from, to := w45.Start(loc), w45.End(loc)
	list, err := intel.Parse("bureau.txt", []byte("# 局矿池名单\nxmr.pool.example,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	bureau := campaign.NewBureauList(list)
	for pool, want := range map[string]bool{"xmr.pool.example:3333": true, "XMR.pool.example:443": true, "secret.pool.example:443": false} {
		if bureau.Has(pool) != want {
			t.Errorf("bureau list has %s: %v, want %v", pool, !want, want)
		}
	}
	rows, err := source(t, vm.URL).NewPools(ctx, campaign.Filter{}, bureau, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 10.9.0.1 (u-x) contacts secret.pool.example:443 every 15 min from 1 Nov 08:10,
	// the counter +1 each time: 4 × 24 × 7 = 672 in the week, last sample 8 Nov 23:55.
	want := []campaign.NewPool{{Pool: "secret.pool.example:443", Domain: "secret.pool.example", Coin: "ETC", FoundBy: campaign.FoundByIntel,
		FirstSeen: at(2026, 11, 1, 8, 10), LastSeen: at(2026, 11, 8, 23, 55), Units: []string{"u-x"}, Hosts: []string{"10.9.0.1 (u-x)"},
		Contacts: 672, FlaggedHosts: 1, MaxScore: 99}}
	if d := cmp.Diff(want, rows, timeEq, approx); d != "" {
		t.Errorf("new pools (-want +got):\n%s", d)
	}
	// a unit-scoped datasource reports only its units' pools
	rows, err = source(t, vm.URL, "u-a").NewPools(ctx, campaign.Filter{}, campaign.NewBureauList(), from, to, nil)
	if err != nil || len(rows) != 1 || rows[0].Pool != "xmr.pool.example:3333" || rows[0].Hosts[0] != "10.1.0.1 (u-a)" {
		t.Errorf("scoped, empty bureau list: %v %+v", err, rows)
	}
	var b bytes.Buffer
	if err := campaign.Render(&b, campaign.NewPoolTable(want), "csv", loc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "\ufeff矿池地址 endpoint,域名 domain,币种 coin,") || !strings.Contains(b.String(), "secret.pool.example:443,secret.pool.example,ETC,情报 intel (其他名单 another list),2026-11-01 08:10") {
		t.Errorf("CSV:\n%s", b.String())
	}
}
