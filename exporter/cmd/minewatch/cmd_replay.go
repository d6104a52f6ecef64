package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/replay"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/server"
)

func init() {
	c := app.Command("replay", "Score a capture of flow-export packets (NetFlow/IPFIX/sFlow over UDP, pcap or pcapng) on the capture's own clock "+
		"(回放流量导出抓包并评分). Optionally writes the scores into VictoriaMetrics as history.")
	var (
		capture   = c.Arg("capture", "pcap/pcapng file of export datagrams").Required().ExistingFile()
		cfgFile   = c.Flag("config", "exporter configuration (ledger, intel, sampling, detect settings)").Short('c').ExistingFile()
		ledgers   = c.Flag("ledger", "ledger file, YAML or CSV (repeatable; adds to the config's)").ExistingFiles()
		intels    = c.Flag("intel", "pool intel list (repeatable)").ExistingFiles()
		importURL = c.Flag("import-url", "VictoriaMetrics base URL: write per-host series with the capture's timestamps, e.g. http://127.0.0.1:8428").String()
		step      = c.Flag("step", "flow time between snapshots written to VictoriaMetrics").Default("1m").Duration()
		nfPorts   = c.Flag("netflow-port", "UDP ports carrying NetFlow/IPFIX (default 2055, 9995, 9996, 4739)").Uint16List()
		sfPorts   = c.Flag("sflow-port", "UDP ports carrying sFlow (default 6343)").Uint16List()
		quiet     = c.Flag("quiet", "no progress bar").Bool()
	)
	commands[c.FullCommand()] = func() error {
		cfg := config.Default()
		if *cfgFile != "" {
			var err error
			if cfg, err = config.Load(*cfgFile); err != nil {
				return err
			}
		}
		cfg.Ledger.Files = append(cfg.Ledger.Files, *ledgers...)
		cfg.Intel.Files = append(cfg.Intel.Files, *intels...)
		if len(cfg.Ledger.Files) == 0 {
			return fmt.Errorf("replay needs a ledger (--ledger or --config): it says which addresses are internal")
		}
		p, err := buildPipeline(cfg)
		if err != nil {
			return err
		}
		var hist *pipeline.History
		if *importURL != "" {
			hist = p.NewHistory(strings.TrimRight(*importURL, "/")+"/api/v1/import/prometheus", *step)
		}
		dec := flow.NewDecoder(flow.Options{DefaultSampling: cfg.Sampling.DefaultRate, Sampling: server.SamplingOverrides(cfg),
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})

		opts := replay.Options{NetFlowPorts: *nfPorts, SFlowPorts: *sfPorts}
		var bar *progressbar.ProgressBar
		if !*quiet {
			st, _ := os.Stat(*capture)
			bar = newBar(st.Size(), "回放 replaying", true)
			opts.Progress = func(done, total int64) { bar.Set64(done) } //nolint:errcheck // display only
		}
		var histErr error
		var last int64
		stats, err := replay.File(*capture, dec, opts, func(r *flow.Record) {
			p.Process(r)
			if r.End > last {
				last = r.End
			}
			if hist != nil && histErr == nil {
				histErr = hist.Advance(r.End)
			}
		})
		if bar != nil {
			bar.Finish() //nolint:errcheck // display only
		}
		if err != nil {
			return err
		}
		if histErr != nil {
			return histErr
		}
		if hist != nil {
			if err := hist.Close(last); err != nil {
				return err
			}
		} else {
			p.Tick(last)
		}
		fmt.Printf("capture %s: %d packets, %d export datagrams, %d flow records, %d decode errors, %s – %s\n",
			*capture, stats.Packets, stats.Datagrams, stats.Records, stats.Errors,
			stats.First.Format(time.RFC3339), stats.Last.Format(time.RFC3339))
		if hist != nil {
			fmt.Printf("wrote %d snapshots (every %s of flow time) into %s\n", hist.Snapshots, *step, *importURL)
		}
		printHosts(os.Stdout, p.Engine())
		return nil
	}
}

// buildPipeline loads the ledger and intel of a configuration into a pipeline.
func buildPipeline(cfg *config.Config) (*pipeline.Pipeline, error) {
	led, err := ledger.Load(cfg.Ledger.Files, cfg.Ledger.ExtraInternal)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	store := intel.NewStore(intel.Options{Lists: cfg.Intel.Files, Allowlists: cfg.Intel.Allowlist})
	if err := store.Load(); err != nil {
		return nil, fmt.Errorf("intel: %w", err)
	}
	return pipeline.New(pipeline.Options{Ledger: led, Intel: store, Detect: server.DetectConfig(cfg)})
}

// printHosts lists the watched hosts, flagged first, with their reasons.
func printHosts(w io.Writer, e *score.Engine) {
	var reps []*score.Report
	e.Watched(func(r *score.Report) { reps = append(reps, r) })
	sort.Slice(reps, func(i, j int) bool {
		if reps[i].Mining != reps[j].Mining {
			return reps[i].Mining
		}
		return reps[i].Score > reps[j].Score
	})
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\t单位 unit\t评分 score\t挖矿 mining\t类别 class\t机器 machines\t依据 reasons")
	for _, r := range reps {
		var rs []string
		for _, x := range r.Reasons {
			rs = append(rs, fmt.Sprintf("%s%+.0f", x.Signal, x.Points))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%v\t%s\t%d\t%s\n", r.IP, r.Unit, r.Score, r.Mining, r.Class, r.Machines, strings.Join(rs, " "))
	}
	tw.Flush()
	if len(reps) == 0 {
		fmt.Fprintln(w, "没有可疑主机 no suspicious hosts")
	}
}
