package campaign_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// synthetic writes 1,000 units and 10,000 IPs with 90 days of hourly
// history ending at end: every IP has 1–3 flagged stretches of 1–48 h, some
// with a disposition, and ledger info for every unit.
func synthetic(end time.Time) (lines []string, samples int) {
	r := rand.New(rand.NewPCG(1, 2))
	start := end.Add(-90 * 24 * time.Hour)
	var s vmtest.Series
	for u := 0; u < 1000; u++ {
		s.Every("minewatch_unit_info", 1, start, end, 24*time.Hour, "unit", fmt.Sprintf("u%04d", u), "name", fmt.Sprintf("单位%04d", u),
			"sector", []string{"school", "government", "soe"}[u%3], "parent", fmt.Sprintf("d%02d", u%20))
	}
	for i := 0; i < 10000; i++ {
		ip, unit := fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256), fmt.Sprintf("u%04d", i%1000)
		for e := 0; e < 1+r.IntN(3); e++ {
			from := start.Add(time.Duration(r.IntN(90*24)) * time.Hour).Add(7 * time.Minute)
			to := from.Add(time.Duration(1+r.IntN(48)) * time.Hour)
			s.Every("minewatch_host_mining", 1, from, to, time.Hour, "ip", ip, "unit", unit, "class", "active")
			s.Every("minewatch_host_score", float64(50+r.IntN(50)), from, to, time.Hour, "ip", ip, "unit", unit)
			if r.IntN(2) == 0 {
				s.Dispose(ip, unit, "reported", "active", "", from.Add(24*time.Hour))
			}
		}
	}
	return s.Lines, len(s.Lines)
}

// BenchmarkAgainstVictoriaMetrics seeds the synthetic history into a real
// VictoriaMetrics and times the tracker (last 7 days) and the weekly review
// of the last full week, end to end (queries, transfer, definitions).
func BenchmarkAgainstVictoriaMetrics(b *testing.B) {
	vm := vmtest.Start(b)
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, vmtest.CST) // Monday: W46 ends here
	seedStart := time.Now()
	lines, n := synthetic(end)
	vm.Import(b, lines)
	vm.Flush(b)
	b.Logf("seeded %d samples (1,000 units, 10,000 IPs, 90 days) in %s", n, time.Since(seedStart).Round(time.Millisecond))
	src := &campaign.Source{API: newAPI(b, vm.URL), Config: campaign.DefaultConfig()}
	ctx := context.Background()
	var st campaign.Stats
	if _, err := src.Tracker(ctx, campaign.Filter{}, nil, end.Add(-7*24*time.Hour), end, &st); err != nil {
		b.Fatal(err)
	}
	if _, err := src.WeeklyReview(ctx, campaign.Filter{}, campaign.WeekOf(end.Add(-time.Hour), vmtest.CST), end.Add(24*time.Hour), &st); err != nil {
		b.Fatal(err)
	}
	if _, err := src.Tracker(ctx, campaign.Filter{}, nil, end.Add(-90*24*time.Hour), end, &st); err != nil {
		b.Fatal(err)
	}
	for i, q := range st.Queries {
		b.Logf("%8s  %s", st.Durations[i].Round(time.Millisecond), q)
	}
	b.Run("tracker_7d", func(b *testing.B) {
		var rows []campaign.TrackerRow
		for b.Loop() {
			var err error
			if rows, err = src.Tracker(ctx, campaign.Filter{}, nil, end.Add(-7*24*time.Hour), end, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
		b.ReportMetric(float64(len(rows)), "rows")
	})
	b.Run("tracker_90d", func(b *testing.B) {
		var rows []campaign.TrackerRow
		for b.Loop() {
			var err error
			if rows, err = src.Tracker(ctx, campaign.Filter{}, nil, end.Add(-90*24*time.Hour), end, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
		b.ReportMetric(float64(len(rows)), "rows")
	})
	b.Run("weekly_review", func(b *testing.B) {
		w := campaign.WeekOf(end.Add(-time.Hour), vmtest.CST)
		var rows []campaign.ReviewRow
		for b.Loop() {
			var err error
			if rows, err = src.WeeklyReview(ctx, campaign.Filter{}, w, end.Add(24*time.Hour), nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
		b.ReportMetric(float64(len(rows)), "rows")
	})
}

// BenchmarkDefinitions times the pure definitions alone on 10,000 IPs.
func BenchmarkDefinitions(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, vmtest.CST)
	hosts := make([]campaign.HostHistory, 10000)
	for i := range hosts {
		var ts []time.Time
		for e := 0; e < 1+r.IntN(3); e++ {
			from := end.Add(-time.Duration(1+r.IntN(90*24)) * time.Hour)
			for k := 0; k < 1+r.IntN(48); k++ {
				ts = append(ts, from.Add(time.Duration(k)*time.Hour))
			}
		}
		hosts[i] = campaign.HostHistory{HostKey: campaign.HostKey{IP: fmt.Sprintf("10.0.%d.%d", i/256, i%256), Unit: fmt.Sprintf("u%04d", i%1000)}, Runs: campaign.Runs(ts, time.Hour)}
	}
	cfg := campaign.DefaultConfig()
	w := campaign.WeekOf(end.Add(-time.Hour), cfg.Location)
	b.Run("tracker", func(b *testing.B) {
		for b.Loop() {
			campaign.Tracker(cfg, campaign.TrackerInput{From: end.Add(-90 * 24 * time.Hour), To: end, Hosts: hosts})
		}
	})
	b.Run("weekly_review", func(b *testing.B) {
		for b.Loop() {
			campaign.WeeklyReview(cfg, campaign.ReviewInput{Week: w, Now: end, Hosts: hosts})
		}
	})
}
