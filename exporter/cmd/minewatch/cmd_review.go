package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/term"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// campaignFlags are the flags the review and tracker commands share: where
// VictoriaMetrics is, the unit filter and the output. The campaign's
// definition (deadlines, quiet period, relapses, time zone) has no flags:
// it is the one the datasource and the alert rules use (docs/campaign.md).
type campaignFlags struct {
	url, format               string
	units, sectors, districts []string
	width                     int
	timeout                   time.Duration
	store                     *string
	ledger                    []string
}

func addCampaignFlags(c *kingpin.CmdClause) *campaignFlags {
	f := &campaignFlags{}
	c.Flag("url", "VictoriaMetrics URL (or vmselect/vmauth prefix) VictoriaMetrics 地址").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").StringVar(&f.url)
	c.Flag("format", "output: table, json or csv 输出格式").Default("table").EnumVar(&f.format, "table", "json", "csv")
	c.Flag("unit", "only this unit id (repeatable) 单位").StringsVar(&f.units)
	c.Flag("sector", "only this sector (repeatable) 行业").StringsVar(&f.sectors)
	c.Flag("district", "only this district (repeatable) 辖区").StringsVar(&f.districts)
	c.Flag("width", "table width in columns; a wider table is printed one record per block (default: the terminal's, else $COLUMNS, else 80) 输出宽度").IntVar(&f.width)
	c.Flag("timeout", "query timeout").Default("60s").DurationVar(&f.timeout)
	f.store = addStoreFlag(c)
	c.Flag("ledger", "unit/asset ledger file (repeatable; YAML or CSV): device and person in the tracker 台账").StringsVar(&f.ledger)
	return f
}

// source builds the campaign source through the constructor the datasource
// uses, from the settings the datasource would have for this URL.
func (f *campaignFlags) source() (*campaign.Source, error) {
	set, err := models.LoadSettings(f.url, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	src, err := campaign.NewSource(set.SourceOptions())
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if len(f.ledger) > 0 {
		l, err := ledger.Load(f.ledger, nil)
		if err != nil {
			return nil, fmt.Errorf("--ledger: %w", err)
		}
		src.Assets = campaign.LedgerAssets{Ledger: l}
	}
	// Dispositions come from the case store (the process ends with the command: no Close).
	st, err := openStoreForReading(context.Background(), *f.store)
	if err != nil {
		return nil, err
	}
	if st != nil {
		src.Dispositions, src.Devices = st, st
	}
	return src, nil
}

func (f *campaignFlags) filter() campaign.Filter {
	return campaign.Filter{Units: f.units, Sectors: f.sectors, Districts: f.districts}
}

// termWidth is --width, else the terminal's width, else $COLUMNS, else 80.
func (f *campaignFlags) termWidth() int {
	if f.width > 0 {
		return f.width
	}
	if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
		return w
	}
	if w, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && w > 0 {
		return w
	}
	return 80
}

// explain turns a VictoriaMetrics that cannot be reached into a sentence
// naming the flag that sets its address.
func (f *campaignFlags) explain(err error) error {
	var ue *campaign.UnreachableError
	if errors.As(err, &ue) {
		return fmt.Errorf("无法连接 VictoriaMetrics %s (cannot reach VictoriaMetrics at %s: %v); set its address with --url or MINEWATCH_VM_URL", ue.URL, ue.URL, ue.Err)
	}
	return err
}

var (
	reviewCmd   = app.Command("review", "weekly review of the campaign per unit (每周研判).")
	reviewFlags = addCampaignFlags(reviewCmd)
	reviewWeek  = reviewCmd.Flag("week", "ISO week like 2026-W47 (default: this week) 周").String()
)

func init() {
	commands[reviewCmd.FullCommand()] = runReview
}

func runReview() error {
	src, err := reviewFlags.source()
	if err != nil {
		return err
	}
	loc := src.Config.Location
	now := time.Now()
	week := campaign.WeekOf(now, loc)
	if *reviewWeek != "" {
		if week, err = campaign.ParseWeek(*reviewWeek); err != nil {
			return fmt.Errorf("--week: %w", err)
		}
	}
	if !now.After(week.Start(loc)) {
		return fmt.Errorf("--week %s: 该周尚未开始 the week has not started (it starts %s)", week, campaign.FormatTime(week.Start(loc), loc))
	}
	ctx, cancel := context.WithTimeout(context.Background(), reviewFlags.timeout)
	defer cancel()
	rows, err := src.WeeklyReview(ctx, reviewFlags.filter(), week, now, nil)
	if err != nil {
		return reviewFlags.explain(err)
	}
	running := campaign.Running(week, now, loc)
	if reviewFlags.format == "table" {
		fmt.Printf("周研判 weekly review %s (%s – %s)\n", week, campaign.FormatTime(week.Start(loc), loc), campaign.FormatTime(week.End(loc), loc))
		if running {
			fmt.Printf("本周尚未结束：数字截至 %s（北京时间）the week has not ended: counts as of now\n", campaign.FormatTime(now, loc))
		}
	} else if running {
		fmt.Fprintf(os.Stderr, "minewatch review: week %s has not ended: counts are as of %s, mining_at_end is mining now\n", week, now.In(loc).Format(time.RFC3339))
	}
	return campaign.RenderFit(os.Stdout, campaign.ReviewTableOf(rows, running), reviewFlags.format, loc, reviewFlags.termWidth())
}
