package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minewatch/minewatch/exporter/blocklist"
)

var (
	blocklistCmd = app.Command("blocklist", `动态黑名单: write the pool blocklist in the formats edge devices and resolvers load.

Reads the pool intel lists (--intel) and the confirmed pools (--confirmed, an intel-format file for now), resolves
their domains through --dns-server, and writes each --format. A guard never writes a shared address: one that domains
of several owners resolve to (--shared-domains), one in a published CDN range (the shipped Cloudflare list and
--cdn-ranges), or one the allowlist (--allowlist) names; domains the allowlist names (or lies below) are not refused.
What it left out and why goes to stderr (and --report), Chinese first.

Examples:
  minewatch blocklist --intel pools.txt --allowlist allow.txt --dns-server 223.5.5.5 --out-dir /etc/minewatch/blocklist
  minewatch blocklist --intel pools.txt --format unbound > /etc/unbound/unbound.conf.d/minewatch.conf
Formats (file names in --out-dir): `+formatHelp())
	blocklistCfg     = blocklist.DefaultConfiguration()
	blocklistOpts    = blocklist.DefaultOptions()
	blocklistFormats = blocklistCmd.Flag("format", "format to write (repeatable; default with --out-dir: all; without: exactly one, to stdout) 输出格式").Enums(blocklist.FormatNames()...)
	blocklistOutDir  = blocklistCmd.Flag("out-dir", "write each format into this directory under its file name (atomically) 输出目录").String()
	blocklistReport  = blocklistCmd.Flag("report", "also write the report (kept, left out and why) to this file 报告文件").String()
)

func formatHelp() string {
	var b strings.Builder
	for _, f := range blocklist.Formats {
		fmt.Fprintf(&b, "\n  %-9s %-30s %s", f.Name, f.File, f.Help)
	}
	return b.String()
}

func init() {
	c := blocklistCmd
	c.Flag("intel", "pool intel list, DESIGN.md §3.3 format (repeatable) 矿池情报").StringsVar(&blocklistCfg.Intel)
	c.Flag("confirmed", "confirmed pools, intel format (repeatable); entries without a source get source 'confirmed' 已确认矿池").StringsVar(&blocklistCfg.Confirmed)
	c.Flag("allowlist", "endpoints and domains never to block, intel format (repeatable) 白名单").StringsVar(&blocklistCfg.Allowlists)
	c.Flag("cdn-ranges", "more shared CDN ranges (intel format: CIDR,,provider), besides the shipped Cloudflare list (repeatable) CDN地址段").StringsVar(&blocklistCfg.CDNRanges)
	c.Flag("dns-server", "DNS server resolving the listed domains, host[:port] (default: the system's); use an unfiltered one 解析用DNS").StringVar(&blocklistCfg.DNSServer)
	c.Flag("workers", "domain lookups in flight at once").Default(fmt.Sprint(blocklistCfg.Workers)).IntVar(&blocklistCfg.Workers)
	c.Flag("lookup-timeout", "timeout of one domain's lookup").Default(blocklistCfg.LookupTimeout.String()).DurationVar(&blocklistCfg.LookupTimeout)
	c.Flag("shared-domains", "an address that this many different registrable domains resolve to is shared hosting and left out").Default(fmt.Sprint(blocklistCfg.SharedDomains)).IntVar(&blocklistCfg.SharedDomains)
	c.Flag("nft-table", "nftables table (family inet)").Default(blocklistOpts.Table).StringVar(&blocklistOpts.Table)
	c.Flag("set", "set name prefix (nftables <set>_v4 …; ipset <set>-v4 …)").Default(blocklistOpts.Set).StringVar(&blocklistOpts.Set)
	c.Flag("dns-action", "Unbound answer for a listed domain: nxdomain or refuse (dnsmasq and RPZ answer NXDOMAIN)").Default(blocklistOpts.DNSAction).EnumVar(&blocklistOpts.DNSAction, "nxdomain", "refuse")
	c.Flag("rpz-zone", "origin of the RPZ zone").Default(blocklistOpts.RPZZone).StringVar(&blocklistOpts.RPZZone)
	c.Flag("sid-base", "first Suricata sid (local rules: 1000000-1999999)").Default(fmt.Sprint(blocklistOpts.SidBase)).IntVar(&blocklistOpts.SidBase)
	commands[blocklistCmd.FullCommand()] = runBlocklist
}

func runBlocklist() error {
	formats := *blocklistFormats
	if *blocklistOutDir == "" && len(formats) != 1 {
		return errors.New("without --out-dir give exactly one --format (it goes to stdout)")
	}
	if len(formats) == 0 {
		formats = blocklist.FormatNames()
	}
	if *blocklistOutDir != "" {
		if st, err := os.Stat(*blocklistOutDir); err != nil || !st.IsDir() {
			return fmt.Errorf("--out-dir %s: not a directory", *blocklistOutDir)
		}
	}
	b, err := blocklist.Build(context.Background(), blocklistCfg)
	if err != nil {
		return err
	}
	var report io.Writer = os.Stderr
	if *blocklistReport != "" {
		f, err := os.Create(*blocklistReport)
		if err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		defer f.Close()
		report = io.MultiWriter(os.Stderr, f)
	}
	if err := b.WriteReport(report); err != nil {
		return err
	}
	for _, name := range formats {
		f, err := blocklist.FindFormat(name)
		if err != nil {
			return err
		}
		if *blocklistOutDir == "" {
			return f.Write(os.Stdout, b, blocklistOpts)
		}
		path, err := f.WriteFile(*blocklistOutDir, b, blocklistOpts)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(os.Stderr, "已写入 wrote %s\n", path)
	}
	return nil
}
