package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/pack"
)

// `minewatch report pools`: the upward report of pools (上报矿池).
var (
	reportCmd       = app.Command("report", "reports for the bureau above (上报).")
	reportPoolsCmd  = reportCmd.Command("pools", "pools the bureau's list lacks (上报矿池): endpoints the active prober confirmed (已确认) and those another intel list matched, that the units' hosts contacted, with domain, how found, first/last seen (Beijing time), units, hosts and evidence, as XLSX or CSV (UTF-8 with BOM); docs/campaign.md.")
	reportFlags     = addCampaignFlags(reportPoolsCmd, "xlsx")
	reportBureau    = reportPoolsCmd.Flag("bureau-list", "the bureau's pool list (intel format; repeatable): pools on it are not reported 局矿池名单").Required().ExistingFiles()
	reportPoolsFrom = reportPoolsCmd.Flag("from", "range start, RFC 3339 (default: 7 days before --to)").String()
	reportPoolsTo   = reportPoolsCmd.Flag("to", "range end, RFC 3339 (default: now)").String()
	reportOut       = reportPoolsCmd.Flag("out", "file for --format xlsx (default: pools-<date>.xlsx; - for stdout) 输出文件").Short('o').String()
)

func init() {
	commands[reportPoolsCmd.FullCommand()] = runReportPools
}

func runReportPools() error {
	var lists []*intel.List
	for _, p := range *reportBureau {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("--bureau-list: %w", err)
		}
		l, err := intel.Parse(p, b)
		if err != nil {
			return fmt.Errorf("--bureau-list %s: %w", p, err)
		}
		lists = append(lists, l)
	}
	src, err := reportFlags.source()
	if err != nil {
		return err
	}
	to := time.Now()
	if *reportPoolsTo != "" {
		if to, err = time.Parse(time.RFC3339, *reportPoolsTo); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	from := to.AddDate(0, 0, -7)
	if *reportPoolsFrom != "" {
		if from, err = time.Parse(time.RFC3339, *reportPoolsFrom); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), reportFlags.timeout)
	defer cancel()
	rows, err := src.NewPools(ctx, reportFlags.filter(), campaign.NewBureauList(lists...), from, to, nil)
	if err != nil {
		return reportFlags.explain(err)
	}
	loc := src.Config.Location
	t := campaign.NewPoolTable(rows)
	if reportFlags.format != "xlsx" {
		if reportFlags.format == "table" {
			fmt.Printf("上报矿池 new pools %s – %s（北京时间）: %d\n", campaign.FormatTime(from, loc), campaign.FormatTime(to, loc), len(rows))
		}
		return campaign.RenderFit(os.Stdout, t, reportFlags.format, loc, reportFlags.termWidth())
	}
	var b bytes.Buffer
	title := fmt.Sprintf("上报矿池 New pools %s – %s", campaign.FormatTime(from, loc), campaign.FormatTime(to, loc))
	if err := pack.WriteSheets(&b, []pack.Section{{Sheet: "上报矿池 New pools", Title: title, Table: t}}, loc); err != nil {
		return err
	}
	out := *reportOut
	if out == "" {
		out = "pools-" + to.In(loc).Format("2006-01-02") + ".xlsx"
	}
	if out == "-" {
		_, err = os.Stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "上报矿池已写入 new pools written: %s (%d)\n", out, len(rows))
	return nil
}
