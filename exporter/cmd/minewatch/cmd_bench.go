package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/ingestbench"
	"github.com/minewatch/minewatch/exporter/proc"
)

// goflow2Version is the collector built for the comparison (the decoder
// version in go.mod).
const goflow2Version = "v2.2.6"

func init() {
	c := app.Command("bench-ingest", "Load harness (摄取压测): replay pre-encoded NetFlow v9, IPFIX and sFlow v5 over loopback at rising "+
		"rates to minewatch-exporter, goflow2's collector, nfdump's nfcapd and pmacct's nfacctd/sfacctd, a fresh receiver per "+
		"step, and print each one's highest loss-free rate (from its own counters or output), CPU and peak memory. "+
		"Loopback only; every step is bounded in time.")
	var (
		receivers = c.Flag("receivers", "receivers to measure").Default("minewatch,goflow2,nfcapd,pmacct").String()
		protocols = c.Flag("protocols", "protocols: v9, ipfix, sflow").Default("v9,ipfix,sflow").String()
		start     = c.Flag("start", "first rate, records/s").Default("200000").Float64()
		factor    = c.Flag("factor", "rate multiplier between steps").Default("1.25").Float64()
		maxRate   = c.Flag("max", "highest rate tried, records/s").Default("4000000").Float64()
		stepDur   = c.Flag("step", "sending time per step").Default("3s").Duration()
		tolerance = c.Flag("tolerance", "loss counted as none (the first datagrams may arrive before a receiver has the templates)").Default("0.001").Float64()
		workdir   = c.Flag("workdir", "where receivers write and goflow2 is built").Default(".cache/bench").String()
		exporter  = c.Flag("exporter-bin", "minewatch-exporter binary (default: next to this binary, then PATH)").String()
		goflow2   = c.Flag("goflow2-bin", "goflow2 binary (default: built from the Go module proxy into --workdir)").String()
		scale     = c.Flag("scale-hosts", "then feed this many distinct internal hosts to the exporter and report state size and series (0: skip)").Default("1000000").Int()
		profile   = c.Flag("profile", "write CPU and allocation profiles of the exporter at its highest loss-free v9 rate into this directory").String()
		asJSON    = c.Flag("json", "print JSON instead of tables").Bool()
	)
	commands[c.FullCommand()] = func() error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := os.MkdirAll(*workdir, 0o755); err != nil {
			return err
		}
		dir, err := filepath.Abs(*workdir)
		if err != nil {
			return err
		}
		var rcs []ingestbench.Receiver
		for _, name := range strings.Split(*receivers, ",") {
			rc, err := benchReceiver(strings.TrimSpace(name), dir, *exporter, *goflow2)
			if err != nil {
				return err
			}
			rcs = append(rcs, rc)
		}
		var protos []flow.Protocol
		for _, p := range strings.Split(*protocols, ",") {
			switch strings.TrimSpace(p) {
			case "v9":
				protos = append(protos, flow.NetFlowV9)
			case "ipfix":
				protos = append(protos, flow.IPFIX)
			case "sflow":
				protos = append(protos, flow.SFlowV5)
			default:
				return fmt.Errorf("--protocols: unknown %q (v9, ipfix, sflow)", p)
			}
		}
		say := func(s string) {
			if !*asJSON {
				fmt.Fprintln(os.Stderr, "  "+s)
			}
		}
		opts := ingestbench.DriverOptions{Start: *start, Factor: *factor, Max: *maxRate, Step: *stepDur, Tolerance: *tolerance, Dir: dir}
		var rows []ingestbench.Row
		for _, p := range protos {
			t := ingestbench.Build(p, ingestbench.Options{})
			say(fmt.Sprintf("%s: %d datagrams of %d records cycled (%d distinct records, 20,000 hosts, 100,000 remote endpoints)",
				p, len(t.Datagrams), t.PerPacket, t.TotalRecs))
			for _, rc := range rcs {
				if !rc.Supports(p) {
					say(fmt.Sprintf("%s does not take %s: skipped", rc.Name(), p))
					continue
				}
				rows = append(rows, ingestbench.Run(ctx, rc, t, opts, say))
			}
		}
		var sc *ingestbench.Scale
		if *scale > 0 && ctx.Err() == nil {
			for _, rc := range rcs {
				if ex, ok := rc.(ingestbench.Exporter); ok {
					say(fmt.Sprintf("state scale: %d distinct hosts into minewatch-exporter", *scale))
					if sc, err = ingestbench.RunScale(ctx, ex, *scale, dir); err != nil {
						return err
					}
				}
			}
		}
		if *profile != "" && ctx.Err() == nil {
			if err := benchProfile(ctx, rcs, rows, opts, *profile, say); err != nil {
				return err
			}
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"rows": rows, "scale": sc})
		}
		return printBench(rows, sc)
	}
}

func benchReceiver(name, dir, exporterBin, goflow2Bin string) (ingestbench.Receiver, error) {
	port := proc.FreePort
	switch name {
	case "minewatch":
		if exporterBin == "" {
			self, _ := os.Executable()
			exporterBin = filepath.Join(filepath.Dir(self), "minewatch-exporter")
			if _, err := os.Stat(exporterBin); err != nil {
				if exporterBin, err = exec.LookPath("minewatch-exporter"); err != nil {
					return nil, fmt.Errorf("minewatch-exporter not found next to %s nor in PATH: run make build", self)
				}
			}
		}
		return ingestbench.Exporter{Bin: exporterBin, HTTPPort: port}, nil
	case "goflow2":
		if goflow2Bin == "" {
			var err error
			if goflow2Bin, err = buildGoflow2(dir); err != nil {
				return nil, err
			}
		}
		return ingestbench.Goflow2{Bin: goflow2Bin, HTTPPort: port}, nil
	case "nfcapd":
		bin, err := exec.LookPath("nfcapd")
		if err != nil {
			return nil, fmt.Errorf("nfcapd not found: apt-get install nfdump")
		}
		nfdump, err := exec.LookPath("nfdump")
		if err != nil {
			return nil, fmt.Errorf("nfdump not found: apt-get install nfdump")
		}
		return ingestbench.Nfcapd{Bin: bin, Nfdump: nfdump}, nil
	case "pmacct":
		nf, err := exec.LookPath("nfacctd")
		if err != nil {
			return nil, fmt.Errorf("nfacctd not found: apt-get install pmacct")
		}
		sf, err := exec.LookPath("sfacctd")
		if err != nil {
			return nil, fmt.Errorf("sfacctd not found: apt-get install pmacct")
		}
		return ingestbench.Pmacct{Nfacctd: nf, Sfacctd: sf}, nil
	}
	return nil, fmt.Errorf("--receivers: unknown %q (minewatch, goflow2, nfcapd, pmacct)", name)
}

// buildGoflow2 builds goflow2's collector from the Go module proxy into dir
// (once): the same module version as the decoder minewatch uses.
func buildGoflow2(dir string) (string, error) {
	bin := filepath.Join(dir, "bin", "goflow2-"+goflow2Version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	src := filepath.Join(dir, "goflow2-build")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "building goflow2 %s from the Go module proxy…\n", goflow2Version)
	steps := [][]string{
		{"go", "mod", "init", "goflow2build"},
		{"go", "get", "github.com/netsampler/goflow2/v2/cmd/goflow2@" + goflow2Version},
		{"go", "build", "-o", bin, "github.com/netsampler/goflow2/v2/cmd/goflow2"},
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err == nil {
		steps = steps[1:]
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building goflow2 (%s): %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return bin, nil
}

// benchProfile runs the exporter at its highest loss-free v9 rate and saves
// CPU and allocation profiles taken while it receives.
func benchProfile(ctx context.Context, rcs []ingestbench.Receiver, rows []ingestbench.Row, o ingestbench.DriverOptions, out string, say func(string)) error {
	var ex *ingestbench.Exporter
	for _, rc := range rcs {
		if e, ok := rc.(ingestbench.Exporter); ok {
			ex = &e
		}
	}
	rate := 0.0
	for _, r := range rows {
		if r.Receiver == "minewatch-exporter" && r.Protocol == flow.NetFlowV9.String() {
			rate = r.MaxRate
		}
	}
	if ex == nil || rate == 0 {
		return fmt.Errorf("--profile needs a NetFlow v9 result of minewatch")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	say(fmt.Sprintf("profiling minewatch-exporter at %.0f records/s", rate))
	return ingestbench.Profile(ctx, *ex, ingestbench.Build(flow.NetFlowV9, ingestbench.Options{}), rate, 10*time.Second, o.Dir, out)
}

func printBench(rows []ingestbench.Row, sc *ingestbench.Scale) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "receiver\tprotocol\tloss-free records/s\tCPU (cores)\tpeak memory\tvs minewatch\t")
	ours := map[string]float64{}
	for _, r := range rows {
		if r.Receiver == "minewatch-exporter" {
			ours[r.Protocol] = r.MaxRate
		}
	}
	for _, r := range rows {
		rate := fmt.Sprintf("%.0f", r.MaxRate)
		if r.Limited {
			rate = "≥" + rate + " (sender-limited)"
		}
		if r.Err != "" {
			rate = "error: " + r.Err
		}
		ratio := "-"
		if o := ours[r.Protocol]; o > 0 && r.MaxRate > 0 && r.Receiver != "minewatch-exporter" {
			ratio = fmt.Sprintf("ours ×%.2f", o/r.MaxRate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%d MiB\t%s\t\n", r.Receiver, r.Protocol, rate, r.At.CPU, r.At.PeakRSS>>20, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sc != nil {
		fmt.Printf("\nstate scale: %d distinct hosts sent, %.0f tracked, %.0f bytes of state (%.0f B/host by the gauge), peak RSS %d MiB (%.0f B/host), "+
			"%d per-host series of %d in /metrics for %d hosts talking to the pool\n",
			sc.HostsSent, sc.HostsTracked, sc.StateBytes, sc.BytesPerHost, sc.PeakRSS>>20, sc.RSSPerHost, sc.HostSeries, sc.TotalSeries, sc.Suspects)
	}
	return nil
}
