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

	"github.com/minewatch/minewatch/exporter/backfill"
	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/replay"
	"github.com/minewatch/minewatch/exporter/score"
)

func init() {
	c := app.Command("replay", "Score a capture of flow-export packets (NetFlow/IPFIX/sFlow over UDP, pcap or pcapng) on the capture's own clock "+
		"(回放流量导出抓包并评分). Optionally writes the scores into VictoriaMetrics as history. A capture that cannot be read "+
		"to its end (corrupt, not a capture) or in which no datagram decodes makes it exit non-zero, after scoring and "+
		"writing what could be read.")
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
		p, err := backfill.NewPipeline(cfg)
		if err != nil {
			return err
		}
		dec := backfill.NewDecoder(cfg, flow.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		bf, err := backfill.New(backfill.Options{Pipeline: p, Decoder: dec, ImportURL: *importURL, Step: *step})
		if err != nil {
			return err
		}
		opts := replay.Options{NetFlowPorts: *nfPorts, SFlowPorts: *sfPorts}
		if !*quiet {
			progress := barProgress(true)
			opts.Progress = func(done, total int64) { progress("回放 replaying", done, total) }
		}
		stats, replayErr := bf.Capture(*capture, opts)
		if err := bf.Close(); err != nil {
			return err
		}
		if replayErr != nil && stats.Packets == 0 {
			return fmt.Errorf("cannot replay the capture: %w", replayErr)
		}
		fmt.Printf("capture %s: %d packets, %d export datagrams, %d flow records, %d decode errors, %s – %s\n",
			*capture, stats.Packets, stats.Datagrams, stats.Records, stats.Errors,
			stats.First.Format(time.RFC3339), stats.Last.Format(time.RFC3339))
		if *importURL != "" {
			fmt.Printf("wrote %d snapshots (every %s of flow time) into %s\n", bf.Snapshots(), *step, *importURL)
		}
		printHosts(os.Stdout, p.Engine())
		return replayVerdict(*capture, stats, replayErr)
	}
}

// replayVerdict is the replay's exit status: an error when the capture could
// not be read to its end, or when it has export datagrams and not one of
// them decoded (not flow exports, or corrupt ones). The figures printed
// above cover what was read.
func replayVerdict(capture string, st replay.Stats, err error) error {
	if err != nil {
		return fmt.Errorf("the capture is corrupt after its first %d packets (抓包文件损坏; the figures above cover those): %w",
			st.Packets, err)
	}
	if st.Datagrams > 0 && st.Records == 0 && st.Errors == st.Datagrams {
		return fmt.Errorf("%s: none of its %d export datagrams decoded (抓包中没有可解码的流记录): not NetFlow/IPFIX/sFlow, "+
			"or corrupt; --netflow-port/--sflow-port say which UDP ports carry which", capture, st.Datagrams)
	}
	return nil
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
