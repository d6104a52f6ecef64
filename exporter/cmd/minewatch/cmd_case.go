package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/notice"
	"github.com/minewatch/minewatch/plugin/pkg/trace"
)

// defaultStore is where the case store lives when neither --store nor
// MINEWATCH_CASE_STORE says otherwise.
const defaultStore = "/var/lib/minewatch/cases.db"

// addStoreFlag is the one --store flag of every command that reads or
// writes case records.
func addStoreFlag(c *kingpin.CmdClause) *string {
	return c.Flag("store", "case store 处置记录库: a SQLite file path, or a postgres:// URL shared with Grafana's datasource").
		Default(defaultStore).Envar("MINEWATCH_CASE_STORE").String()
}

var (
	caseCmd = app.Command("case", "record a case disposition (处置登记): located, reported or closed. Written to the case store with you (the OS user) as author. "+
		"With --leases, --radacct or --ledger, a case this opens (来源: 手工登记 manual) is traced as a detected one: its IP at --at looked up in the DHCP leases (MAC) "+
		"and RADIUS accounting (上网账号 account), the --ledger for device and person; the trace is kept with the case, "+
		"and an IP of a device (MAC or account) that already has an open case of the unit joins that case.")
	caseStage = caseCmd.Arg("stage", "located (已定位), reported (已报告) or closed (已结案)").Required().Enum("located", "reported", "closed")
	caseIP    = caseCmd.Arg("ip", "the flagged IP").Required().String()
	caseClass = caseCmd.Flag("class", "active (主动挖矿), passive (被动挖矿), research (科研) or false-positive (误报)").Required().Enum(campaign.DispositionClasses...)
	caseNote  = caseCmd.Flag("note", fmt.Sprintf("what was found or done 处置说明 (at most %d characters)", casestore.MaxNote)).Default("").String()
	caseUnit  = caseCmd.Flag("unit", "unit id of the IP (default: the unit of its latest series in VictoriaMetrics) 单位").String()
	caseURL   = caseCmd.Flag("url", "VictoriaMetrics URL, read only to find the unit when --unit is not given").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").String()
	caseStore = addStoreFlag(caseCmd)
	// The trace's sources, as the datasource's leaseFiles/accountingFiles settings.
	caseLedger  = caseCmd.Flag("ledger", "台账 unit/asset ledger file (repeatable; YAML or CSV): device and person of the traced host").Envar("MINEWATCH_LEDGER").Strings()
	caseLeases  = caseCmd.Flag("leases", "DHCP租约 DHCP lease file (repeatable; Kea kea-leases4.csv, ISC dhcpd.leases or dnsmasq leases): the MAC of the IP at --at").Envar("MINEWATCH_LEASES").Strings()
	caseRadacct = caseCmd.Flag("radacct", "上网认证计费日志 FreeRADIUS accounting detail file (repeatable): the account of the IP at --at").Envar("MINEWATCH_RADACCT").Strings()
	caseRadZone = caseCmd.Flag("radacct-zone", "计费日志时区 time zone of the detail files' header lines (the RADIUS server's local time)").Default("Asia/Shanghai").String()
	caseMaxGap  = caseCmd.Flag("max-gap", "最大时间差 take the nearest lease or session this close in time when none covers --at").Default("24h").Duration()
	caseAt      = caseCmd.Flag("at", "发现时间 when the IP was seen, the moment it is traced at: RFC 3339 or Beijing time 2006-01-02 15:04[:05] (default: now)").String()

	caseVerifyCmd   = app.Command("case-verify", "verify the case store's hash-chained audit trail (审计链校验): exits non-zero if an entry or record was edited or deleted.")
	caseVerifyStore = addStoreFlag(caseVerifyCmd)
)

func init() {
	commands[caseCmd.FullCommand()] = runCase
	commands[caseVerifyCmd.FullCommand()] = runCaseVerify
}

// osAuthor is the author of CLI writes: the OS user running the command.
func osAuthor() casestore.Author {
	login := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		login = u.Username
	}
	return casestore.Author{Login: login, Role: "operator", Via: casestore.ViaCLI}
}

func runCase() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	unit := *caseUnit
	if unit == "" {
		client, err := api.NewClient(api.Config{Address: *caseURL})
		if err != nil {
			return err
		}
		src := &campaign.Source{API: v1.NewAPI(client), Config: campaign.DefaultConfig()}
		if unit, err = src.UnitOf(ctx, *caseIP, time.Now(), 90*24*time.Hour); err != nil {
			return err
		}
	}
	tr, at, err := caseTracer()
	if err != nil {
		return err // nothing recorded: the disposition is not written without the trace asked for
	}
	st, err := casestore.Open(ctx, *caseStore)
	if err != nil {
		return err
	}
	defer st.Close()
	if tr != nil {
		st.Tracer = tr
	}
	begun := time.Now().Truncate(time.Millisecond)
	d, err := st.Record(ctx, casestore.NewDisposition{IP: *caseIP, Unit: unit, Stage: *caseStage, Class: *caseClass, Note: *caseNote,
		Source: casestore.SourceManual, DetectedAt: at}, osAuthor())
	if err != nil {
		return err
	}
	fmt.Printf("已登记 recorded: case %d %s %s (%s) %s %s by %s %s\n", d.CaseID, d.IP, campaign.StageLabel(d.Stage), d.Stage, d.Unit, d.Class,
		d.Author, d.At.In(beijing()).Format(time.RFC3339))
	if tr != nil {
		if err := printCaseTrace(ctx, st, d, begun); err != nil {
			return err
		}
	}
	return nil
}

// caseTracer loads the trace's files when --leases, --radacct or --ledger
// is given (nil without: no trace, as before), and the moment to trace at (--at,
// zero: now). A file that cannot be read is an error naming it.
func caseTracer() (*trace.Tracer, time.Time, error) {
	var at time.Time
	if *caseAt != "" {
		var err error
		if at, err = notice.ParseTime(*caseAt, false); err != nil {
			return nil, at, fmt.Errorf("--at %q: want RFC 3339 or Beijing time 2006-01-02 15:04", *caseAt)
		}
		if at.After(time.Now()) {
			return nil, at, fmt.Errorf("--at %s（北京时间）is in the future: give when the IP was seen", campaign.FormatTime(at, campaign.Location()))
		}
	}
	if len(*caseLeases) == 0 && len(*caseRadacct) == 0 && len(*caseLedger) == 0 {
		if *caseAt != "" {
			return nil, at, errors.New("--at is the moment of the trace: give --leases, --radacct or --ledger with it")
		}
		return nil, at, nil
	}
	var l *ledger.Ledger
	if len(*caseLedger) > 0 {
		var err error
		if l, err = ledger.Load(*caseLedger, nil); err != nil {
			return nil, at, fmt.Errorf("--ledger: %w", err)
		}
	}
	cfg := trace.DefaultConfiguration()
	cfg.LeaseFiles, cfg.AccountingFiles, cfg.AccountingZone, cfg.MaxGap = *caseLeases, *caseRadacct, *caseRadZone, *caseMaxGap
	tr, err := trace.New(cfg, l, nil)
	if err != nil {
		return nil, at, fmt.Errorf("追溯文件不可读 trace files (--leases, --radacct): %w", err)
	}
	return tr, at, nil
}

// printCaseTrace prints what the trace of this write (kept since begun)
// found for the recorded IP, or says that its case was open before and so
// was not traced again.
func printCaseTrace(ctx context.Context, st *casestore.Store, d casestore.Disposition, begun time.Time) error {
	c, err := st.Case(ctx, campaign.Scope{All: true}, d.CaseID)
	if err != nil {
		return err
	}
	trs, err := st.Traces(ctx, d.CaseID)
	if err != nil {
		return err
	}
	traced := false
	for _, t := range trs {
		if t.IP != d.IP || t.Traced.Before(begun) {
			continue
		}
		traced = true
		var h trace.Host
		if err := json.Unmarshal([]byte(t.Trace), &h); err != nil {
			return fmt.Errorf("trace of %s: %w", t.IP, err)
		}
		fmt.Printf("追溯 traced %s at %s（北京时间）— 设备标识 device %s\n", h.IP, campaign.FormatTime(t.At, campaign.Location()), h.DeviceKey)
		for _, l := range h.Links {
			fmt.Printf("  %-7s %-40s [%s] %s\n", l.Step, orDash(l.Value), l.Certainty.Label(), l.How)
			for _, e := range l.Evidence {
				fmt.Printf("          依据 evidence: %s\n", e)
			}
		}
	}
	if !traced {
		fmt.Printf("案件已在办,未重新追溯 case %d was open: not traced again\n", c.ID)
	}
	if len(c.IPs) > 1 {
		fmt.Printf("同一设备的案件 case %d of the same device holds IP %s\n", c.ID, strings.Join(c.IPs, ", "))
	}
	return nil
}

func runCaseVerify() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := casestore.Open(ctx, *caseVerifyStore)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("审计链完整 audit trail verified: %d entries, head %s\n", v.Entries, v.Head)
	return nil
}

// openStoreForReading opens the case store for the tracker and review. A
// SQLite file that does not exist yet means no disposition was ever
// recorded: the commands go on without one, and say so.
func openStoreForReading(ctx context.Context, dsn string) (*casestore.Store, error) {
	if !casestore.IsPostgres(dsn) {
		if _, err := os.Stat(dsn); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "注意 note: no case store at %s (--store): no dispositions read\n", dsn)
			return nil, nil
		}
	}
	return casestore.Open(ctx, dsn)
}

func beijing() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}
