package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
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
	c := app.Command("bench-ingest", "Load harness (摄取压测): replay pre-encoded NetFlow v9, IPFIX and sFlow v5 over loopback to "+
		"minewatch-exporter, goflow2's collector, nfdump's nfcapd and pmacct's nfacctd/sfacctd, a fresh receiver per step, and "+
		"print each one's highest loss-free rate (from its own counters or output), the CPU it used and its peak memory. "+
		"Each search climbs a coarse ladder (--factor) until a rate loses records, then bisects to within --precision; "+
		"every receiver and protocol is measured --runs times, interleaved, and the median and spread are printed. "+
		"Then the exporter's state at scale (10k–1M hosts, many sessions per host). Loopback only; the total time is "+
		"bounded and printed before it starts. Quick look: --runs 1 --protocols v9 --receivers minewatch,nfcapd --scale-hosts 0.")
	var (
		receivers = c.Flag("receivers", "receivers to measure: minewatch, goflow2, nfcapd, pmacct").Default("minewatch,goflow2,nfcapd,pmacct").String()
		protocols = c.Flag("protocols", "protocols: v9, ipfix, sflow").Default("v9,ipfix,sflow").String()
		runs      = c.Flag("runs", "searches per receiver and protocol (median and spread printed)").Default("3").Int()
		start     = c.Flag("start", "first rate of the first run, records/s (later runs start one --factor below the median so far)").Default("100000").Float64()
		factor    = c.Flag("factor", "rate multiplier between steps of the coarse ladder").Default("1.5").Float64()
		precision = c.Flag("precision", "bisect until the first lossy rate is within this share above the loss-free one").Default("0.03").Float64()
		maxRate   = c.Flag("max", "highest rate tried, records/s").Default("6000000").Float64()
		minRate   = c.Flag("min", "lowest rate tried when --start already loses records (0: --start/factor⁴)").Default("0").Float64()
		stepDur   = c.Flag("step", "sending time per step").Default("3s").Duration()
		tolerance = c.Flag("tolerance", "loss counted as none (the first datagrams may arrive before a receiver has the templates)").Default("0.001").Float64()
		workdir   = c.Flag("workdir", "where receivers write and goflow2 is built").Default(".cache/bench").String()
		exporter  = c.Flag("exporter-bin", "minewatch-exporter binary (default: next to this binary, then PATH)").String()
		goflow2   = c.Flag("goflow2-bin", "goflow2 binary (default: built from the Go module proxy into --workdir)").String()
		scale     = c.Flag("scale-hosts", "then feed 10k, 100k, … up to this many distinct internal hosts to the exporter and report per-record cost, state size and series (0: skip)").Default("1000000").Int()
		sessions  = c.Flag("scale-sessions", "with --scale-hosts: also 1 host × 10k remote endpoints and 10k hosts × 50 sessions").Default("true").Bool()
		profile   = c.Flag("profile", "write CPU and allocation profiles of the exporter at its median loss-free v9 rate into this directory").String()
		cpuAt     = c.Flag("cpu-at", "then send every receiver and protocol these fixed rates (records/s, comma-separated; --runs times, interleaved) and print its CPU per record: "+
			"steadier than the loss-free rate on a shared machine; a receiver whose loss-free rate is below a rate is not sent it (empty: skip)").Default("300000,2000000").String()
		pin = c.Flag("pin", "run the sender on this process's first CPU and every receiver on the others (one on a 2-core machine): "+
			"each receiver then has the same cores to itself and its figures are per those cores, not shared with the sender (--no-pin: let the kernel place both)").Default("true").Bool()
		asJSON = c.Flag("json", "print JSON instead of tables").Bool()
	)
	commands[c.FullCommand()] = func() error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if *runs < 1 || *factor <= 1 || *precision <= 0 || *start <= 0 || *maxRate < *start {
			return fmt.Errorf("need --runs ≥ 1, --factor > 1, --precision > 0 and 0 < --start ≤ --max")
		}
		if err := os.MkdirAll(*workdir, 0o755); err != nil {
			return err
		}
		dir, err := filepath.Abs(*workdir)
		if err != nil {
			return err
		}
		var pinning *ingestbench.Pinning
		if *pin {
			if pinning, err = ingestbench.Pin(); err != nil {
				return fmt.Errorf("%w (--no-pin to run unpinned)", err)
			}
			defer ingestbench.Unpin(pinning) //nolint:errcheck // the process ends
		}
		var rcs []ingestbench.Receiver
		for _, name := range strings.Split(*receivers, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			rc, err := benchReceiver(name, dir, *exporter, *goflow2)
			if err != nil {
				return err
			}
			rcs = append(rcs, rc)
		}
		var rates []float64
		for _, f := range strings.Split(*cpuAt, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			r, err := strconv.ParseFloat(f, 64)
			if err != nil || r <= 0 {
				return fmt.Errorf("--cpu-at: %q is not a rate in records/s", f)
			}
			rates = append(rates, r)
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
			case "":
			default:
				return fmt.Errorf("--protocols: unknown %q (v9, ipfix, sflow)", p)
			}
		}
		say := func(s string) {
			if !*asJSON {
				fmt.Fprintln(os.Stderr, "  "+s)
			}
		}
		plan := ingestbench.Plan{Receivers: rcs, Protocols: protos, Runs: *runs, Options: ingestbench.DriverOptions{
			Start: *start, Factor: *factor, Max: *maxRate, Min: *minRate, Precision: *precision,
			Step: *stepDur, Tolerance: *tolerance, Dir: dir}}
		var cases []ingestbench.ScaleCase
		if *scale > 0 && slices.ContainsFunc(rcs, func(rc ingestbench.Receiver) bool { _, ok := rc.(ingestbench.Exporter); return ok }) {
			cases = ingestbench.ScaleCases(*scale, *sessions)
		}
		placement := "not pinned: the kernel places the sender and the receivers on any core"
		if pinning != nil {
			placement = fmt.Sprintf("pinned: sender on CPU %d, receivers on CPU %s (figures per those cores)", pinning.Sender, cpuNames(pinning.Receivers))
		}
		say(placement)
		steps, d := plan.Bound()
		cpuSteps, cd := plan.CPUBound(rates)
		sd := ingestbench.ScaleTime(cases)
		say(fmt.Sprintf("plan: %d run(s) × %d receiver/protocol pairs, interleaved; at most %d steps of %v (+ ~%v start/stop each): ≤ %v, "+
			"usually about half; then at most %d fixed-rate CPU steps, ≤ %v; then %d state-scale cases, ~%v",
			plan.Runs, len(plan.Pairs()), steps, *stepDur, ingestbench.StepOverhead, d.Round(10*time.Second), cpuSteps, cd.Round(10*time.Second),
			len(cases), sd.Round(10*time.Second)))
		traffic := map[flow.Protocol]*ingestbench.Traffic{}
		for _, p := range protos {
			t := ingestbench.Build(p, ingestbench.Options{})
			traffic[p] = t
			say(fmt.Sprintf("%s: %d datagrams of %d records cycled (%d distinct records, 20,000 hosts, 100,000 remote endpoints)",
				p, len(t.Datagrams), t.PerPacket, t.TotalRecs))
		}
		sums := ingestbench.RunPlan(ctx, plan, traffic, say)
		var cpus []ingestbench.CPUAt
		if len(rates) > 0 && ctx.Err() == nil {
			cpus = ingestbench.MeasureCPU(ctx, plan, rates, sums, traffic, say)
		}
		var scales []*ingestbench.Scale
		if ex, ok := benchExporter(rcs); ok && ctx.Err() == nil {
			for _, cs := range cases {
				say(fmt.Sprintf("state scale: %s into minewatch-exporter", cs.Name))
				sc, err := ingestbench.RunScale(ctx, ex, cs, dir)
				if err != nil {
					return err
				}
				scales = append(scales, sc)
			}
		}
		if *profile != "" && ctx.Err() == nil {
			if err := benchProfile(ctx, rcs, sums, plan.Options, *profile, say); err != nil {
				return err
			}
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"pinning": pinning, "summaries": sums, "cpu_at_fixed_rates": cpus, "scale": scales, "targets": ingestbench.Targets(sums, scales)})
		}
		fmt.Println(placement)
		if err := printBench(sums, plan.Runs); err != nil {
			return err
		}
		if err := printCPU(cpus, plan.Runs); err != nil {
			return err
		}
		if err := printScale(scales); err != nil {
			return err
		}
		return printTargets(ingestbench.Targets(sums, scales))
	}
}

// cpuNames lists CPU numbers as "1" or "1,2,3".
func cpuNames(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// benchExporter is the minewatch receiver among rcs, if any.
func benchExporter(rcs []ingestbench.Receiver) (ingestbench.Exporter, bool) {
	for _, rc := range rcs {
		if ex, ok := rc.(ingestbench.Exporter); ok {
			return ex, true
		}
	}
	return ingestbench.Exporter{}, false
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

// benchProfile runs the exporter at its median loss-free v9 rate and saves
// CPU and allocation profiles taken while it receives.
func benchProfile(ctx context.Context, rcs []ingestbench.Receiver, sums []ingestbench.Summary, o ingestbench.DriverOptions, out string, say func(string)) error {
	ex, ok := benchExporter(rcs)
	rate := 0.0
	for _, s := range sums {
		if s.Receiver == ex.Name() && s.Protocol == flow.NetFlowV9.String() {
			rate = s.Median
		}
	}
	if !ok || rate == 0 {
		return fmt.Errorf("--profile needs a NetFlow v9 result of minewatch")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	say(fmt.Sprintf("profiling minewatch-exporter at %.0f records/s", rate))
	return ingestbench.Profile(ctx, ex, ingestbench.Build(flow.NetFlowV9, ingestbench.Options{}), rate, 10*time.Second, o.Dir, out)
}

// lowestLossy says where a receiver with no loss-free rate still lost
// records (its socket overflows even at the floor of the search).
func lowestLossy(s ingestbench.Summary) string {
	var lo ingestbench.Step
	for _, r := range s.Runs {
		for _, st := range r.Steps {
			if lo.Rate == 0 || st.Rate < lo.Rate {
				lo = st
			}
		}
	}
	if lo.Rate == 0 {
		return ""
	}
	return fmt.Sprintf(" (lost %.2f %% even at %.0f/s)", 100*lo.Loss, lo.Rate)
}

func printBench(sums []ingestbench.Summary, runs int) error {
	if len(sums) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "receiver\tprotocol\tloss-free records/s (median of %d)\tspread (min–max)\tCPU (cores)\trecords/s per core\tpeak memory\tminewatch vs it\t\n", runs)
	ours := map[string]float64{}
	for _, s := range sums {
		if s.Receiver == (ingestbench.Exporter{}).Name() {
			ours[s.Protocol] = s.Median
		}
	}
	for _, s := range sums {
		rate, spread := fmt.Sprintf("%.0f", s.Median), fmt.Sprintf("%.0f–%.0f", s.Min, s.Max)
		if s.LowerBound {
			rate = "≥" + rate + " (sender or --max)"
		}
		if s.Median == 0 && s.Err == "" {
			rate = "none" + lowestLossy(s)
		}
		if s.Err != "" {
			rate, spread = "error: "+s.Err, "-"
		}
		ratio := "-"
		if o := ours[s.Protocol]; o > 0 && s.Median > 0 && s.Receiver != (ingestbench.Exporter{}).Name() {
			ratio = fmt.Sprintf("×%.2f", o/s.Median)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%.0f\t%d MiB\t%s\t\n", s.Receiver, s.Protocol, rate, spread, s.CPU, s.PerCore, s.PeakRSS>>20, ratio)
	}
	return tw.Flush()
}

// printCPU prints the CPU per record at the fixed rates, each receiver
// against minewatch's at the same rate and protocol.
func printCPU(cpus []ingestbench.CPUAt, runs int) error {
	if len(cpus) == 0 {
		return nil
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "receiver\tprotocol\tfixed rate (records/s)\tCPU ns/record (median of %d)\tspread (min–max)\trecords/s per core\tlossy runs\tminewatch's CPU vs it\t\n", runs)
	ours := map[[2]string]float64{}
	for _, c := range cpus {
		if c.Receiver == (ingestbench.Exporter{}).Name() {
			ours[[2]string{c.Protocol, fmt.Sprint(c.Rate)}] = c.NsPerRecord
		}
	}
	for _, c := range cpus {
		ns, spread, perCore, ratio := fmt.Sprintf("%.0f", c.NsPerRecord), fmt.Sprintf("%.0f–%.0f", c.Min, c.Max), fmt.Sprintf("%.0f", c.PerCore()), "-"
		switch {
		case c.Skipped:
			ns, spread, perCore = "not sent (loss-free below this rate)", "-", "-"
		case c.NsPerRecord == 0 && c.Err != "":
			ns, spread, perCore = "error: "+c.Err, "-", "-"
		case c.NsPerRecord == 0:
			ns, spread, perCore = "lost records in every run", "-", "-"
		}
		if o := ours[[2]string{c.Protocol, fmt.Sprint(c.Rate)}]; o > 0 && c.NsPerRecord > 0 && c.Receiver != (ingestbench.Exporter{}).Name() {
			ratio = fmt.Sprintf("×%.2f", o/c.NsPerRecord)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%d\t%s\t\n", c.Receiver, c.Protocol, c.Rate, ns, spread, perCore, c.Lossy, ratio)
	}
	return tw.Flush()
}

func printScale(scales []*ingestbench.Scale) error {
	if len(scales) == 0 {
		return nil
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "state scale\trecords sent\tlost\thosts tracked\tCPU ns/record\tstate B/host (gauge)\tRSS B/host (peak − idle)\tper-host series\tseries\thosts to the pool\t")
	for _, sc := range scales {
		rss := fmt.Sprintf("%.0f", sc.RSSPerHost)
		if sc.HostsTracked < 1000 { // the Go heap's own slack is larger than a few hosts
			rss = fmt.Sprintf("(%+d MiB in all)", (sc.PeakRSS-sc.IdleRSS)>>20)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%d\t%d\t%d\t\n", sc.Name, sc.RecordsSent, sc.RecordsLost, sc.HostsTracked,
			sc.CPUPerRecord, sc.BytesPerHost, rss, sc.HostSeries, sc.TotalSeries, sc.Suspects)
	}
	return tw.Flush()
}

// printTargets says, for each of issue 12's targets this run measured,
// whether the figure meets it (目标 met / 未达 not met).
func printTargets(ts []ingestbench.Target) error {
	if len(ts) == 0 {
		return nil
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target 目标	this run 本次	")
	for _, t := range ts {
		verdict := "未达 NOT MET"
		if t.Met {
			verdict = "达到 met"
		}
		fmt.Fprintf(tw, "%s\t%s: %s\t\n", t.Name, verdict, t.Figure)
	}
	return tw.Flush()
}
