// Command minewatch-exporter receives NetFlow v5/v9, IPFIX and sFlow v5 from
// routers and probes, scores every internal IP for cryptocurrency mining with
// the reasons behind the score, and exposes the results as metrics for
// VictoriaMetrics (scraped at /metrics or pushed).
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/logging"
	"github.com/minewatch/minewatch/exporter/server"
)

func main() {
	app := kingpin.New("minewatch-exporter", "Flow records in, per-IP mining scores and pool-contact counters out (挖矿主机检测采集器).\n\n"+
		"Settings come from --config.file (YAML, see exporter/config/example.yaml); flags override the file.")
	app.HelpFlag.Short('h')
	// Flags override the file only when given (flagGiven); their help shows
	// the components' own defaults, never a copy of them.
	def := config.Default()
	var (
		cfgFile   = app.Flag("config.file", "YAML configuration file (配置文件).").Short('c').String()
		web       = app.Flag("web.listen-address", "Address for /metrics and /api/hosts (the default is this host only; use :9617 with --web.config.file to serve others).").Default(def.Listen.HTTP).String()
		webConfig = app.Flag("web.config.file", "exporter-toolkit web configuration (TLS, basic auth), as for node_exporter; see docs/security.md.").String()
		pprofOn   = app.Flag("web.enable-pprof", "Serve /debug/pprof profiles (off by default).").Bool()
		nf        = app.Flag("netflow.listen-address", "UDP address for NetFlow v5/v9 and IPFIX; empty string disables.").Default(def.Listen.NetFlow).String()
		sf        = app.Flag("sflow.listen-address", "UDP address for sFlow v5; empty string disables.").Default(def.Listen.SFlow).String()
		ledgers   = app.Flag("ledger.file", "Unit/asset ledger file, YAML or CSV (repeatable; adds to the config file's list).").Strings()
		extra     = app.Flag("ledger.extra-internal", "Extra internal CIDR outside every unit (repeatable).").Strings()
		intels    = app.Flag("intel.file", "Pool intel list (repeatable).").Strings()
		allow     = app.Flag("intel.allowlist", "Allowlist file (repeatable).").Strings()
		pushURL   = app.Flag("push.url", "Push metrics to this URL, e.g. http://127.0.0.1:8428/api/v1/import/prometheus.").String()
		threshold = app.Flag("detect.threshold", "Score (1-100) at or above which a host is flagged.").Int()
		logLevel  = app.Flag("log.level", "debug, info, warn or error.").Default(def.Log.Level).String()
		logFormat = app.Flag("log.format", "logfmt or json.").Default(def.Log.Format).String()
	)
	kingpin.MustParse(app.Parse(os.Args[1:]))

	cfg := config.Default()
	if *cfgFile != "" {
		c, err := config.Load(*cfgFile)
		if err != nil {
			fail(err)
		}
		cfg = c
	}
	set := func(dst *string, v string, flag string) {
		if flagGiven(flag) {
			*dst = v
		}
	}
	set(&cfg.Listen.HTTP, *web, "web.listen-address")
	set(&cfg.Listen.WebConfigFile, *webConfig, "web.config.file")
	if *pprofOn {
		cfg.Listen.Pprof = true
	}
	set(&cfg.Listen.NetFlow, *nf, "netflow.listen-address")
	set(&cfg.Listen.SFlow, *sf, "sflow.listen-address")
	set(&cfg.Push.URL, *pushURL, "push.url")
	set(&cfg.Log.Level, *logLevel, "log.level")
	set(&cfg.Log.Format, *logFormat, "log.format")
	if *threshold != 0 {
		cfg.Detect.Threshold = *threshold
	}
	cfg.Ledger.Files = append(cfg.Ledger.Files, *ledgers...)
	cfg.Intel.Files = append(cfg.Intel.Files, *intels...)
	cfg.Intel.Allowlist = append(cfg.Intel.Allowlist, *allow...)
	for _, s := range *extra {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			fail(fmt.Errorf("--ledger.extra-internal %q: %w", s, err))
		}
		cfg.Ledger.ExtraInternal = append(cfg.Ledger.ExtraInternal, p)
	}
	if err := cfg.Validate(); err != nil {
		fail(err)
	}
	if len(cfg.Ledger.Files) == 0 {
		fail(fmt.Errorf("no ledger: give --ledger.file or ledger.files in the config; the ledger says which addresses are internal and whose they are"))
	}

	log, err := logging.New(cfg.Log, os.Stderr)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		fail(err)
	}
	if err := srv.Wait(); err != nil {
		fail(err)
	}
	log.Info("minewatch-exporter stopped")
}

// flagGiven reports whether a flag was set on the command line, so that an
// empty value (disable a listener) is told apart from "not given".
func flagGiven(name string) bool {
	for _, a := range os.Args[1:] {
		if a == "--"+name || len(a) > len(name)+3 && a[:len(name)+3] == "--"+name+"=" {
			return true
		}
	}
	return false
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "minewatch-exporter:", err)
	os.Exit(1)
}
