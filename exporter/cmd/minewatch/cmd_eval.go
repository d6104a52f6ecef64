package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/minewatch/minewatch/exporter/eval"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/sim"
)

func init() {
	c := app.Command("eval", "Score the detector on a simulated scenario against its ground truth, offline and as fast as the CPU allows "+
		"(检测效果评估): detection rate, false positives, precision, F1, time to flag and class-hint accuracy, "+
		"per mining behaviour and overall, at each sampling rate.")
	var (
		scenarios = c.Flag("scenario", "scenario YAML file (repeatable), e.g. exporter/scenarios/school-week.yaml").Required().ExistingFiles()
		rates     = c.Flag("rates", "comma-separated sampling rates to evaluate: unsampled, netflow-1:100, sflow-1:256, sflow-1:1024").
				Default("unsampled,netflow-1:100,sflow-1:256,sflow-1:1024").String()
		asJSON = c.Flag("json", "print JSON instead of a table").Bool()
		thr    = c.Flag("threshold", "score at or above which a host is flagged (the exporter's default when 0)").Float64()
		why    = c.Flag("why", "also list the first false-positive hosts of each rate with the reasons they were flagged").Bool()
	)
	commands[c.FullCommand()] = func() error {
		var sel []eval.Rate
		for _, name := range strings.Split(*rates, ",") {
			found := false
			for _, r := range eval.DefaultRates {
				if r.Name == strings.TrimSpace(name) {
					sel, found = append(sel, r), true
				}
			}
			if !found {
				return fmt.Errorf("--rates: unknown rate %q", name)
			}
		}
		cfg := score.DefaultConfig()
		if *thr > 0 {
			cfg.Threshold = *thr
		}
		var results []*eval.Result
		for _, f := range *scenarios {
			s, err := sim.Load(f)
			if err != nil {
				return err
			}
			res, err := eval.Run(s, sel, cfg, func(rate string) {
				if !*asJSON {
					fmt.Fprintf(os.Stderr, "%s: simulating and scoring at %s…\n", s.Name, rate)
				}
			})
			if err != nil {
				return err
			}
			results = append(results, res)
			if !*asJSON {
				if err := eval.WriteTable(os.Stdout, res); err != nil {
					return err
				}
				for _, r := range sel {
					for _, fp := range res.FPList[r.Name] {
						if *why {
							fmt.Printf("false positive at %s: %s\n", r.Name, fp)
						}
					}
				}
				fmt.Println()
			}
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(results)
		}
		return nil
	}
}
