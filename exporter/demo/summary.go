package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/sim"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// summary prints what happened: the weekly review and tracker computed by
// the plugin's campaign logic, the ground truth beside them, and the emails.
func (d *run) summary(ctx context.Context, s *sim.Scenario, res *sim.Result) error {
	// The campaign source as the datasource builds it: one constructor, the
	// demo's ledger for device and person, its case store for dispositions.
	src, err := campaign.NewSource(campaign.SourceOptions{URL: d.vm})
	if err != nil {
		return err
	}
	led, err := ledger.Load([]string{filepath.Join(d.dir, "ledger.yaml")}, nil)
	if err != nil {
		return err
	}
	src.Assets = campaign.LedgerAssets{Ledger: led}
	cases, err := casestore.Open(ctx, filepath.Join(d.dir, "cases.db"))
	if err != nil {
		return err
	}
	defer cases.Close()
	src.Dispositions = cases
	loc := src.Config.Location
	now := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var miners []string
	for _, t := range res.Truth {
		if t.Mining() {
			miners = append(miners, t.IP+" "+t.Behaviour)
		}
	}
	out := d.o.Out
	fmt.Fprintf(out, "\n仿真真值 ground truth: %d hosts, %d miners: %s\n", len(res.Hosts), len(miners), strings.Join(miners, ", "))
	for _, week := range []campaign.Week{campaign.WeekOf(now.Add(-7*24*time.Hour), loc), campaign.WeekOf(now, loc)} {
		rows, err := src.WeeklyReview(qctx, campaign.Filter{}, week, now, nil)
		if err != nil {
			return fmt.Errorf("weekly review: %w", err)
		}
		fmt.Fprintf(out, "\n周研判 weekly review %s (%s – %s)\n", week, campaign.FormatTime(week.Start(loc), loc), campaign.FormatTime(week.End(loc), loc))
		if err := campaign.Render(out, campaign.ReviewTable(rows), "table", loc); err != nil {
			return err
		}
	}
	rows, err := src.Tracker(qctx, campaign.Filter{}, nil, s.Start, now, nil)
	if err != nil {
		return fmt.Errorf("tracker: %w", err)
	}
	fmt.Fprintf(out, "\nIP清零台账 tracker (%s – now)\n", campaign.FormatTime(s.Start, loc))
	if err := campaign.Render(out, campaign.TrackerTable(rows), "table", loc); err != nil {
		return err
	}
	msgs := d.mail.Messages()
	fmt.Fprintf(out, "\n告警邮件 emails received: %d\n", len(msgs))
	for _, m := range msgs {
		fmt.Fprintf(out, "  to %s: %s\n", strings.Join(m.To, ", "), m.Subject)
	}
	return nil
}
