package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// TestUpwardReportOfConfirmedPools: the pools the active prober confirmed
// that the bureau's list lacks are reported (a real VictoriaMetrics seeded
// with the campaign and the prober's confirmations), with the hosts that
// contacted them, how and when they were confirmed; one the bureau lists by
// its domain is not, nor one confirmed before the week that nobody
// contacted in it.
func TestUpwardReportOfConfirmedPools(t *testing.T) {
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Import(t, vmtest.ConfirmedPools())
	vm.Flush(t)
	ctx := context.Background()
	w45, _ := campaign.ParseWeek("2026-W45")
	loc := campaign.DefaultConfig().Location
	from, to := w45.Start(loc), w45.End(loc)
	list, err := intel.Parse("bureau.txt", []byte("xmr.pool.example,XMR\n"))
	if err != nil {
		t.Fatal(err)
	}
	bureau := campaign.NewBureauList(list)
	rows, err := source(t, vm.URL).NewPools(ctx, campaign.Filter{}, bureau, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []campaign.NewPool{
		{Pool: "secret.pool.example:443", Domain: "secret.pool.example", Coin: "ETC", FoundBy: campaign.FoundByIntel,
			FirstSeen: at(2026, 11, 1, 8, 10), LastSeen: at(2026, 11, 8, 23, 55), Units: []string{"u-x"}, Hosts: []string{"10.9.0.1 (u-x)"},
			Contacts: 672, FlaggedHosts: 1, MaxScore: 99},
		// first seen when confirmed (10:00), before the first contact (10:05)
		{Pool: "203.0.113.50:14444", Coin: "XMR", FoundBy: campaign.FoundByConfirmed,
			FirstSeen: at(2026, 11, 3, 10, 0), LastSeen: at(2026, 11, 4, 9, 50), Units: []string{"u-b"}, Hosts: []string{"10.2.0.9 (u-b)"},
			Contacts: 192, FlaggedHosts: 1, MaxScore: 75, Signals: []string{"pool_contact", "stratum_profile"},
			Protocol: "stratum", Confirmed: at(2026, 11, 3, 10, 0)},
		// confirmed twice (with SNI, later without): the first confirmation and its domain
		{Pool: "198.51.100.77:443", Domain: "gulf.pool.example", Coin: "unknown", FoundBy: campaign.FoundByConfirmed,
			FirstSeen: at(2026, 11, 5, 14, 0), LastSeen: at(2026, 11, 5, 19, 50), Units: []string{"u-a"}, Hosts: []string{"10.1.0.8 (u-a)"},
			Contacts: 24, MaxScore: 40, Protocol: "stratum", TLS: true, Confirmed: at(2026, 11, 5, 14, 0)},
		// confirmed in the week, contacted by nobody since: reported to a view of all units
		{Pool: "203.0.113.99:3333", FoundBy: campaign.FoundByConfirmed, FirstSeen: at(2026, 11, 7, 9, 0), LastSeen: at(2026, 11, 7, 9, 0),
			Protocol: "cryptonote", Confirmed: at(2026, 11, 7, 9, 0)},
	}
	if d := cmp.Diff(want, rows, timeEq, approx); d != "" {
		t.Errorf("new pools (-want +got):\n%s", d)
	}

	// A view of u-a: its own hosts' pools only (the uncontacted confirmation names no unit).
	rows, err = source(t, vm.URL, "u-a").NewPools(ctx, campaign.Filter{}, bureau, from, to, nil)
	if err != nil || len(rows) != 1 || rows[0].Pool != "198.51.100.77:443" {
		t.Errorf("scoped to u-a: %v %+v", err, rows)
	}

	var b bytes.Buffer
	if err := campaign.Render(&b, campaign.NewPoolTable(want), "csv", loc); err != nil {
		t.Fatal(err)
	}
	csv := b.String()
	for _, s := range []string{
		"\ufeff矿池地址 endpoint,域名 domain,币种 coin,发现方式 found by,首次发现 first seen,最近发现 last seen,涉及单位 units,涉及主机 hosts,",
		"198.51.100.77:443,gulf.pool.example,unknown,已确认 confirmed (主动探测 probe),2026-11-05 14:00,2026-11-05 19:50,u-a,10.1.0.8 (u-a),24,0,40,",
		"主动探测确认 probe confirmed stratum over TLS，首次确认 first confirmed 2026-11-05 14:00；连接 24 次 contacts",
		"secret.pool.example:443,secret.pool.example,ETC,情报 intel (其他名单 another list),2026-11-01 08:10,",
	} {
		if !strings.Contains(csv, s) {
			t.Errorf("CSV lacks %q:\n%s", s, csv)
		}
	}
}

// TestUpwardReportOfPoolsFoundByBehaviour: a suspect's Stratum-like session
// to an endpoint no list has and no probe confirmed is reported as found by
// behaviour, with its hosts and when they were seen there; an endpoint the
// bureau lists, or the prober confirmed, is not reported that way.
func TestUpwardReportOfPoolsFoundByBehaviour(t *testing.T) {
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	var s vmtest.Series
	poolLike := func(ip, unit, ep string, from, to time.Time) {
		s.Every(names.HostPoolLike, 1, from, to, 15*time.Minute, "ip", ip, "unit", unit, "endpoint", ep)
		s.Every(names.HostSuspect, 1, from, to, 15*time.Minute, "ip", ip, "unit", unit)
		s.Every(names.HostScore, 35, from, to, 15*time.Minute, "ip", ip, "unit", unit)
		s.Every(names.HostSignalPoints, 35, from, to, 15*time.Minute, "ip", ip, "unit", unit, "signal", names.StratumProfile)
	}
	poolLike("10.1.0.21", "u-a", "203.0.113.120:8080", vmtest.At(2026, 11, 4, 9, 0), vmtest.At(2026, 11, 4, 12, 0))
	poolLike("10.2.0.21", "u-b", "203.0.113.120:8080", vmtest.At(2026, 11, 5, 9, 0), vmtest.At(2026, 11, 5, 10, 0))
	poolLike("10.1.0.22", "u-a", "192.0.2.66:3333", vmtest.At(2026, 11, 4, 9, 0), vmtest.At(2026, 11, 4, 10, 0)) // the bureau lists it (by address below)
	poolLike("10.1.0.23", "u-a", "203.0.113.99:3333", vmtest.At(2026, 11, 7, 8, 0), vmtest.At(2026, 11, 7, 10, 0))
	s.Every(names.PoolConfirmed, float64(vmtest.At(2026, 11, 7, 9, 0).Unix()), vmtest.At(2026, 11, 7, 9, 0), vmtest.At(2026, 11, 9, 0, 0), 5*time.Minute,
		"endpoint", "203.0.113.99:3333", "domain", "", "protocol", "cryptonote", "tls", "false")
	vm.Import(t, s.Lines)
	vm.Flush(t)
	w45, _ := campaign.ParseWeek("2026-W45")
	loc := campaign.DefaultConfig().Location
	list, err := intel.Parse("bureau.txt", []byte("192.0.2.66:3333,XMR\nsecret.pool.example,ETC\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := source(t, vm.URL).NewPools(context.Background(), campaign.Filter{}, campaign.NewBureauList(list), w45.Start(loc), w45.End(loc), nil)
	if err != nil {
		t.Fatal(err)
	}
	var behaviour []campaign.NewPool
	for _, r := range rows {
		if r.FoundBy == campaign.FoundByBehaviour {
			behaviour = append(behaviour, r)
		}
		if r.Pool == "203.0.113.99:3333" && r.FoundBy != campaign.FoundByConfirmed {
			t.Errorf("the confirmed endpoint is reported as %s", r.FoundBy)
		}
	}
	want := []campaign.NewPool{{Pool: "203.0.113.120:8080", FoundBy: campaign.FoundByBehaviour,
		FirstSeen: at(2026, 11, 4, 9, 0), LastSeen: at(2026, 11, 5, 9, 45), Units: []string{"u-a", "u-b"},
		Hosts: []string{"10.1.0.21 (u-a)", "10.2.0.21 (u-b)"}, MaxScore: 35, Signals: []string{names.StratumProfile}}}
	if d := cmp.Diff(want, behaviour, timeEq, approx); d != "" {
		t.Errorf("pools found by behaviour (-want +got):\n%s", d)
	}
	if tb := campaign.NewPoolTable(behaviour); !strings.Contains(fmt.Sprint(tb), "行为发现") {
		t.Errorf("the table does not say 行为发现: %v", tb)
	}
}
