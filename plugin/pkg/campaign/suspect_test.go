package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// A suspect (behaviour only, not confirmed: issue 14) is not a mining IP.
// The exporter writes it as minewatch_host_suspect 1 with
// minewatch_host_mining 0 and a high score; over the seeded campaign with
// such a host added in unit u-a all week, every table is exactly what it is
// without it: the tracker, the weekly review, the flagged IPs and the
// situation count no suspect.
func TestSuspectsAreNotMiningIPs(t *testing.T) {
	vm := vmtest.Start(t)
	var sus vmtest.Series
	const ip, unit = "10.1.0.9", "u-a"
	from, to := at(2026, 10, 26, 0, 0), at(2026, 11, 9, 0, 0)
	sus.Every("minewatch_host_suspect", 1, from, to, 15*time.Minute, "ip", ip, "unit", unit)
	sus.Every("minewatch_host_mining", 0, from, to, 15*time.Minute, "ip", ip, "unit", unit, "class", "unknown")
	sus.Every("minewatch_host_score", 80, from, to, 15*time.Minute, "ip", ip, "unit", unit)
	sus.Every("minewatch_host_signal_points", 35, from, to, 15*time.Minute, "ip", ip, "unit", unit, "signal", "stratum_profile")
	sus.Every("minewatch_host_machines", 0, from, to, 15*time.Minute, "ip", ip, "unit", unit)
	vm.Import(t, append(vmtest.Campaign(), sus.Lines...))
	vm.Flush(t)

	ctx := context.Background()
	w45, _ := campaign.ParseWeek("2026-W45")
	loc := campaign.DefaultConfig().Location
	wFrom, wTo := w45.Start(loc), w45.End(loc)
	src := source(t, vm.URL)

	rows, err := src.Tracker(ctx, campaign.Filter{}, nil, wFrom, wTo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ExpectedTracker(), rows, timeEq, approx); d != "" {
		t.Errorf("tracker with a suspect (-want +got):\n%s", d)
	}
	review, err := src.WeeklyReview(ctx, campaign.Filter{}, w45, at(2026, 11, 22, 12, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ExpectedReview(), review, approx); d != "" {
		t.Errorf("review with a suspect (-want +got):\n%s", d)
	}
	flagged, err := src.FlaggedIPs(ctx, campaign.Filter{}, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(flagged) == 0 {
		t.Fatal("no flagged IPs at all: the seeded campaign is missing")
	}
	for _, k := range flagged {
		if k.IP == ip {
			t.Errorf("the suspect %s is among the flagged IPs %v", ip, flagged)
		}
	}
	ser, err := src.Situation(ctx, campaign.Filter{}, "district", at(2026, 11, 5, 0, 0), at(2026, 11, 5, 12, 0), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range ser {
		for i, ts := range s.Times {
			if ts.Equal(at(2026, 11, 5, 11, 0)) {
				got[s.Group] = s.Values[i]
			}
		}
	}
	// As in TestSourceAgainstVictoriaMetrics: the suspect in d-east adds nothing.
	if d := cmp.Diff(map[string]float64{"d-east": 1, "d-west": 1, "d-secret": 1}, got); d != "" {
		t.Errorf("situation with a suspect: %s", d)
	}
}
