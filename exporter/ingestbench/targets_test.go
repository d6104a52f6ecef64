package ingestbench

import (
	"strings"
	"testing"
)

func TestTargets(t *testing.T) {
	sums := []Summary{
		{Receiver: "minewatch-exporter", Protocol: "netflow_v9", Median: 3e6, PerCore: 3.1e6, CPU: 0.97},
		{Receiver: "nfcapd", Protocol: "netflow_v9", Median: 2.5e6},
		{Receiver: "pmacct", Protocol: "netflow_v9", Median: 3.5e6},
		{Receiver: "minewatch-exporter", Protocol: "sflow_v5", Median: 7e5, PerCore: 8e5},
		{Receiver: "goflow2", Protocol: "sflow_v5", Median: 0},
		{Receiver: "pmacct", Protocol: "sflow_v5", Median: 6e5, LowerBound: true},
	}
	scales := []*Scale{
		{ScaleCase: ScaleCase{Name: "10k hosts"}, HostsTracked: 10_000, BytesPerHost: 335, Suspects: 10, HostSeries: 50},
		{ScaleCase: ScaleCase{Name: "1 host × 10k endpoints"}, HostsTracked: 1, BytesPerHost: 12_000},
		{ScaleCase: ScaleCase{Name: "10k hosts × 50 sessions"}, HostsTracked: 10_000, BytesPerHost: 1053, Suspects: 10, HostSeries: 50},
	}
	got := map[string]bool{}
	for _, tg := range Targets(sums, scales) {
		got[tg.Name] = tg.Met
	}
	want := map[string]bool{
		"netflow_v9: minewatch above nfcapd":                                            true,
		"netflow_v9: minewatch above pmacct":                                            false,
		"netflow_v9: minewatch above 4000000 records/s per core":                        false,
		"sflow_v5: minewatch above goflow2":                                             true,  // goflow2 loss-free nowhere
		"sflow_v5: minewatch above pmacct":                                              false, // pmacct's figure only a lower bound
		"state of 10k hosts: at most 400 B per host":                                    true,
		"state of 10k hosts × 50 sessions: at most 400 B per host":                      false,
		"per-host series: at most 10 per host talking to the pool, none for the others": true,
	}
	for name, met := range want {
		if m, ok := got[name]; !ok || m != met {
			t.Errorf("%s: met %v (judged: %v), want %v", name, m, ok, met)
		}
	}
	if len(got) != len(want) { // the one-host case is not judged per host
		t.Errorf("judged %d targets, want %d: %v", len(got), len(want), got)
	}
	// series of hosts that never talked to the pool, or too many per host, break the rule
	for _, sc := range []Scale{{Suspects: 0, HostSeries: 50}, {Suspects: 10, HostSeries: 101}} {
		c := *scales[0]
		c.Suspects, c.HostSeries = sc.Suspects, sc.HostSeries
		for _, tg := range Targets(nil, []*Scale{&c, scales[2]}) {
			if strings.HasPrefix(tg.Name, "per-host series") && tg.Met {
				t.Errorf("%d per-host series for %d hosts to the pool judged met: %+v", sc.HostSeries, sc.Suspects, tg)
			}
		}
	}
}
