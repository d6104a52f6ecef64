package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/term"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"github.com/minewatch/minewatch/plugin/pkg/pack"
)

// campaignFlags are the flags the review and tracker commands share: where
// VictoriaMetrics is, the unit filter and the output. The campaign's
// definition (deadlines, quiet period, relapses, time zone) has no flags:
// it is the one the datasource and the alert rules use (docs/campaign.md).
type campaignFlags struct {
	url, format               string
	units, sectors, districts []string
	under                     []string
	energy                    campaign.EnergyConfig
	width                     int
	timeout                   time.Duration
	store                     *string
	ledger                    []string
}

func addCampaignFlags(c *kingpin.CmdClause, formats ...string) *campaignFlags {
	f := &campaignFlags{}
	c.Flag("url", "VictoriaMetrics URL (or vmselect/vmauth prefix) VictoriaMetrics 地址").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").StringVar(&f.url)
	formats = append([]string{"table", "json", "csv"}, formats...)
	c.Flag("format", "output: "+strings.Join(formats, ", ")+" (csv is UTF-8 with BOM, for Excel) 输出格式").Default("table").EnumVar(&f.format, formats...)
	c.Flag("unit", "only this unit id (repeatable) 单位").StringsVar(&f.units)
	c.Flag("under", "only units at or below this unit in the ledger's parent chain, e.g. a district bureau (repeatable) 所辖单位").StringsVar(&f.under)
	c.Flag("sector", "only this sector (repeatable) 行业").StringsVar(&f.sectors)
	c.Flag("district", "only this district (repeatable) 辖区").StringsVar(&f.districts)
	c.Flag("width", "table width in columns; a wider table is printed one record per block (default: the terminal's, else $COLUMNS, else 80) 输出宽度").IntVar(&f.width)
	c.Flag("timeout", "query timeout").Default("60s").DurationVar(&f.timeout)
	f.store = addStoreFlag(c)
	f.energy = campaign.DefaultEnergy()
	c.Flag("ledger", "unit/asset ledger file (repeatable; YAML or CSV): device and person in the tracker 台账").StringsVar(&f.ledger)
	return f
}

// addEnergyFlags adds the energy definition's figures (review, tracker).
func (f *campaignFlags) addEnergyFlags(c *kingpin.CmdClause) *campaignFlags {
	// The energy figures (docs/campaign.md "Energy, cost and carbon"): the defaults are documented there.
	d := campaign.DefaultEnergy()
	c.Flag("gpu-watts", "power of one GPU mining rig, W 显卡矿机功率").Default(fmt.Sprint(d.GPUWatts)).Float64Var(&f.energy.GPUWatts)
	c.Flag("cpu-watts", "power of one PC mining on its CPU, W CPU挖矿电脑功率").Default(fmt.Sprint(d.CPUWatts)).Float64Var(&f.energy.CPUWatts)
	c.Flag("tariff", "electricity tariff before the surcharge, 元/kWh 电价").Default(fmt.Sprint(d.Tariff)).Float64Var(&f.energy.Tariff)
	c.Flag("surcharge", "surcharge on mining power, 元/kWh 加价").Default(fmt.Sprint(d.Surcharge)).Float64Var(&f.energy.Surcharge)
	c.Flag("grid-factor", "grid CO2 emission factor, kgCO2/kWh (default: MEE/NBS national average for 2023) 电网排放因子").Default(fmt.Sprint(d.GridKgPerKWh)).Float64Var(&f.energy.GridKgPerKWh)
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
	if err := f.energy.Validate(); err != nil {
		return nil, err
	}
	src.Energy = f.energy
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
	return campaign.Filter{Units: f.units, Sectors: f.sectors, Districts: f.districts, Under: f.under}
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
	reviewCmd   = app.Command("review", "weekly review of the campaign per unit, district or bureau (每周研判); --format xlsx or pdf writes the meeting pack (会议材料).")
	reviewFlags = addCampaignFlags(reviewCmd, "xlsx", "pdf").addEnergyFlags(reviewCmd)
	reviewWeek  = reviewCmd.Flag("week", "ISO week like 2026-W47 (default: this week) 周").String()
	reviewLevel = reviewCmd.Flag("level", "roll up the ledger's parent chain: unit, district (the unit's parent) or bureau (the top of the chain) 汇总层级").Default("unit").Enum("unit", "district", "bureau")
	reviewOut   = reviewCmd.Flag("out", "file for --format xlsx or pdf (default: review-<week>-<level>.<format>; - for stdout) 输出文件").Short('o').String()
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
	level, err := campaign.ParseLevel(*reviewLevel)
	if err != nil {
		return fmt.Errorf("--level: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), reviewFlags.timeout)
	defer cancel()
	rev, err := src.Review(ctx, reviewFlags.filter(), level, week, now, nil)
	if err != nil {
		return reviewFlags.explain(err)
	}
	running := rev.Running
	switch reviewFlags.format {
	case "xlsx", "pdf":
		return writePack(ctx, pack.Pack{Review: rev, Selection: pack.Selection(reviewFlags.filter()), Generated: now, Location: loc}, reviewFlags.format)
	case "table":
		fmt.Printf("周研判 weekly review %s (%s – %s)\n", week, campaign.FormatTime(week.Start(loc), loc), campaign.FormatTime(week.End(loc), loc))
		if running {
			fmt.Printf("本周尚未结束：数字截至 %s（北京时间）the week has not ended: counts as of now\n", campaign.FormatTime(now, loc))
		}
		// Devices as well as IPs: a PC that DHCP moved is one device (the *_devices columns).
		if n := len(rev.Units); n > 0 {
			t := rev.Units[n-1]
			fmt.Printf("合计 total: 本周涉及 %d IP / %d 台设备 devices，新增 %d / %d，清零 %d / %d，超期 %d 案件 cases / %d 台设备 devices\n",
				t.DistinctIPs, t.Devices.Distinct, t.New, t.Devices.New, t.Cleared, t.Devices.Cleared, t.Overdue, t.Devices.Overdue)
		}
	default:
		if running {
			fmt.Fprintf(os.Stderr, "minewatch review: week %s has not ended: counts are as of %s, mining_at_end is mining now\n", week, now.In(loc).Format(time.RFC3339))
		}
	}
	return campaign.RenderFit(os.Stdout, campaign.ReviewTableOf(rev.Rows, running), reviewFlags.format, loc, reviewFlags.termWidth())
}

// writePack writes the meeting pack to --out (or its default name).
func writePack(ctx context.Context, p pack.Pack, format string) error {
	var b bytes.Buffer
	var err error
	if format == "pdf" {
		err = pack.WritePDF(ctx, &b, p)
	} else {
		err = pack.WriteXLSX(&b, p)
	}
	if err != nil {
		return err
	}
	out := *reviewOut
	if out == "" {
		out = fmt.Sprintf("review-%s-%s.%s", p.Review.Week, p.Review.Level, format)
	}
	if out == "-" {
		_, err = os.Stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "会议材料已写入 meeting pack written: %s\n", out)
	return nil
}
