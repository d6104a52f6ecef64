package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

var (
	trackerCmd    = app.Command("tracker", "IP清零 tracker: one record per IP flagged in the range (a table when it fits the terminal, else one block per IP).")
	trackerFlags  = addCampaignFlags(trackerCmd).addEnergyFlags(trackerCmd)
	trackerStates = trackerCmd.Flag("state", "only IPs in this state: mining, quiet, cleared, relapsed (repeatable) 状态").Enums("mining", "quiet", "cleared", "relapsed")
	trackerFrom   = trackerCmd.Flag("from", "range start, RFC 3339 (default: 7 days before --to)").String()
	trackerTo     = trackerCmd.Flag("to", "range end and moment of judgement, RFC 3339 (default: now)").String()
)

func init() {
	commands[trackerCmd.FullCommand()] = runTracker
}

func runTracker() error {
	src, err := trackerFlags.source()
	if err != nil {
		return err
	}
	to := time.Now()
	if *trackerTo != "" {
		if to, err = time.Parse(time.RFC3339, *trackerTo); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	from := to.AddDate(0, 0, -7) // the default range: a week
	if *trackerFrom != "" {
		if from, err = time.Parse(time.RFC3339, *trackerFrom); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if !from.Before(to) {
		return fmt.Errorf("--from %s is not before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	ctx, cancel := context.WithTimeout(context.Background(), trackerFlags.timeout)
	defer cancel()
	rows, err := src.Tracker(ctx, trackerFlags.filter(), *trackerStates, from, to, nil)
	if err != nil {
		return trackerFlags.explain(err)
	}
	loc := src.Config.Location
	if trackerFlags.format == "table" {
		// Devices as well as IPs: a PC that DHCP moved is one device (the device column).
		fmt.Printf("IP清零台账 tracker %s – %s（北京时间）: %d IP, %d 台设备 devices\n", campaign.FormatTime(from, loc), campaign.FormatTime(to, loc), len(rows), campaign.CountDevices(rows))
	}
	return campaign.RenderFit(os.Stdout, campaign.TrackerTable(rows), trackerFlags.format, loc, trackerFlags.termWidth())
}
