package campaign

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cst = Location()

func h(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, cst) }

func testConfig() Config { return DefaultConfig() }

func TestRunsJoinConsecutiveBuckets(t *testing.T) {
	runs := Runs([]time.Time{h(3, 12), h(3, 11), h(3, 13), h(3, 16), h(3, 16)}, time.Hour)
	want := []Interval{{h(3, 10), h(3, 13)}, {h(3, 15), h(3, 16)}}
	if len(runs) != 2 || runs[0] != want[0] || runs[1] != want[1] {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	if Runs(nil, time.Hour) != nil {
		t.Fatal("no buckets must give no runs")
	}
}

func TestEpisodesJoinGapsShorterThanQuiet(t *testing.T) {
	q := 7 * 24 * time.Hour
	runs := []Interval{
		{h(1, 0), h(1, 5)},
		{h(7, 0), h(7, 1)},   // gap 5d19h < 7d: joins
		{h(14, 1), h(14, 2)}, // gap exactly 7d: a new episode
		{h(30, 0), h(30, 1)}, // gap > 7d: a new episode
	}
	eps := Episodes(runs, q)
	want := []Interval{{h(1, 0), h(7, 1)}, {h(14, 1), h(14, 2)}, {h(30, 0), h(30, 1)}}
	if len(eps) != len(want) {
		t.Fatalf("episodes %v, want %v", eps, want)
	}
	for i := range want {
		if eps[i] != want[i] {
			t.Fatalf("episode %d = %v, want %v", i, eps[i], want[i])
		}
	}
}

func TestStateAt(t *testing.T) {
	cfg := testConfig()
	first := []Interval{{h(1, 0), h(2, 0)}}
	second := []Interval{{h(1, 0), h(2, 0)}, {h(12, 0), h(13, 0)}}
	cases := []struct {
		name  string
		eps   []Interval
		at    time.Time
		want  State
		now   bool
		found bool
	}{
		{"never flagged", nil, h(5, 0), "", false, false},
		{"before the first episode", first, h(1, 0), "", false, false},
		{"flagged in the latest bucket", first, h(2, 0), StateMining, true, true},
		{"inside the episode", first, h(1, 12), StateMining, true, true},
		{"quiet period running", first, h(8, 23), StateQuiet, false, true},
		{"cleared exactly after the quiet period", first, h(9, 0), StateCleared, false, true},
		{"relapsed and mining", second, h(12, 5), StateRelapsed, true, true},
		{"relapsed, quiet again", second, h(15, 0), StateRelapsed, false, true},
		{"cleared after the relapse", second, h(20, 0), StateCleared, false, true},
	}
	for _, c := range cases {
		st, now, ok := StateAt(c.eps, c.at, cfg)
		if st != c.want || now != c.now || ok != c.found {
			t.Errorf("%s: got %q now=%v ok=%v, want %q now=%v ok=%v", c.name, st, now, ok, c.want, c.now, c.found)
		}
	}
}

func TestCaseDeadlinesAndOverdue(t *testing.T) {
	cfg := testConfig()
	eps := []Interval{{h(1, 10), h(2, 0)}, {h(20, 0), h(21, 0)}}
	d := func(stage string, at time.Time) Disposition { return Disposition{Stage: stage, At: at} }
	cases := []struct {
		name           string
		ep             int
		disps          []Disposition
		at             time.Time
		locate, report bool
		latest         string
	}{
		{"before any deadline", 0, nil, h(3, 9), false, false, ""},
		{"locate deadline (48 h) passed", 0, nil, h(3, 10), true, false, ""},
		{"both deadlines passed", 0, nil, h(4, 10), true, true, ""},
		{"located in time, report missing", 0, []Disposition{d("located", h(2, 0))}, h(4, 10), false, true, "located"},
		{"reported late still ends overdue", 0, []Disposition{d("reported", h(5, 0))}, h(5, 1), false, false, "reported"},
		{"closed satisfies both", 0, []Disposition{d("closed", h(1, 11))}, h(9, 0), false, false, "closed"},
		{"disposition before the episode does not count", 1, []Disposition{d("closed", h(1, 11))}, h(25, 0), true, true, ""},
		{"disposition of the next episode does not count", 0, []Disposition{d("reported", h(20, 5))}, h(25, 0), true, true, ""},
		{"disposition after the judgement moment does not count", 0, []Disposition{d("reported", h(6, 0))}, h(5, 0), true, true, ""},
	}
	for _, c := range cases {
		got := CaseAt(eps, c.ep, c.disps, c.at, cfg)
		stage := ""
		if got.Latest != nil {
			stage = got.Latest.Stage
		}
		if got.LocateOverdue != c.locate || got.ReportOverdue != c.report || stage != c.latest {
			t.Errorf("%s: locate=%v report=%v latest=%q, want %v %v %q", c.name, got.LocateOverdue, got.ReportOverdue, stage, c.locate, c.report, c.latest)
		}
		if !got.LocateDeadline.Equal(eps[c.ep].Start.Add(48*time.Hour)) || !got.ReportDeadline.Equal(eps[c.ep].Start.Add(72*time.Hour)) {
			t.Errorf("%s: deadlines %v %v", c.name, got.LocateDeadline, got.ReportDeadline)
		}
	}
}

func TestISOWeeksInZone(t *testing.T) {
	w, err := ParseWeek("2026-W47")
	if err != nil {
		t.Fatal(err)
	}
	if s := w.Start(cst); !s.Equal(time.Date(2026, 11, 16, 0, 0, 0, 0, cst)) {
		t.Errorf("start %v", s)
	}
	if e := w.End(cst); !e.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, cst)) {
		t.Errorf("end %v", e)
	}
	// Sunday 22 Nov 20:00 UTC is Monday 23 Nov 04:00 in Shanghai: week 48 there.
	if got := WeekOf(time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC), cst); got.String() != "2026-W48" {
		t.Errorf("week of Sunday 20:00 UTC in CST = %s", got)
	}
	if got := WeekOf(time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC), time.UTC); got.String() != "2026-W47" {
		t.Errorf("week of Sunday 20:00 UTC in UTC = %s", got)
	}
	// 1 Jan 2027 is a Friday: ISO week 53 of 2026.
	if got := WeekOf(time.Date(2027, 1, 1, 12, 0, 0, 0, cst), cst); got.String() != "2026-W53" {
		t.Errorf("1 Jan 2027 = %s", got)
	}
	if p := (Week{2026, 1}).Prev(cst); p.String() != "2025-W52" {
		t.Errorf("week before 2026-W01 = %s", p)
	}
	for _, bad := range []string{"2026-W54", "2025-W53", "2026-47", "W47", "2026-W00", `2026-W47"} or vector(1)`} {
		if _, err := ParseWeek(bad); err == nil {
			t.Errorf("ParseWeek(%q) accepted", bad)
		}
	}
}

func TestWeeklyReviewDefinitions(t *testing.T) {
	cfg := testConfig()
	w, _ := ParseWeek("2026-W46") // 9–16 Nov
	hosts := []HostHistory{
		// new in the week, mining at its end, no disposition: overdue
		{HostKey: HostKey{"10.0.0.1", "a"}, Runs: []Interval{{h(10, 0), h(16, 0)}}},
		// cleared in the week: last flag 4 Nov 12:00 + 7 d = 11 Nov 12:00
		{HostKey: HostKey{"10.0.0.2", "a"}, Runs: []Interval{{h(3, 0), h(4, 12)}},
			Dispositions: []Disposition{{Stage: "closed", At: h(3, 1)}}},
		// relapsed in the week after a clearing in October
		{HostKey: HostKey{"10.0.0.3", "b"}, Runs: []Interval{
			{time.Date(2026, 10, 1, 0, 0, 0, 0, cst), time.Date(2026, 10, 2, 0, 0, 0, 0, cst)},
			{h(12, 0), h(12, 3)}},
			Dispositions: []Disposition{{Stage: "reported", At: h(12, 5)}}},
		// relapsed twice this year: repeated relapse
		{HostKey: HostKey{"10.0.0.4", "b"}, Runs: []Interval{
			{time.Date(2026, 2, 1, 0, 0, 0, 0, cst), time.Date(2026, 2, 1, 5, 0, 0, 0, cst)},
			{time.Date(2026, 4, 1, 0, 0, 0, 0, cst), time.Date(2026, 4, 1, 5, 0, 0, 0, cst)},
			{time.Date(2026, 6, 1, 0, 0, 0, 0, cst), time.Date(2026, 6, 1, 5, 0, 0, 0, cst)}}},
		// flagged only in the previous week; cleared 13 Nov 02:00, inside the week
		{HostKey: HostKey{"10.0.0.5", "c"}, Runs: []Interval{{h(6, 0), h(6, 2)}},
			Dispositions: []Disposition{{Stage: "reported", At: h(6, 1)}}},
	}
	rows := WeeklyReview(cfg, ReviewInput{Week: w, Now: h(30, 0), Hosts: hosts, Units: map[string]UnitMeta{"a": {Name: "A"}}})
	// Energy (docs/campaign.md, no details: one CPU PC at 120 W, 0.6 + 0.5 元/kWh,
	// 0.5306 kg/kWh): a 10 Nov 00:00 – 16 Nov 00:00 = 144 h → 17.28 kWh, 19.008 元,
	// 9.168768 kg; b 12 Nov 00:00–03:00 = 3 h → 0.36 kWh, 0.396 元, 0.191016 kg.
	want := []ReviewRow{
		{Unit: "a", UnitName: "A", MiningAtEnd: 1, New: 1, Cleared: 1, DistinctIPs: 1, PrevDistinctIPs: 1, Overdue: 1, Episodes365d: 2,
			Energy: Energy{144, 17.28, 19.008, 9.168768}, Units: 1,
			Devices: DeviceCounts{MiningAtEnd: 1, New: 1, Cleared: 1, Distinct: 1, PrevDistinct: 1, Overdue: 1}},
		{Unit: "b", Relapsed: 1, DistinctIPs: 1, Change: 1, Episodes365d: 5, Relapses365d: 3, RepeatedRelapse: true,
			Energy: Energy{3, 0.36, 0.396, 0.191016}, Units: 1,
			Devices: DeviceCounts{Relapsed: 1, Distinct: 1, Change: 1}},
		{Unit: "c", Cleared: 1, PrevDistinctIPs: 1, Change: -1, Episodes365d: 1, Units: 1,
			Devices: DeviceCounts{Cleared: 1, PrevDistinct: 1, Change: -1}},
		{Unit: TotalUnit, UnitName: "合计", MiningAtEnd: 1, New: 1, Relapsed: 1, Cleared: 2, DistinctIPs: 2, PrevDistinctIPs: 2, Overdue: 1, Episodes365d: 8, Relapses365d: 3, RepeatedRelapse: true,
			Energy: Energy{147, 17.64, 19.404, 9.359784}, Units: 3,
			Devices: DeviceCounts{MiningAtEnd: 1, New: 1, Relapsed: 1, Cleared: 2, Distinct: 2, PrevDistinct: 2, Overdue: 1}},
	}
	if d := cmp.Diff(want, rows, cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Errorf("review (-want +got):\n%s", d)
	}
	// rolled up: a and b under district d1, c under d2, d1 and d2 under bureau top
	ledger := map[string]UnitMeta{"a": {ID: "a", District: "d1"}, "b": {ID: "b", District: "d1"}, "c": {ID: "c", District: "d2"},
		"d1": {ID: "d1", Name: "东区", District: "top"}, "d2": {ID: "d2", District: "top"}, "top": {ID: "top", Name: "市局"}}
	for i := range rows[:3] {
		rows[i].District = ledger[rows[i].Unit].District
	}
	dist := RollUp(rows, ledger, LevelDistrict)
	if len(dist) != 3 || dist[0].Unit != "d1" || dist[0].UnitName != "东区" || dist[0].DistinctIPs != 2 || dist[0].Relapsed != 1 ||
		dist[0].Units != 2 || !dist[0].RepeatedRelapse || dist[1].Unit != "d2" || dist[1].Cleared != 1 || dist[2] != rows[3] {
		t.Errorf("district roll-up: %+v", dist)
	}
	bur := RollUp(rows, ledger, LevelBureau)
	if len(bur) != 2 || bur[0].Unit != "top" || bur[0].UnitName != "市局" || bur[0].Units != 3 || bur[0].Cleared != 2 ||
		math.Abs(bur[0].KWh-17.64) > 1e-9 {
		t.Errorf("bureau roll-up: %+v", bur)
	}
	if !Within(ledger, "a", "top") || !Within(ledger, "a", "d1") || Within(ledger, "c", "d1") || !Within(ledger, "c", "c") {
		t.Error("Within does not follow the parent chain")
	}
	if r := RepeatOffenders(rows); len(r) != 1 || r[0].Unit != "b" {
		t.Errorf("repeat offenders: %+v", r)
	}
	// a week still running is judged now: 10.0.0.1 is mining at 12 Nov 00:00
	running := WeeklyReview(cfg, ReviewInput{Week: w, Now: h(12, 0), Hosts: hosts[:2]})
	if running[0].MiningAtEnd != 1 || running[0].Cleared != 1 {
		t.Errorf("running week: %+v", running[0])
	}
	early := WeeklyReview(cfg, ReviewInput{Week: w, Now: h(11, 0), Hosts: hosts[1:2]})
	if len(early) != 2 || early[0].Cleared != 0 {
		t.Errorf("clearing after now must not count: %+v", early)
	}
}

func TestTrackerFiltersAndHidesPersons(t *testing.T) {
	cfg := testConfig()
	hosts := []HostHistory{
		{HostKey: HostKey{"10.0.0.9", "a"}, Runs: []Interval{{h(10, 0), h(11, 0)}}},
		{HostKey: HostKey{"10.0.0.10", "a"}, Runs: []Interval{{h(1, 0), h(1, 1)}}}, // before the range
		{HostKey: HostKey{"10.0.0.2", "a"}, Runs: []Interval{{h(10, 0), h(12, 0)}}},
	}
	details := map[HostKey]HostDetail{{"10.0.0.9", "a"}: {Owner: "张三", Pools: []string{"p1", "p2"}}}
	rows := Tracker(cfg, TrackerInput{From: h(9, 0), To: h(12, 0), Hosts: hosts, Details: details, HidePersons: true})
	if len(rows) != 2 || rows[0].IP != "10.0.0.2" || rows[1].IP != "10.0.0.9" {
		t.Fatalf("rows %+v", rows)
	}
	if rows[1].Person != "" || rows[1].Pools != "p1, p2" {
		t.Errorf("row %+v", rows[1])
	}
	if rows[0].State != StateMining || rows[1].State != StateQuiet {
		t.Errorf("states %s %s", rows[0].State, rows[1].State)
	}
	only := Tracker(cfg, TrackerInput{From: h(9, 0), To: h(12, 0), Hosts: hosts, States: []string{"quiet"}})
	if len(only) != 1 || only[0].IP != "10.0.0.9" || only[0].Person != "" {
		t.Errorf("quiet only: %+v", only)
	}
	// data after To is not seen
	late := Tracker(cfg, TrackerInput{From: h(9, 0), To: h(10, 30), Hosts: hosts[2:]})
	if len(late) != 1 || !late[0].LastFlagged.Equal(h(10, 30)) {
		t.Errorf("clipped: %+v", late)
	}
}

func TestScope(t *testing.T) {
	if _, err := NewScope(nil, []string{`a"} or vector(1) or {x="`}); err == nil {
		t.Fatal("injection through a unit filter accepted")
	}
	s, err := NewScope([]string{"u-a", "u.b"}, []string{"u.b", "u-x"})
	if err != nil {
		t.Fatal(err)
	}
	if s.All || len(s.Units) != 1 || s.Matcher() != `unit=~"u\\.b"` {
		t.Errorf("scope %+v matcher %s", s, s.Matcher())
	}
	if s, _ := NewScope([]string{"u-a"}, []string{"u-x"}); !s.Empty() {
		t.Errorf("disjoint scope %+v", s)
	}
	if s, _ := NewScope([]string{"u-a"}, []string{""}); s.All || len(s.Units) != 1 || s.Units[0] != "u-a" {
		t.Errorf("empty filter value under a scope: %+v", s)
	}
	all, _ := NewScope(nil, nil)
	if !all.All || all.Selector("m") != "m" {
		t.Errorf("unscoped %+v", all)
	}
	got, err := ScopeExpr(`sum by (unit) (rate(minewatch_pool_contacts_total{unit="u-x"}[5m])) or minewatch_host_mining or max_over_time(minewatch_host_score[1h:5m])`, s)
	if err != nil {
		t.Fatal(err)
	}
	want := `sum by (unit) (rate(minewatch_pool_contacts_total{unit="u-x",unit=~"u\\.b"}[5m])) or minewatch_host_mining{unit=~"u\\.b"} or max_over_time(minewatch_host_score{unit=~"u\\.b"}[1h:5m])`
	if got != want {
		t.Errorf("ScopeExpr:\n got %s\nwant %s", got, want)
	}
	if _, err := ScopeExpr(`WITH (x = 1) x`, s); err == nil {
		t.Error("MetricsQL-only syntax accepted on a scoped datasource")
	}
}

func TestMergeRunsAcrossResolutions(t *testing.T) {
	day := Runs([]time.Time{h(2, 8), h(3, 8)}, 24*time.Hour) // day buckets (1 Nov 08:00, 3 Nov 08:00]
	hour := Runs([]time.Time{h(3, 9), h(3, 10), h(5, 1)}, time.Hour)
	got := MergeRuns(day, hour)
	want := []Interval{{h(1, 8), h(3, 10)}, {h(5, 0), h(5, 1)}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("merged %v, want %v", got, want)
	}
}

func TestKeepsMining(t *testing.T) {
	cfg := DefaultConfig()
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	iv := func(startH, endH int) Interval {
		return Interval{Start: t0.Add(time.Duration(startH) * time.Hour), End: t0.Add(time.Duration(endH) * time.Hour)}
	}
	for _, c := range []struct {
		name string
		eps  []Interval
		want CutOffRule
	}{
		{"short first episode", []Interval{iv(0, 10)}, ""},
		{"ends at the report deadline", []Interval{iv(0, 72)}, ""},
		{"flagged past the report deadline", []Interval{iv(0, 73)}, CutOffPersists},
		{"relapse, however short", []Interval{iv(0, 2), iv(24*8, 24*8+1)}, CutOffRelapse},
		{"new episode after more than the relapse window", []Interval{iv(0, 2), iv(24*400, 24*400+1)}, ""},
	} {
		if got := KeepsMining(c.eps, len(c.eps)-1, cfg); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if !strings.HasPrefix(CutOffLabel(CutOffRelapse), "清零后复发") {
		t.Error(CutOffLabel(CutOffRelapse))
	}
}

// TestEnergyOfTheDemoScenariosMiners: the demo's miners
// (exporter/scenarios/school-week.yaml), each flagged for the whole of its
// episodes, priced by hand from the defaults in docs/campaign.md (GPU rig
// 300 W, CPU PC 120 W, 0.6 + 0.5 元/kWh, 0.5306 kgCO₂/kWh).
func TestEnergyOfTheDemoScenariosMiners(t *testing.T) {
	e := DefaultEnergy()
	for _, c := range []struct {
		what            string
		kind            string
		coins           []string
		hours, machines float64
		class           PowerClass
		kwh, yuan, kg   float64
	}{
		// gpu-stratum to etc-listed (ETC), 30 h – 168 h: 138 h × 300 W = 41.4 kWh
		{"gpu-stratum ETC", "pc", []string{"ETC"}, 138, 1, PowerGPU, 41.4, 45.54, 21.96684},
		// xmrig to xmr-listed (XMR), 10 h – 168 h: 158 h × 120 W = 18.96 kWh
		{"xmrig XMR", "pc", []string{"XMR"}, 158, 1, PowerCPU, 18.96, 20.856, 10.060176},
		// xmrig behind NAT (nat: 4), 40 h – 168 h: 128 h × 4 × 120 W = 61.44 kWh
		{"xmrig NAT x4", "", []string{"XMR"}, 128, 4, PowerCPU, 61.44, 67.584, 32.600064},
		// trojan-idle, 0 h – 168 h, no machine estimate: counts as one
		{"trojan-idle", "pc", []string{"XMR"}, 168, 0, PowerCPU, 20.16, 22.176, 10.696896},
		// a research GPU workstation (asset kind) mining XMR is still a GPU machine
		{"gpu-workstation", "gpu-workstation", []string{"XMR"}, 10, 1, PowerGPU, 3, 3.3, 1.5918},
	} {
		cl := PowerClassOf(c.kind, c.coins)
		got := e.EnergyOf(c.hours, c.machines, cl)
		if cl != c.class || math.Abs(got.KWh-c.kwh) > 1e-9 || math.Abs(got.Yuan-c.yuan) > 1e-9 || math.Abs(got.KgCO2-c.kg) > 1e-9 {
			t.Errorf("%s: %s %+v, want %s %v kWh %v 元 %v kg", c.what, cl, got, c.class, c.kwh, c.yuan, c.kg)
		}
	}
	if err := (EnergyConfig{GPUWatts: 300}).Validate(); err == nil {
		t.Error("a zero CPU power was accepted")
	}
}
