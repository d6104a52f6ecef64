package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/notice"
	"github.com/minewatch/minewatch/plugin/pkg/trace"
)

var (
	noticeCmd       = app.Command("notice", "upstream notices 上级通报: import and trace them to host, MAC, account, device and person.")
	noticeImportCmd = noticeCmd.Command("import", "import a notice file (CSV: UTF-8 or GBK; XLSX) and open one case per notice (来源: 上级通报), "+
		"traced through the ledger's egress addresses, the exporter's series in VictoriaMetrics, DHCP leases and RADIUS accounting. "+
		"Columns are found by header, Chinese or English: 通报编号, IP/出口IP, 时间 or 开始时间/结束时间, 目的IP, 端口, 通报时间, 备注. "+
		"A file with any bad cell is refused whole, every bad cell listed by row and column.")
	noticeFile    = noticeImportCmd.Arg("file", "the notice file (.csv or .xlsx)").Required().ExistingFile()
	noticeLedger  = noticeImportCmd.Flag("ledger", "unit/asset ledger file (repeatable; YAML or CSV): egress addresses map a notice to its unit, assets give device and person 台账").Required().Strings()
	noticeURL     = noticeImportCmd.Flag("url", "VictoriaMetrics URL: the exporter's series name the hosts behind the egress (empty: not read)").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").String()
	noticeLeases  = noticeImportCmd.Flag("leases", "DHCP lease file (repeatable): Kea kea-leases4.csv, ISC dhcpd.leases or dnsmasq leases DHCP租约").Strings()
	noticeRadacct = noticeImportCmd.Flag("radacct", "FreeRADIUS accounting detail file (repeatable) 上网认证计费日志").Strings()
	noticeRadZone = noticeImportCmd.Flag("radacct-zone", "time zone of the detail files' header lines (the RADIUS server's local time)").Default("Asia/Shanghai").String()
	noticeMaxGap  = noticeImportCmd.Flag("max-gap", "take the nearest lease or session this close in time when none covers the notice").Default("24h").Duration()
	noticeDryRun  = noticeImportCmd.Flag("dry-run", "trace and print, store nothing 只追溯不入库").Bool()
	noticeStore   = addStoreFlag(noticeImportCmd)
)

func init() {
	commands[noticeImportCmd.FullCommand()] = runNoticeImport
}

func runNoticeImport() error {
	ns, err := notice.ReadFile(*noticeFile)
	if err != nil {
		return err
	}
	l, err := ledger.Load(*noticeLedger, nil)
	if err != nil {
		return fmt.Errorf("--ledger: %w", err)
	}
	cfg := trace.DefaultConfiguration()
	cfg.LeaseFiles, cfg.AccountingFiles, cfg.AccountingZone, cfg.MaxGap = *noticeLeases, *noticeRadacct, *noticeRadZone, *noticeMaxGap
	var flows trace.Flows
	if *noticeURL != "" {
		client, err := api.NewClient(api.Config{Address: *noticeURL})
		if err != nil {
			return fmt.Errorf("--url: %w", err)
		}
		flows = trace.VMFlows{API: v1.NewAPI(client)}
	}
	tr, err := trace.New(cfg, l, flows)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if *noticeDryRun {
		for _, n := range ns {
			r, err := tr.Trace(ctx, n)
			if err != nil {
				return fmt.Errorf("第%d行 row %d: %w", n.Row, n.Row, err)
			}
			printTrace(os.Stdout, r, nil)
		}
		return nil
	}
	st, err := casestore.Open(ctx, *noticeStore)
	if err != nil {
		return err
	}
	defer st.Close()
	imported, err := trace.Import(ctx, tr, st, ns, osAuthor())
	for _, im := range imported {
		printTrace(os.Stdout, im.Result, &im)
	}
	done := 0
	for _, im := range imported {
		if im.Err == nil {
			done++
		}
	}
	fmt.Printf("导入 imported %d/%d notices into %s\n", done, len(ns), st)
	return err
}

// printTrace prints one notice's trace for the person at the terminal.
func printTrace(w io.Writer, r trace.Result, im *trace.Imported) {
	loc := campaign.Location()
	n := r.Notice
	fmt.Fprintf(w, "通报 notice %s (第%d行 row %d): %s, %s – %s", orDash(n.Number), n.Row, n.Row, n.EgressIP,
		campaign.FormatTime(n.Start, loc), campaign.FormatTime(n.End, loc))
	if rs := n.RemoteString(); rs != "" {
		fmt.Fprintf(w, " → %s", rs)
	}
	fmt.Fprintln(w)
	if im != nil {
		switch {
		case im.Err != nil:
			fmt.Fprintf(w, "  未入库 not stored: %v\n", im.Err)
		case im.Followed:
			fmt.Fprintf(w, "  并入同一设备的案件 joined case %d of the same device (IP %s)\n", im.Case.ID, strings.Join(im.Case.IPs, ", "))
		default:
			fmt.Fprintf(w, "  新建案件 case %d, 定位时限 locate by %s, 报告时限 report by %s（北京时间）\n", im.Case.ID,
				campaign.FormatTime(im.Case.LocateDeadline, loc), campaign.FormatTime(im.Case.ReportDeadline, loc))
		}
	}
	line := func(indent string, l trace.Link) {
		fmt.Fprintf(w, "%s%-7s %-40s [%s] %s\n", indent, l.Step, orDash(l.Value), l.Certainty.Label(), l.How)
		for _, e := range l.Evidence {
			fmt.Fprintf(w, "%s        依据 evidence: %s\n", indent, e)
		}
	}
	for _, l := range r.Links {
		line("  ", l)
	}
	for _, h := range r.Hosts {
		fmt.Fprintf(w, "  主机 host %s — 设备标识 device %s\n", h.IP, h.DeviceKey)
		for _, l := range h.Links {
			line("    ", l)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
