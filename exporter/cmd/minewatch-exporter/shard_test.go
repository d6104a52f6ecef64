package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// Two units; no1's range is split between the two exporters, so one unit's
// miners are scored by both of them, each for its own half.
const shardLedger = `units:
  - id: no1
    name: 第一中学
    sector: school
    lead: {name: 张老师, email: lead@no1.example.edu.cn}
    cidrs: [10.20.0.0/16]
  - id: gov
    name: 政务服务中心
    sector: government
    lead: {name: 王主任, email: it@gov.example.cn}
    cidrs: [10.30.0.0/16]
`

// shardConfig: HTTP port, NetFlow port (startExporter's %d), then the
// VictoriaMetrics URL, the push.instance line and the shard section.
const shardConfig = `listen:
  http: "127.0.0.1:%%d"
  netflow: "127.0.0.1:%%d"
  sflow: ""
ledger:
  files: [ledger.yaml]
intel:
  files: [pools.txt]
push:
  url: %s/api/v1/import/prometheus
  interval: 1s
%s
%s
`

// Several exporters past one machine (docs/scaling.md): two minewatch-exporter
// processes with disjoint shards get the same NetFlow datagrams (a fan-out)
// and push to one real VictoriaMetrics. Each scores only the hosts it owns
// and counts the others; VictoriaMetrics holds every miner's series from
// exactly one instance; the plugin's tracker, weekly review and pool table
// (the functions the datasource calls) see the union, each miner once with
// its unit, and no1's two miners, scored by different exporters, add up.
func TestTwoShardsOneVictoriaMetrics(t *testing.T) {
	vm := vmtest.Start(t)
	type miner struct{ ip, unit, owner string }
	miners := []miner{
		{"10.20.3.21", "no1", "a"},  // no1's lower half: exporter a's prefix
		{"10.20.200.5", "no1", "b"}, // no1's upper half: exporter b's prefix
		{"10.30.1.9", "gov", "a"},   // unit gov: exporter a's by unit
	}
	shards := map[string]string{
		"a": "shard:\n  units: [gov]\n  prefixes: [10.20.0.0/17]",
		"b": "shard:\n  prefixes: [10.20.128.0/17]",
	}
	// Exporter a takes the default instance (host name:HTTP port), b names its own.
	instances := map[string]string{"a": "", "b": "  instance: egress-b"}
	exp := map[string]*exporter{}
	for _, name := range []string{"a", "b"} {
		dir := filepath.Join(t.TempDir(), name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(shardLedger), 0o644)
		os.WriteFile(filepath.Join(dir, "pools.txt"), []byte(listedPool+":3333,XMR,bureau-2026-11\n"), 0o644)
		exp[name] = startExporter(t, dir, fmt.Sprintf(shardConfig, vm.URL, instances[name], shards[name]))
	}
	host, _ := os.Hostname()
	_, portA, _ := net.SplitHostPort(strings.TrimPrefix(exp["a"].base, "http://"))
	wantInstance := map[string]string{"a": net.JoinHostPort(host, portA), "b": "egress-b"}
	for name, e := range exp {
		e.waitLog("instance="+wantInstance[name], time.Second)
	}

	// The fan-out: every datagram goes to both exporters. The last minutes
	// go in a second round, after the first pushes, so that the pool
	// counters rise inside VictoriaMetrics as they do on a live network
	// (the tables count increase(), which a counter's first sample is not).
	rng := rand.New(rand.NewPCG(12, 5))
	now := time.Now()
	split := now.Add(-3 * time.Minute).UnixMilli()
	var early, late []flow.Record
	for i, m := range miners {
		for _, r := range stratumRecords(rng, m.ip, listedPool, 3333, 49152+uint16(i), now.Add(-20*time.Minute), now) {
			if r.End < split {
				early = append(early, r)
			} else {
				late = append(late, r)
			}
		}
	}
	fanOut := func(recs []flow.Record) {
		for _, name := range []string{"a", "b"} {
			sendNetFlow(t, exp[name].nfPort, slices.Clone(recs))
		}
	}
	fanOut(early)

	// Each exporter flags its own miners and does not track the others'.
	waitFor(t, "each miner flagged by its owner", 60*time.Second, func() bool {
		for _, m := range miners {
			if r, ok := exp[m.owner].report(m.ip); !ok || !r.Mining {
				return false
			}
		}
		return true
	})
	for _, m := range miners {
		for name, e := range exp {
			if _, tracked := e.report(m.ip); tracked != (name == m.owner) {
				t.Errorf("exporter %s tracks %s: %v, want %v (owner %s)", name, m.ip, tracked, name == m.owner, m.owner)
			}
		}
	}
	for name, e := range exp {
		if v := e.metricValue("minewatch_flow_records_outside_shard_total"); v <= 0 {
			t.Errorf("exporter %s: minewatch_flow_records_outside_shard_total = %v, want the other exporter's records counted", name, v)
		}
	}

	// VictoriaMetrics: every miner's series come from one instance, its owner's.
	var series map[string][]string // ip → instances of minewatch_host_mining == 1
	waitFor(t, "all miners in VictoriaMetrics", 60*time.Second, func() bool {
		http.Get(vm.URL + "/internal/force_flush")
		series = map[string][]string{}
		for _, s := range vm.Query(t, `last_over_time(minewatch_host_mining[10m]) == 1`) {
			series[s.Metric["ip"]] = append(series[s.Metric["ip"]], s.Metric["instance"])
		}
		return len(series) == len(miners)
	})
	fanOut(late)
	waitFor(t, "pool counters rising in VictoriaMetrics", 60*time.Second, func() bool {
		http.Get(vm.URL + "/internal/force_flush")
		return len(vm.Query(t, `increase(minewatch_pool_contacts_total[10m]) > 0`)) == len(miners)
	})
	for _, m := range miners {
		if got := series[m.ip]; !slices.Equal(got, []string{wantInstance[m.owner]}) {
			t.Errorf("%s: mining series from instances %v, want only %q", m.ip, got, wantInstance[m.owner])
		}
		if n := len(vm.Query(t, fmt.Sprintf(`last_over_time({__name__=~"minewatch_host_(score|mining|suspect|machines)",ip=%q}[10m])`, m.ip))); n != 4 {
			t.Errorf("%s: %d per-host series, want 4 (score, mining, suspect, machines of one exporter)", m.ip, n)
		}
	}

	// The plugin, as the datasource reads it.
	src, err := campaign.NewSource(campaign.SourceOptions{URL: vm.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	to := time.Now()
	rows, err := src.Tracker(ctx, campaign.Filter{}, nil, to.Add(-time.Hour), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		if _, dup := got[r.IP]; dup {
			t.Errorf("tracker lists %s twice", r.IP)
		}
		got[r.IP] = r.Unit
		if !r.MiningNow || !strings.Contains(r.Pools, listedPool+":3333") {
			t.Errorf("tracker row %s: mining now %v, pools %q; want mining with the listed pool", r.IP, r.MiningNow, r.Pools)
		}
	}
	want := map[string]string{}
	for _, m := range miners {
		want[m.ip] = m.unit
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tracker IP → unit = %v, want %v", got, want)
	}

	review, err := src.WeeklyReview(ctx, campaign.Filter{}, campaign.WeekOf(to, vmtest.CST), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	perUnit := map[string][2]int{}
	for _, r := range review {
		perUnit[r.Unit] = [2]int{r.DistinctIPs, r.MiningAtEnd}
	}
	if wantUnits := map[string][2]int{"no1": {2, 2}, "gov": {1, 1}, campaign.TotalUnit: {3, 3}}; fmt.Sprint(perUnit) != fmt.Sprint(wantUnits) {
		t.Errorf("weekly review (distinct IPs, mining at end) per unit = %v, want %v", perUnit, wantUnits)
	}

	pools, err := src.Pools(ctx, campaign.Filter{}, to.Add(-time.Hour), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pools) != 1 || pools[0].Pool != listedPool+":3333" || pools[0].IPs != len(miners) {
		t.Errorf("pools = %+v, want %s:3333 contacted by %d IPs", pools, listedPool, len(miners))
	}
}
