package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/blocklist"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

var (
	cutoffCmd = app.Command("cutoff", `停止互联网接入: the cut-off list of terminals that keep mining (连续出现挖矿行为的终端).

A terminal is listed while its case is open in the case store (--store) and its latest episode, read from
VictoriaMetrics (--url), meets the campaign's rule (docs/campaign.md): still flagged after the report deadline
(72 h after the episode started), or a relapse after it was cleared. Closing the case (minewatch case closed <ip>)
ends the entry at the next run. A terminal is listed by its MAC where its case knows it (the device key the notice
trace took from a DHCP lease: minewatch notice import), else by its IP; the RADIUS list rejects by account where only
that is known. A MAC entry works on the router or switch of the terminal's own segment. The list, with the case and
the rule for each terminal, goes to stderr; terminals that keep mining without an open case are reported, not listed.

Examples:
  minewatch cutoff --store /var/lib/minewatch/cases.db --out-dir /etc/minewatch/cutoff
  minewatch cutoff --format freeradius > /etc/freeradius/3.0/mods-config/files/minewatch-cutoff
Formats (file names in --out-dir): `+cutoffFormatHelp())
	cutoffURL     = cutoffCmd.Flag("url", "VictoriaMetrics URL (or vmselect/vmauth prefix) VictoriaMetrics 地址").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").String()
	cutoffStore   = addStoreFlag(cutoffCmd)
	cutoffUnits   = cutoffCmd.Flag("unit", "only this unit id (repeatable) 单位").Strings()
	cutoffAt      = cutoffCmd.Flag("at", "moment of judgement, RFC 3339 (default: now)").String()
	cutoffFormats = cutoffCmd.Flag("format", "format to write (repeatable; default with --out-dir: all; without: exactly one, to stdout) 输出格式").Enums(blocklist.CutOffFormatNames()...)
	cutoffOutDir  = cutoffCmd.Flag("out-dir", "write each format into this directory under its file name 输出目录").String()
	cutoffTable   = cutoffCmd.Flag("nft-table", "nftables table (family inet)").Default("mwcutoff").String()
	cutoffSet     = cutoffCmd.Flag("set", "set name prefix (nftables <set>_mac, <set>_v4, <set>_v6; ipset <set>-mac, <set>-v4, <set>-v6)").Default("mwcutoff").String()
	cutoffTimeout = cutoffCmd.Flag("timeout", "query timeout").Default("60s").Duration()
)

func cutoffFormatHelp() string {
	var b strings.Builder
	for _, f := range blocklist.CutOffFormats {
		fmt.Fprintf(&b, "\n  %-10s %-24s %s", f.Name, f.File, f.Help)
	}
	return b.String()
}

func init() {
	commands[cutoffCmd.FullCommand()] = runCutoff
}

func runCutoff() error {
	formats := *cutoffFormats
	if *cutoffOutDir == "" && len(formats) != 1 {
		return errors.New("without --out-dir give exactly one --format (it goes to stdout)")
	}
	if len(formats) == 0 {
		formats = blocklist.CutOffFormatNames()
	}
	at := time.Now()
	if *cutoffAt != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, *cutoffAt); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *cutoffTimeout)
	defer cancel()
	st, err := openStoreForReading(ctx, *cutoffStore)
	if err != nil {
		return err
	}
	if st == nil {
		return fmt.Errorf("--store %s: no case store there; the cut-off list needs the open cases", *cutoffStore)
	}
	defer st.Close()
	cases, err := st.Cases(ctx, campaign.Scope{All: true}, "")
	if err != nil {
		return err
	}
	// Read flagged time back to the oldest open case (within the look-back):
	// every episode that could keep a case's terminal listed.
	cfg := campaign.DefaultConfig()
	from := at.Add(-cfg.Quiet)
	for _, c := range cases {
		if c.Closed.IsZero() && c.Created.Before(from) {
			from = c.Created
		}
	}
	if min := campaign.HistoryStart(cfg, at); from.Before(min) {
		from = min
	}
	set, err := models.LoadSettings(*cutoffURL, nil, nil)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	src, err := campaign.NewSource(set.SourceOptions())
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	src.Dispositions = st
	rows, err := src.Tracker(ctx, campaign.Filter{Units: *cutoffUnits}, nil, from, at, nil)
	if err != nil {
		return fmt.Errorf("reading flagged time from %s: %w", *cutoffURL, err)
	}
	l := blocklist.CutOffs(rows, cases, at)
	if err := l.WriteReport(os.Stderr); err != nil {
		return err
	}
	o := blocklist.Options{Table: *cutoffTable, Set: *cutoffSet}
	for _, name := range formats {
		f, err := blocklist.FindCutOffFormat(name)
		if err != nil {
			return err
		}
		if *cutoffOutDir == "" {
			return f.Write(os.Stdout, l, o)
		}
		path, err := f.WriteFile(*cutoffOutDir, l, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(os.Stderr, "已写入 wrote %s\n", path)
	}
	return nil
}
