package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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
		scenarios = c.Flag("scenario", "scenario YAML file (repeatable), e.g. exporter/scenarios/school-week.yaml").ExistingFiles()
		captures  = c.Flag("captures", "also score the real packet captures of this directory (testdata/real-mining-pcaps of the shared "+
			"material: stratum.pcap, zcash.pcap, ethereum.pcap, ssl.pcapng, spotify.pcapng), exported to IPFIX by softflowd and pmacctd, "+
			"with and without their pools in the intel (真实抓包评估)").ExistingDir()
		softflowd = c.Flag("softflowd", "softflowd binary for --captures (Debian package softflowd)").Default("softflowd").String()
		pmacctd   = c.Flag("pmacctd", "pmacctd binary for --captures (Debian package pmacct)").Default("pmacctd").String()
		rates     = c.Flag("rates", "comma-separated sampling rates to evaluate: unsampled, netflow-1:100, sflow-1:256, sflow-1:1024").
				Default("unsampled,netflow-1:100,sflow-1:256,sflow-1:1024").String()
		asJSON = c.Flag("json", "print JSON instead of a table").Bool()
		thr    = c.Flag("threshold", "score at or above which a host is flagged (the exporter's default when 0)").Float64()
		probe  = c.Flag("probe", "put a model of the active prober in the loop: suspects' endpoints are answered as the scenario's servers would (its pools confirm, others refute); --no-probe scores as an exporter with probe.enabled false").Default("true").Bool()
		why    = c.Flag("why", "also list the first false-positive hosts of each rate with the reasons they were flagged").Bool()
	)
	commands[c.FullCommand()] = func() error {
		if len(*scenarios) == 0 && *captures == "" {
			return fmt.Errorf("give --scenario (a scenario YAML file) or --captures (a directory of real captures), or both")
		}
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
			res, err := eval.Run(s, sel, cfg, eval.Options{Probe: *probe}, func(rate string) {
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
		var capRows []eval.CaptureRow
		if *captures != "" {
			var exps []eval.Exporter
			for _, e := range []struct{ name, bin, pkg string }{{"softflowd", *softflowd, "softflowd"}, {"pmacctd", *pmacctd, "pmacct"}} {
				bin, err := exec.LookPath(e.bin)
				if err != nil {
					fmt.Fprintf(os.Stderr, "real captures: %s not found (apt-get install %s, or --%s PATH): its rows are left out\n", e.name, e.pkg, e.name)
					continue
				}
				exps = append(exps, eval.Exporter{Name: e.name, Bin: bin})
			}
			if len(exps) == 0 {
				return fmt.Errorf("--captures needs softflowd or pmacctd (Debian packages softflowd, pmacct)")
			}
			if !*asJSON {
				fmt.Fprintf(os.Stderr, "real captures: exporting and scoring…\n")
			}
			var err error
			if capRows, err = eval.Captures(*captures, exps, cfg); err != nil {
				return err
			}
			if !*asJSON {
				if err := eval.WriteCaptures(os.Stdout, capRows); err != nil {
					return err
				}
			}
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			if capRows != nil {
				return enc.Encode(struct {
					Scenarios []*eval.Result    `json:"scenarios"`
					Captures  []eval.CaptureRow `json:"captures"`
				}{results, capRows})
			}
			return enc.Encode(results)
		}
		return nil
	}
}
