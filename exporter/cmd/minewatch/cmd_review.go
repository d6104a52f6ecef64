package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// campaignFlags are the flags the review and tracker commands share: where
// VictoriaMetrics is, the definitions, and the unit filter. Defaults are the
// datasource's, so the CLI prints what the dashboards show.
type campaignFlags struct {
	url, timezone, quiet, locate, report, format string
	relapseLimit                                 int
	units, sectors, districts                    []string
	timeout                                      time.Duration
	store                                        *string
}

func addCampaignFlags(c *kingpin.CmdClause) *campaignFlags {
	f := &campaignFlags{}
	c.Flag("url", "VictoriaMetrics URL (or vmselect/vmauth prefix) VictoriaMetrics 地址").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").StringVar(&f.url)
	c.Flag("format", "output: table, json or csv 输出格式").Default("table").EnumVar(&f.format, "table", "json", "csv")
	c.Flag("unit", "only this unit id (repeatable) 单位").StringsVar(&f.units)
	c.Flag("sector", "only this sector (repeatable) 行业").StringsVar(&f.sectors)
	c.Flag("district", "only this district (repeatable) 辖区").StringsVar(&f.districts)
	c.Flag("timezone", "zone of ISO weeks and years 时区").Default(models.DefaultTimezone).StringVar(&f.timezone)
	c.Flag("quiet-period", "quiet period that clears an IP 清零静默期").Default("7d").StringVar(&f.quiet)
	c.Flag("locate-deadline", "deadline to locate device and person 定位时限").Default("48h").StringVar(&f.locate)
	c.Flag("report-deadline", "deadline for the written report 报告时限").Default("72h").StringVar(&f.report)
	c.Flag("relapse-limit", "relapses per year that flag a unit 反复复发阈值").Default("2").IntVar(&f.relapseLimit)
	c.Flag("timeout", "query timeout").Default("60s").DurationVar(&f.timeout)
	f.store = addStoreFlag(c)
	return f
}

// source builds the campaign source exactly as the datasource does from
// the same settings.
func (f *campaignFlags) source() (*campaign.Source, error) {
	jd := fmt.Sprintf(`{"quietPeriod":%q,"locateDeadline":%q,"reportDeadline":%q,"timezone":%q,"relapseLimit":%d}`,
		f.quiet, f.locate, f.report, f.timezone, f.relapseLimit)
	set, err := models.LoadSettings(f.url, []byte(jd), nil)
	if err != nil {
		return nil, err
	}
	client, err := api.NewClient(api.Config{Address: set.URL})
	if err != nil {
		return nil, err
	}
	cfg := campaign.DefaultConfig()
	cfg.Quiet, cfg.LocateDeadline, cfg.ReportDeadline = set.QuietPeriod, set.LocateDeadline, set.ReportDeadline
	cfg.Location, cfg.RelapseLimit = set.Location, set.RelapseLimit
	src := &campaign.Source{API: v1.NewAPI(client), Config: cfg}
	// Dispositions come from the case store (the process ends with the command: no Close).
	st, err := openStoreForReading(context.Background(), *f.store)
	if err != nil {
		return nil, err
	}
	if st != nil {
		src.Dispositions = st
	}
	return src, nil
}

func (f *campaignFlags) filter() campaign.Filter {
	return campaign.Filter{Units: f.units, Sectors: f.sectors, Districts: f.districts}
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
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), reviewFlags.timeout)
	defer cancel()
	rows, err := src.WeeklyReview(ctx, reviewFlags.filter(), week, now, nil)
	if err != nil {
		return err
	}
	if reviewFlags.format == "table" {
		fmt.Printf("周研判 weekly review %s (%s – %s)\n", week, campaign.FormatTime(week.Start(loc), loc), campaign.FormatTime(week.End(loc), loc))
	}
	return campaign.Render(os.Stdout, campaign.ReviewTable(rows), reviewFlags.format, loc)
}
