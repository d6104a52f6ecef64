package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

var (
	caseCmd   = app.Command("case", "record a case disposition (处置登记): located, reported or closed.")
	caseStage = caseCmd.Arg("stage", "located (已定位), reported (已报告) or closed (已结案)").Required().Enum("located", "reported", "closed")
	caseIP    = caseCmd.Arg("ip", "the flagged IP").Required().String()
	caseClass = caseCmd.Flag("class", "active (主动挖矿), passive (被动挖矿), research (科研) or false-positive (误报)").Required().Enum(campaign.DispositionClasses...)
	caseNote  = caseCmd.Flag("note", "what was found or done 处置说明").Default("").String()
	caseUnit  = caseCmd.Flag("unit", "unit id of the IP (default: the unit of its latest series) 单位").String()
	caseURL   = caseCmd.Flag("url", "VictoriaMetrics URL (single node; a cluster needs the vminsert prefix for writes)").Default("http://127.0.0.1:8428").Envar("MINEWATCH_VM_URL").String()
)

func init() {
	commands[caseCmd.FullCommand()] = runCase
}

func runCase() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	unit := *caseUnit
	if unit == "" {
		client, err := api.NewClient(api.Config{Address: *caseURL})
		if err != nil {
			return err
		}
		src := &campaign.Source{API: v1.NewAPI(client), Config: campaign.DefaultConfig()}
		if unit, err = src.UnitOf(ctx, *caseIP, now, 90*24*time.Hour); err != nil {
			return err
		}
	}
	d := campaign.Disposition{IP: *caseIP, Unit: unit, Stage: *caseStage, Class: *caseClass, Note: *caseNote, At: now}
	if err := campaign.RecordDisposition(ctx, http.DefaultClient, *caseURL, d); err != nil {
		return err
	}
	fmt.Printf("已登记 recorded: %s %s (%s) %s %s %s\n", d.IP, campaign.StageLabel(d.Stage), d.Stage, d.Unit, d.Class, now.Format(time.RFC3339))
	return nil
}
