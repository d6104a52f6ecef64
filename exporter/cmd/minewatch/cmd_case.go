package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
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
	caseCmd   = app.Command("case", "record a case disposition (处置登记): located, reported or closed. Written to the case store with you (the OS user) as author.")
	caseStage = caseCmd.Arg("stage", "located (已定位), reported (已报告) or closed (已结案)").Required().Enum("located", "reported", "closed")
	caseIP    = caseCmd.Arg("ip", "the flagged IP").Required().String()
	caseClass = caseCmd.Flag("class", "active (主动挖矿), passive (被动挖矿), research (科研) or false-positive (误报)").Required().Enum(campaign.DispositionClasses...)
	caseNote  = caseCmd.Flag("note", fmt.Sprintf("what was found or done 处置说明 (at most %d characters)", casestore.MaxNote)).Default("").String()
	caseUnit  = caseCmd.Flag("unit", "unit id of the IP (default: the unit of its latest series in VictoriaMetrics) 单位").String()
	caseURL   = caseCmd.Flag("url", "VictoriaMetrics URL, read only to find the unit when --unit is not given").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").String()
	caseStore = addStoreFlag(caseCmd)

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
	st, err := casestore.Open(ctx, *caseStore)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.Record(ctx, casestore.NewDisposition{IP: *caseIP, Unit: unit, Stage: *caseStage, Class: *caseClass, Note: *caseNote, Source: casestore.SourceManual}, osAuthor())
	if err != nil {
		return err
	}
	fmt.Printf("已登记 recorded: case %d %s %s (%s) %s %s by %s %s\n", d.CaseID, d.IP, campaign.StageLabel(d.Stage), d.Stage, d.Unit, d.Class,
		d.Author, d.At.In(beijing()).Format(time.RFC3339))
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
