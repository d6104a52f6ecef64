package main

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
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/alerts"
	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/demo"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/mailcatch"
	"github.com/minewatch/minewatch/exporter/server"
	"github.com/minewatch/minewatch/exporter/sim"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// `minewatch demo`: the whole stack on loopback, no Docker, no root.
func init() {
	c := app.Command("demo", "Run the whole stack on loopback (演示): VictoriaMetrics, vmalert, Alertmanager, a mail catcher, "+
		"the exporter and the campus simulator. A simulated week ending now is exported, decoded and scored into "+
		"VictoriaMetrics at full speed; then the simulator feeds the live exporter in real time, vmalert fires on the "+
		"miners and Alertmanager emails the unit leads. Prints the weekly review, the tracker and the emails, then "+
		"keeps running until Ctrl-C (or --exit-after). The Debian binaries come from PATH or .cache/debs "+
		"(`make demo` fetches them without root).")
	var (
		scenario  = c.Flag("scenario", "campus scenario (YAML)").Default("exporter/scenarios/school-week.yaml").ExistingFile()
		workdir   = c.Flag("workdir", "where data, configs and logs go (emptied first)").Default(".cache/demo").String()
		live      = c.Flag("live", "simulated time fed to the live exporter in real time after the accelerated part").Default("20m").Duration()
		waitMail  = c.Flag("wait-mail", "how long to wait for the first alert emails before printing the summary").Default("6m").Duration()
		exitAfter = c.Flag("exit-after", "stop everything this long after the summary (0: run until Ctrl-C)").Duration()
	)
	commands[c.FullCommand()] = func() error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		d := &demoRun{dir: *workdir, live: *live}
		defer d.stopAll()
		if err := d.run(ctx, *scenario, *waitMail); err != nil {
			return err
		}
		if *exitAfter > 0 {
			fmt.Printf("\n演示将在 %s 后结束 stopping in %s\n", *exitAfter, *exitAfter)
			select {
			case <-ctx.Done():
			case <-time.After(*exitAfter):
			}
		} else {
			fmt.Println("\n按 Ctrl-C 结束演示 press Ctrl-C to stop everything")
			<-ctx.Done()
		}
		fmt.Println("stopping…")
		return nil
	}
}

type demoRun struct {
	dir   string
	live  time.Duration
	procs []*demo.Proc
	stops []func()
	mail  *mailcatch.Catcher
	vm    string // base URL
}

func (d *demoRun) stopAll() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].Stop()
	}
}

// start launches a Debian binary and waits for its readiness URL.
func (d *demoRun) start(ctx context.Context, name, bin, ready string, args ...string) error {
	p, err := demo.Start(name, bin, filepath.Join(d.dir, name+".log"), args...)
	if err != nil {
		return err
	}
	d.procs = append(d.procs, p)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := demo.WaitHTTP(wctx, p, ready); err != nil {
		return fmt.Errorf("%s did not come up (log: %s): %w", name, filepath.Join(d.dir, name+".log"), err)
	}
	return nil
}

func step(format string, a ...any) { fmt.Printf("==> "+format+"\n", a...) }

func (d *demoRun) run(ctx context.Context, scenarioFile string, waitMail time.Duration) error {
	vmBin, err := demo.Find("victoria-metrics")
	if err != nil {
		return err
	}
	vmalertBin, err := demo.Find("vmalert")
	if err != nil {
		return err
	}
	amBin, err := demo.Find("prometheus-alertmanager", "alertmanager")
	if err != nil {
		return err
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}

	// The scenario is moved so that its last `live` minutes lie ahead: the
	// week before now is scored at full speed, the rest is sent in real time.
	s, err := sim.Load(scenarioFile)
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Minute)
	s.Start = now.Add(d.live - s.Duration)
	step("simulating %s: %s from %s (仿真)", s.Name, s.Duration, s.Start.Format(time.RFC3339))
	bar := newBar(100, "仿真 simulating", false)
	res, err := sim.Generate(s, nil, func(done, total int) { bar.Set(done * 100 / max(total, 1)) }) //nolint:errcheck // display only
	bar.Finish()                                                                                    //nolint:errcheck // display only
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
	smtpPort, webPort, vmPort, err := freePorts3()
	if err != nil {
		return err
	}
	if d.mail, err = mailcatch.Start(fmt.Sprintf("127.0.0.1:%d", smtpPort)); err != nil {
		return err
	}
	d.stops = append(d.stops, func() { d.mail.Close() })
	web := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", webPort), Handler: d.mail}
	go web.ListenAndServe() //nolint:errcheck // closed on stop
	d.stops = append(d.stops, func() { web.Close() })
	d.vm = fmt.Sprintf("http://127.0.0.1:%d", vmPort)
	step("VictoriaMetrics on %s", d.vm)
	if err := d.start(ctx, "victoria-metrics", vmBin, d.vm+"/health", "-storageDataPath="+filepath.Join(d.dir, "vm"),
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", vmPort), "-retentionPeriod=1y", "-search.latencyOffset=5s",
		"-loggerLevel=WARN"); err != nil {
		return err
	}

	// The week before now: exported as the scenario's routers would, decoded
	// and scored by the exporter's own pipeline, written as history.
	cfg := config.Default()
	cfg.Ledger.Files, cfg.Intel.Files = []string{ledgerPath}, []string{intelPath}
	p, err := buildPipeline(cfg)
	if err != nil {
		return err
	}
	hist := p.NewHistory(d.vm+"/api/v1/import/prometheus", time.Minute)
	dec := flow.NewDecoder(flow.Options{})
	nowMs := now.UnixMilli()
	var live []liveDatagram
	var histErr error
	var records, last int64
	step("scoring the week before now into VictoriaMetrics (加速回放一周)")
	bar = newBar(int64(len(res.Records)), "评分 scoring", false)
	emit := func(r *flow.Record) {
		p.Process(r)
		records++
		last = max(last, r.End)
		if histErr == nil {
			histErr = hist.Advance(r.End)
		}
	}
	_, err = sim.Export(s, res, func(dg *sim.Datagram) error {
		if dg.ExportMs > nowMs {
			live = append(live, liveDatagram{dg.ExportMs, dg.Port, append([]byte(nil), dg.Payload...)})
			return nil
		}
		src := netip.AddrPortFrom(dg.Exporter, 9999)
		if dg.Port == sim.Port(flow.SFlowV5) {
			dec.DecodeSFlow(src, time.UnixMilli(dg.ExportMs), dg.Payload, emit) //nolint:errcheck // counted by the decoder
		} else {
			dec.DecodeNetFlow(src, time.UnixMilli(dg.ExportMs), dg.Payload, emit) //nolint:errcheck // counted by the decoder
		}
		bar.Set64(records) //nolint:errcheck // display only
		return histErr
	})
	bar.Finish() //nolint:errcheck // display only
	if err == nil {
		err = hist.Close(last)
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	step("%d flow records scored, %d snapshots written; %d export datagrams left for the live part", records, hist.Snapshots, len(live))

	// Alertmanager routed by the ledger, vmalert with the repository's rules.
	led, err := ledger.Load([]string{ledgerPath}, nil)
	if err != nil {
		return err
	}
	amPort, vmalertPort, exporterPort, err := freePorts3()
	if err != nil {
		return err
	}
	rendered, err := alerts.Render(alerts.LedgerUnits(led), alerts.Options{
		Smarthost: fmt.Sprintf("127.0.0.1:%d", smtpPort), From: "minewatch@demo.local", BureauEmail: "bureau@demo.local",
		GrafanaURL: "http://localhost:3000", GroupWait: 10 * time.Second, GroupInterval: time.Minute, RepeatInterval: 12 * time.Hour})
	if err != nil {
		return err
	}
	amConfig := filepath.Join(d.dir, "alertmanager.yml")
	if err := rendered.WriteFiles(amConfig); err != nil {
		return err
	}
	am := fmt.Sprintf("http://127.0.0.1:%d", amPort)
	step("Alertmanager on %s (config from the ledger: %s)", am, amConfig)
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
	casesPath := filepath.Join(rulesDir, alerts.CaseRulesFile)
	cases, err := os.ReadFile(casesPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(casesPath, []byte(strings.ReplaceAll(string(cases), "interval: 3600s", "interval: 1m")), 0o600); err != nil {
		return err
	}
	// The history was written at full speed: let vmalert -replay record its
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
	step("vmalert -replay of the history (告警规则回放)")
	if out, err := exec.CommandContext(ctx, vmalertBin, "-rule="+replayRules, "-datasource.url="+d.vm, "-remoteWrite.url="+d.vm,
		"-replay.timeFrom="+s.Start.Truncate(time.Hour).UTC().Format(time.RFC3339), "-replay.timeTo="+time.Now().Truncate(time.Hour).UTC().Format(time.RFC3339),
		"-replay.rulesDelay=2s", "-datasource.queryStep=0s", "-remoteWrite.flushInterval=100ms", "-replay.disableProgressBar",
		"-loggerLevel=ERROR", "-httpListenAddr=127.0.0.1:0").CombinedOutput(); err != nil {
		return fmt.Errorf("vmalert -replay: %v\n%s", err, out)
	}
	vmalertURL := fmt.Sprintf("http://127.0.0.1:%d", vmalertPort)
	step("vmalert on %s (rules: alerts/rules)", vmalertURL)
	if err := d.start(ctx, "vmalert", vmalertBin, vmalertURL+"/health", "-rule="+filepath.Join(rulesDir, "*.yml"),
		"-datasource.url="+d.vm, "-remoteWrite.url="+d.vm, "-remoteRead.url="+d.vm, "-notifier.url="+am,
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
	cfg.Push.URL, cfg.Push.Interval = d.vm+"/api/v1/import/prometheus", 10*time.Second
	logFile, err := os.Create(filepath.Join(d.dir, "exporter.log"))
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	srv, err := server.Start(sctx, cfg, slog.New(slog.NewTextHandler(logFile, nil)))
	if err != nil {
		cancel()
		return err
	}
	d.stops = append(d.stops, func() { cancel(); srv.Wait(); logFile.Close() }) //nolint:errcheck // stopping
	step("exporter on http://%s (NetFlow/IPFIX udp %d, sFlow udp %d); simulator sends %s of traffic in real time",
		cfg.Listen.HTTP, nfPort, sfPort, d.live)
	go sendLive(sctx, live, nowMs, nfPort, sfPort)

	// Wait for the alert emails.
	deadline := time.Now().Add(waitMail)
	for n := 0; len(d.mail.Messages()) == 0 && time.Now().Before(deadline); n++ {
		if n%6 == 0 {
			fmt.Printf("    等待告警邮件 waiting for alert emails (vmalert waits 2 min before firing)… %s left\n", time.Until(deadline).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	// Alertmanager sends one group after another: give the rest a moment.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(15 * time.Second):
	}

	if err := d.summary(ctx, s, res); err != nil {
		return err
	}
	fmt.Printf(`
服务地址 where things are:
  VictoriaMetrics   %s            (vmui: %s/vmui)
  vmalert           %s
  Alertmanager      %s
  邮件 mail catcher  http://127.0.0.1:%d
  exporter          http://%s/api/hosts   (JSON with the reasons of every flag)
  ground truth      %s
  Grafana: build the plugin (make plugin), then point a Grafana at %s with the
  provisioning in deploy/grafana (or run docker compose up on a machine with Docker).
`, d.vm, d.vm, vmalertURL, am, webPort, cfg.Listen.HTTP, filepath.Join(d.dir, "truth.jsonl"), d.vm)
	return nil
}

type liveDatagram struct {
	ms      int64
	port    uint16
	payload []byte
}

// sendLive sends the datagrams at their export times.
func sendLive(ctx context.Context, live []liveDatagram, startMs int64, nfPort, sfPort int) {
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

// summary prints what happened: the weekly review and tracker computed by
// the plugin's campaign logic, the ground truth beside them, and the emails.
func (d *demoRun) summary(ctx context.Context, s *sim.Scenario, res *sim.Result) error {
	client, err := api.NewClient(api.Config{Address: d.vm})
	if err != nil {
		return err
	}
	src := &campaign.Source{API: v1.NewAPI(client), Config: campaign.DefaultConfig()}
	loc := src.Config.Location
	now := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var miners []string
	for _, t := range res.Truth {
		if t.Mining() {
			miners = append(miners, t.IP+" "+t.Behaviour)
		}
	}
	fmt.Printf("\n仿真真值 ground truth: %d hosts, %d miners: %s\n", len(res.Hosts), len(miners), strings.Join(miners, ", "))
	for _, week := range []campaign.Week{campaign.WeekOf(now.Add(-7*24*time.Hour), loc), campaign.WeekOf(now, loc)} {
		rows, err := src.WeeklyReview(qctx, campaign.Filter{}, week, now, nil)
		if err != nil {
			return fmt.Errorf("weekly review: %w", err)
		}
		fmt.Printf("\n周研判 weekly review %s (%s – %s)\n", week, campaign.FormatTime(week.Start(loc), loc), campaign.FormatTime(week.End(loc), loc))
		if err := campaign.Render(os.Stdout, campaign.ReviewTable(rows), "table", loc); err != nil {
			return err
		}
	}
	rows, err := src.Tracker(qctx, campaign.Filter{}, nil, s.Start, now, nil)
	if err != nil {
		return fmt.Errorf("tracker: %w", err)
	}
	fmt.Printf("\nIP清零台账 tracker (%s – now)\n", campaign.FormatTime(s.Start, loc))
	if err := campaign.Render(os.Stdout, campaign.TrackerTable(rows), "table", loc); err != nil {
		return err
	}
	msgs := d.mail.Messages()
	fmt.Printf("\n告警邮件 emails received: %d\n", len(msgs))
	for _, m := range msgs {
		fmt.Printf("  to %s: %s\n", strings.Join(m.To, ", "), m.Subject)
	}
	return nil
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

func freePorts3() (a, b, c int, err error) {
	var ports [3]int
	for i := range ports {
		if ports[i], err = demo.FreePort(); err != nil {
			return
		}
	}
	return ports[0], ports[1], ports[2], nil
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
