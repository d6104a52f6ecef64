package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minewatch/minewatch/alerts"
	"github.com/minewatch/minewatch/exporter/backfill"
	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/mailcatch"
	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/server"
	"github.com/minewatch/minewatch/exporter/sim"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// Options of a demo run. Zero values take the defaults of `minewatch demo`.
type Options struct {
	Scenario string        // campus scenario (YAML); required
	Workdir  string        // data, configs and logs; emptied first (default .cache/demo)
	Live     time.Duration // simulated time sent to the live exporter in real time (default 20 min)
	WaitMail time.Duration // how long to wait for the first alert emails (default 6 min)
	// ExitAfter stops everything this long after the summary; 0 runs until
	// the context ends (Ctrl-C).
	ExitAfter time.Duration
	Out       io.Writer // what the demo prints (default standard output)
	// Progress, when set, is told how far the long steps are (simulating,
	// scoring the week), for a progress bar.
	Progress func(step string, done, total int64)
}

func (o *Options) defaults() {
	if o.Workdir == "" {
		o.Workdir = ".cache/demo"
	}
	if o.Live <= 0 {
		o.Live = 20 * time.Minute
	}
	if o.WaitMail <= 0 {
		o.WaitMail = 6 * time.Minute
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Progress == nil {
		o.Progress = func(string, int64, int64) {}
	}
}

// Run runs the whole stack on loopback: a simulated week ending now is
// exported, decoded and scored into VictoriaMetrics at full speed; then the
// simulator feeds the live exporter in real time, vmalert fires on the miners
// and Alertmanager mails the unit leads. It prints the weekly review, the
// tracker and the emails, keeps everything running until ctx ends or
// ExitAfter has passed, and stops what it started.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	d := &run{o: o, dir: o.Workdir}
	defer d.stopAll()
	if err := d.run(ctx); err != nil {
		return err
	}
	if o.ExitAfter > 0 {
		fmt.Fprintf(o.Out, "\n演示将在 %s 后结束 stopping in %s\n", o.ExitAfter, o.ExitAfter)
		select {
		case <-ctx.Done():
		case <-time.After(o.ExitAfter):
		}
	} else {
		fmt.Fprintln(o.Out, "\n按 Ctrl-C 结束演示 press Ctrl-C to stop everything")
		<-ctx.Done()
	}
	fmt.Fprintln(o.Out, "stopping…")
	return nil
}

// run is one demo: what it started, in order, so that it stops in reverse.
type run struct {
	o     Options
	dir   string
	procs []*proc.Proc
	stops []func()
	mail  *mailcatch.Catcher
	vm    string // VictoriaMetrics' base URL
}

func (d *run) stopAll() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].Stop()
	}
}

func (d *run) step(format string, a ...any) { fmt.Fprintf(d.o.Out, "==> "+format+"\n", a...) }

// start launches a Debian binary and waits for its readiness URL.
func (d *run) start(ctx context.Context, name, bin, ready string, args ...string) error {
	logPath := filepath.Join(d.dir, name+".log")
	p, err := proc.Start(name, bin, logPath, args...)
	if err != nil {
		return err
	}
	d.procs = append(d.procs, p)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := proc.WaitHTTP(wctx, p, ready); err != nil {
		return fmt.Errorf("%s did not come up (log: %s): %w", name, logPath, err)
	}
	return nil
}

func (d *run) run(ctx context.Context) error {
	vmBin, err := proc.Find("victoria-metrics")
	if err != nil {
		return err
	}
	vmalertBin, err := proc.Find("vmalert")
	if err != nil {
		return err
	}
	vmagentBin, err := proc.Find("vmagent")
	if err != nil {
		return err
	}
	amBin, err := proc.Find("prometheus-alertmanager", "alertmanager")
	if err != nil {
		return err
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}

	// The scenario is moved so that its last Live minutes lie ahead: the
	// week before now is scored at full speed, the rest is sent in real time.
	s, err := sim.Load(d.o.Scenario)
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Minute)
	s.Start = now.Add(d.o.Live - s.Duration)
	d.step("simulating %s: %s from %s (仿真)", s.Name, s.Duration, s.Start.Format(time.RFC3339))
	const simulating = "仿真 simulating"
	res, err := sim.Generate(s, nil, func(done, total int) { d.o.Progress(simulating, int64(done), int64(total)) })
	if err != nil {
		return err
	}
	ledgerPath, intelPath := filepath.Join(d.dir, "ledger.yaml"), filepath.Join(d.dir, "pools.txt")
	if err := writeWith(ledgerPath, func(w io.Writer) error { return sim.WriteLedger(w, s, res.Hosts) }); err != nil {
		return err
	}
	if err := writeWith(intelPath, func(w io.Writer) error { return sim.WriteIntel(w, s) }); err != nil {
		return err
	}
	if err := writeWith(filepath.Join(d.dir, "truth.jsonl"), func(w io.Writer) error { return sim.WriteTruth(w, res.Truth) }); err != nil {
		return err
	}

	// Mail catcher (SMTP and a web page), VictoriaMetrics.
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	smtpPort, webPort, vmPort := ports[0], ports[1], ports[2]
	if d.mail, err = mailcatch.Start(fmt.Sprintf("127.0.0.1:%d", smtpPort)); err != nil {
		return err
	}
	d.stops = append(d.stops, func() { d.mail.Close() })
	web := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", webPort), Handler: d.mail}
	go web.ListenAndServe() //nolint:errcheck // closed on stop
	d.stops = append(d.stops, func() { web.Close() })
	d.vm = fmt.Sprintf("http://127.0.0.1:%d", vmPort)
	d.step("VictoriaMetrics on %s", d.vm)
	if err := d.start(ctx, "victoria-metrics", vmBin, d.vm+"/health", "-storageDataPath="+filepath.Join(d.dir, "vm"),
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", vmPort), "-retentionPeriod=1y", "-search.latencyOffset=5s",
		"-loggerLevel=WARN"); err != nil {
		return err
	}

	// The week before now: exported as the scenario's routers would, decoded
	// and scored by the exporter's own pipeline, written as history.
	cfg := config.Default()
	cfg.Ledger.Files, cfg.Intel.Files = []string{ledgerPath}, []string{intelPath}
	live, bf, err := d.backfill(cfg, s, res, now)
	if err != nil {
		return err
	}
	d.step("%d flow records scored, %d snapshots written; %d export datagrams left for the live part", bf.Records, bf.Snapshots(), len(live))

	// Alertmanager routed by the ledger, vmalert with the repository's rules.
	led, err := ledger.Load([]string{ledgerPath}, nil)
	if err != nil {
		return err
	}
	if ports, err = freePorts(4); err != nil {
		return err
	}
	amPort, vmalertPort, exporterPort, vmagentPort := ports[0], ports[1], ports[2], ports[3]
	// vmagent between the live writers and VictoriaMetrics, as deployed
	// (docs/security.md, docker-compose.yml): it buffers on disk while
	// VictoriaMetrics is down.
	vmagent := fmt.Sprintf("http://127.0.0.1:%d", vmagentPort)
	d.step("vmagent on %s (disk buffer %s)", vmagent, filepath.Join(d.dir, "vmagent"))
	if err := d.start(ctx, "vmagent", vmagentBin, vmagent+"/health", fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", vmagentPort),
		"-remoteWrite.url="+d.vm+"/api/v1/write", "-remoteWrite.tmpDataPath="+filepath.Join(d.dir, "vmagent"),
		"-remoteWrite.maxDiskUsagePerURL=1GB", "-loggerLevel=WARN"); err != nil {
		return err
	}
	rendered, err := alerts.Render(alerts.LedgerUnits(led), alerts.Options{
		Smarthost: fmt.Sprintf("127.0.0.1:%d", smtpPort), From: "minewatch@demo.local", BureauEmail: "bureau@demo.local",
		GroupWait: 10 * time.Second, GroupInterval: time.Minute, RepeatInterval: 12 * time.Hour})
	if err != nil {
		return err
	}
	amConfig := filepath.Join(d.dir, "alertmanager.yml")
	if err := rendered.WriteFiles(amConfig); err != nil {
		return err
	}
	am := fmt.Sprintf("http://127.0.0.1:%d", amPort)
	d.step("Alertmanager on %s (config from the ledger: %s)", am, amConfig)
	if err := d.start(ctx, "alertmanager", amBin, am+"/-/ready", "--config.file="+amConfig,
		"--storage.path="+filepath.Join(d.dir, "am"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort),
		"--cluster.listen-address=", "--log.level=warn"); err != nil {
		return err
	}
	rulesDir := filepath.Join(d.dir, "rules")
	if err := os.CopyFS(rulesDir, alerts.Rules()); err != nil {
		return err
	}
	// vmalert starts an hourly group at a random moment within the hour: in the
	// demo the case rules run every minute instead, so that the emails come in
	// minutes. Their buckets stay one hour (each round sees the last hour), so
	// the episode start in a demo email is the round's hour before, not latched.
	// 当前状态 does not depend on the interval: it is the bucket that contains
	// the round's time, the tracker's (campaign.MiningNowQuery), and the email's
	// 数据时间 says which round; the summary compares with the tracker then.
	casesPath := filepath.Join(rulesDir, alerts.CaseRulesFile)
	caseRules, err := os.ReadFile(casesPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(casesPath, []byte(strings.ReplaceAll(string(caseRules), "interval: 3600s", "interval: 1m")), 0o600); err != nil {
		return err
	}
	// The history was written at full speed: vmalert -replay records its
	// episodes, relapses and deadlines hour by hour, as a vmalert running all
	// along would have.
	replayRules := filepath.Join(d.dir, "cases-replay.yml")
	rb, err := alerts.ReplayRules()
	if err != nil {
		return err
	}
	if err := os.WriteFile(replayRules, rb, 0o600); err != nil {
		return err
	}
	d.step("vmalert -replay of the history (告警规则回放)")
	if out, err := exec.CommandContext(ctx, vmalertBin, "-rule="+replayRules, "-datasource.url="+d.vm, "-remoteWrite.url="+d.vm,
		"-replay.timeFrom="+s.Start.Truncate(time.Hour).UTC().Format(time.RFC3339), "-replay.timeTo="+time.Now().Truncate(time.Hour).UTC().Format(time.RFC3339),
		"-replay.rulesDelay=2s", "-datasource.queryStep=0s", "-remoteWrite.flushInterval=100ms", "-replay.disableProgressBar",
		"-loggerLevel=ERROR", "-httpListenAddr=127.0.0.1:0").CombinedOutput(); err != nil {
		return fmt.Errorf("vmalert -replay: %v\n%s", err, out)
	}
	vmalertURL := fmt.Sprintf("http://127.0.0.1:%d", vmalertPort)
	d.step("vmalert on %s (rules: alerts/rules)", vmalertURL)
	if err := d.start(ctx, "vmalert", vmalertBin, vmalertURL+"/health", "-rule="+filepath.Join(rulesDir, "*.yml"),
		"-datasource.url="+d.vm, "-remoteWrite.url="+vmagent, "-remoteRead.url="+d.vm, "-notifier.url="+am,
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", vmalertPort), "-external.url=http://localhost:3000",
		"-loggerLevel=WARN"); err != nil {
		return err
	}

	// The live exporter, fed by the simulator over UDP in real time.
	nfPort, sfPort, err := freeUDPPorts2()
	if err != nil {
		return err
	}
	cfg.Listen.NetFlow = fmt.Sprintf("127.0.0.1:%d", nfPort)
	cfg.Listen.SFlow = fmt.Sprintf("127.0.0.1:%d", sfPort)
	cfg.Listen.HTTP = fmt.Sprintf("127.0.0.1:%d", exporterPort)
	cfg.Push.URL, cfg.Push.Interval = vmagent+backfill.ImportPath, 10*time.Second
	cfg.Snapshot.File = filepath.Join(d.dir, "state.snap") // evidence survives a restart of the demo's exporter
	// The case store the CLI and the plugin write dispositions to; the
	// exporter serves its read-only view to vmalert.
	cases := filepath.Join(d.dir, "cases.db")
	cst, err := casestore.Open(ctx, cases)
	if err != nil {
		return err
	}
	cst.Close()
	cfg.Cases.Store = cases
	logFile, err := os.Create(filepath.Join(d.dir, "exporter.log"))
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	srv, err := server.Start(sctx, cfg, slog.New(slog.NewTextHandler(logFile, nil)))
	if err != nil {
		cancel()
		logFile.Close()
		return err
	}
	d.stops = append(d.stops, func() { cancel(); srv.Wait(); logFile.Close() }) //nolint:errcheck // stopping
	d.step("exporter on http://%s (NetFlow/IPFIX udp %d, sFlow udp %d); simulator sends %s of traffic in real time",
		cfg.Listen.HTTP, nfPort, sfPort, d.o.Live)
	go sendLive(sctx, live, nfPort, sfPort)

	if err := d.waitMail(ctx); err != nil {
		return err
	}
	if err := d.summary(ctx, s, res); err != nil {
		return err
	}
	fmt.Fprintf(d.o.Out, `
服务地址 where things are:
  VictoriaMetrics   %s            (vmui: %s/vmui)
  vmagent           %s   (disk buffer in front of VictoriaMetrics)
  vmalert           %s
  Alertmanager      %s
  邮件 mail catcher  http://127.0.0.1:%d
  exporter          http://%s/api/hosts   (JSON with the reasons of every flag)
  ground truth      %s
  case store        %s   (minewatch case … --store this file)
  Grafana: build the plugin (make plugin), then point a Grafana at %s with the
  provisioning in deploy/grafana (or run docker compose up on a machine with Docker).
`, d.vm, d.vm, vmagent, vmalertURL, am, webPort, cfg.Listen.HTTP, filepath.Join(d.dir, "truth.jsonl"), cfg.Cases.Store, d.vm)
	return nil
}

// backfill exports the simulated week as the scenario's routers would and
// scores the datagrams sent before now through backfill, the loop `minewatch
// replay` uses, into VictoriaMetrics; it returns the later datagrams, which
// the live part sends in real time.
func (d *run) backfill(cfg *config.Config, s *sim.Scenario, res *sim.Result, now time.Time) ([]liveDatagram, *backfill.Backfill, error) {
	p, err := backfill.NewPipeline(cfg)
	if err != nil {
		return nil, nil, err
	}
	bf, err := backfill.New(backfill.Options{Pipeline: p, Decoder: backfill.NewDecoder(cfg, flow.Options{}),
		ImportURL: d.vm, Step: time.Minute})
	if err != nil {
		return nil, nil, err
	}
	d.step("scoring the week before now into VictoriaMetrics (加速回放一周)")
	const scoring = "评分 scoring"
	total := int64(len(res.Records))
	nowMs := now.UnixMilli()
	var live []liveDatagram
	_, err = sim.Export(s, res, func(dg *sim.Datagram) error {
		if dg.ExportMs > nowMs {
			live = append(live, liveDatagram{dg.ExportMs, dg.Port, append([]byte(nil), dg.Payload...)})
			return nil
		}
		err := bf.Datagram(netip.AddrPortFrom(dg.Exporter, 9999), time.UnixMilli(dg.ExportMs),
			dg.Port == sim.Port(flow.SFlowV5), dg.Payload)
		d.o.Progress(scoring, min(bf.Records, total), total)
		return err
	})
	d.o.Progress(scoring, total, total)
	if cerr := bf.Close(); err == nil || err == bf.Err() {
		err = cerr // the history's error, said as such
	}
	if err != nil {
		return nil, nil, err
	}
	return live, bf, nil
}

// waitMail waits for the first alert emails, then gives Alertmanager a
// moment for the groups after the first.
func (d *run) waitMail(ctx context.Context) error {
	deadline := time.Now().Add(d.o.WaitMail)
	for n := 0; len(d.mail.Messages()) == 0 && time.Now().Before(deadline); n++ {
		if n%6 == 0 {
			fmt.Fprintf(d.o.Out, "    等待告警邮件 waiting for alert emails (vmalert waits 2 min before firing)… %s left\n",
				time.Until(deadline).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(15 * time.Second):
		return nil
	}
}

type liveDatagram struct {
	ms      int64
	port    uint16
	payload []byte
}

// sendLive sends the datagrams at their export times.
func sendLive(ctx context.Context, live []liveDatagram, nfPort, sfPort int) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return
	}
	defer conn.Close()
	nf := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: nfPort}
	sf := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sfPort}
	for _, dg := range live {
		if w := time.Until(time.UnixMilli(dg.ms)); w > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(w):
			}
		}
		to := nf
		if dg.port == sim.Port(flow.SFlowV5) {
			to = sf
		}
		conn.WriteToUDP(dg.payload, to) //nolint:errcheck // loopback; losses show in the exporter's counters
	}
}

func writeWith(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// freePorts returns n distinct TCP ports free on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// freeUDPPorts2 returns two UDP ports free on 127.0.0.1 (held together, so distinct).
func freeUDPPorts2() (int, int, error) {
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer a.Close()
	b, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer b.Close()
	return a.LocalAddr().(*net.UDPAddr).Port, b.LocalAddr().(*net.UDPAddr).Port, nil
}
