// Package server runs minewatch-exporter: UDP listeners for NetFlow/IPFIX and
// sFlow, the scoring pipeline, ledger and intel reloads, the HTTP endpoints
// (/metrics, /api/hosts) and the optional push to VictoriaMetrics.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/listen"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/probe"
	"github.com/minewatch/minewatch/exporter/push"
	"github.com/minewatch/minewatch/exporter/reload"
	"github.com/minewatch/minewatch/exporter/score"
	"github.com/minewatch/minewatch/exporter/shard"
)

// tickEvery is how often the detection state is re-evaluated on the wall clock.
const tickEvery = 5 * time.Second

// Addrs are the addresses actually bound (useful with port 0 in tests).
type Addrs struct {
	NetFlow, SFlow netip.AddrPort
	HTTP           net.Addr
}

// Server is a running exporter.
type Server struct {
	Addrs    Addrs
	Pipeline *pipeline.Pipeline
	Intel    *intel.Store // pool lists with the probe's decisions
	done     chan error
}

// Wait blocks until the server has stopped (its context was cancelled).
func (s *Server) Wait() error { return <-s.done }

// Start loads the ledger and intel (failing on bad files), binds the sockets
// and starts serving until ctx ends.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	led, err := cfg.Ledger.Load()
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	sh, owns, err := Shard(cfg, led)
	if err != nil {
		return nil, err
	}
	intelOpts := cfg.Intel.Options()
	intelOpts.Logger = log
	store := intel.NewStore(intelOpts)
	if err := store.Load(); err != nil {
		return nil, fmt.Errorf("intel: %w", err)
	}
	probedFile := probedPath(cfg.Snapshot.File)
	if err := restoreProbed(store, probedFile, log); err != nil {
		return nil, err
	}
	if err := web.Validate(cfg.Listen.WebConfigFile); err != nil {
		return nil, fmt.Errorf("web config %s: %w", cfg.Listen.WebConfigFile, err)
	}
	// The active prober (off unless probe.enabled): a suspect's remote
	// endpoints go to it; its confirmations become intel (flagging at the
	// next evaluation), its refutations stop the endpoint making suspects.
	var p *pipeline.Pipeline
	prober := probe.New(cfg.Probe, probe.Dependencies{Logger: log,
		Internal: func(a netip.Addr) bool { return p.Internal(a) },
		Allowed:  func(ep netip.AddrPort) bool { return store.Current().Allowed(ep.Addr(), ep.Port()) },
		OnResult: probe.ToIntel(store)})
	detect := DetectConfig(cfg)
	if cfg.Probe.Enabled {
		feed := &probe.Feed{Store: store, Prober: prober, NoteFor: prober.Config().ConfirmedTTL, Wait: 2 * prober.Config().ProbeTimeout}
		feed.Hook(&detect)
	}
	p, err = pipeline.New(pipeline.Options{Ledger: led, Intel: store, Detect: detect, PersonalLabels: cfg.Metrics.PersonalLabels, Owns: owns})
	if err != nil {
		return nil, err
	}

	if err := restoreState(p.Engine(), cfg.Snapshot.File, log); err != nil {
		return nil, err
	}

	dec := flow.NewDecoder(flow.Options{Configuration: cfg.Flow, DefaultSampling: cfg.Sampling.DefaultRate, Sampling: SamplingOverrides(cfg), Logger: log})

	ctx, cancel := context.WithCancel(ctx)
	s := &Server{Pipeline: p, Intel: store, done: make(chan error, 1)}
	var stops []<-chan error
	fail := func(err error) (*Server, error) {
		cancel()
		for _, c := range stops {
			<-c
		}
		return nil, err
	}
	if cfg.Listen.NetFlow != "" {
		addr, stop, err := listen.UDP(ctx, cfg.Listen.NetFlow, cfg.Listen.Readers, log, readerSinks(p, cfg.Listen.SplitScoring, dec.DecodeNetFlow))
		if err != nil {
			return fail(err)
		}
		s.Addrs.NetFlow, stops = addr, append(stops, stop)
	}
	if cfg.Listen.SFlow != "" {
		addr, stop, err := listen.UDP(ctx, cfg.Listen.SFlow, cfg.Listen.Readers, log, readerSinks(p, cfg.Listen.SplitScoring, dec.DecodeSFlow))
		if err != nil {
			return fail(err)
		}
		s.Addrs.SFlow, stops = addr, append(stops, stop)
	}

	hl, err := net.Listen("tcp", cfg.Listen.HTTP)
	if err != nil {
		return fail(fmt.Errorf("listen %s: %w", cfg.Listen.HTTP, err))
	}
	s.Addrs.HTTP = hl.Addr()
	cases, err := openCases(ctx, cfg.Cases.Store)
	if err != nil {
		hl.Close()
		return fail(err)
	}
	writeAll := func(w io.Writer) {
		metrics.WritePrometheus(w, true)
		p.WriteMetrics(w, 0)
		cases.write(ctx, w, log)
	}
	hs := &http.Server{Handler: Handler(p, writeAll, cfg.Listen.Pprof), ReadHeaderTimeout: 10 * time.Second}
	// TLS and basic auth as every Prometheus exporter does them: the
	// exporter-toolkit web config (re-read on each connection, so
	// certificates and passwords change without a restart).
	webCfg := cfg.Listen.WebConfigFile
	go func() {
		if err := web.Serve(hl, hs, &web.FlagConfig{WebConfigFile: &webCfg}, log); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "err", err)
		}
	}()

	pushCfg := cfg.Push
	if pushCfg.Instance == "" {
		pushCfg.Instance = push.DefaultInstance(hl.Addr())
	}
	if err := push.Start(ctx, pushCfg, writeAll); err != nil {
		hs.Close()
		return fail(err)
	}

	// Reloads keep the previous version on error (and say why in the log).
	ledgerWatch := &reload.Watcher{Name: "ledger", Paths: cfg.Ledger.Files, Logger: log, Load: func() error {
		l, err := cfg.Ledger.Load()
		if err != nil {
			return err
		}
		p.SetLedger(l)
		if err := sh.CheckUnits(func(id string) bool { return l.Unit(id) != nil }); err != nil {
			log.Warn("the reloaded ledger lacks units this exporter's shard owns", "err", err)
		}
		return nil
	}}
	intelWatch := &reload.Watcher{Name: "intel", Paths: append(append([]string{}, cfg.Intel.Files...), cfg.Intel.Allowlist...),
		Logger: log, Load: store.Load}
	// Start returns once SIGHUP is handled: a reload signal sent right after
	// start-up must reload, not kill the process (SIGHUP's default action).
	for _, w := range []*reload.Watcher{ledgerWatch, intelWatch} {
		if len(w.Paths) == 0 {
			continue
		}
		ready := make(chan struct{})
		w.OnReady = func() { close(ready) }
		failed := make(chan struct{})
		go func() {
			if err := w.Run(ctx); err != nil {
				log.Error("file watch failed; SIGHUP reloads still work", "what", w.Name, "err", err)
			}
			close(failed)
		}()
		select {
		case <-ready:
		case <-failed:
		}
	}
	go store.Run(ctx, cfg.Intel.ResolveInterval)
	if err := prober.Start(); err != nil {
		hs.Close()
		return fail(fmt.Errorf("probe: %w", err))
	}

	go func() {
		t := time.NewTicker(tickEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				p.Tick(now.UnixMilli())
				publishState(p.Engine().Stats(), p.LastFlow())
			}
		}
	}()

	periodicDone := make(chan struct{})
	if cfg.Snapshot.File == "" {
		close(periodicDone)
	} else {
		go func() {
			defer close(periodicDone)
			t := time.NewTicker(cfg.Snapshot.Interval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					saveState(p.Engine(), cfg.Snapshot.File, log)
					saveProbed(store, probedFile, log) //nolint:errcheck // logged; kept in memory
				}
			}
		}()
	}

	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		err := hs.Shutdown(sctx)
		for _, c := range stops {
			<-c
		}
		prober.Stop() //nolint:errcheck // waits for probes in flight; nothing to report

		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		// Last snapshot after the listeners stopped: nothing that arrived is
		// lost, and no periodic snapshot still being written can replace it.
		<-periodicDone
		if cfg.Snapshot.File != "" {
			if serr := saveState(p.Engine(), cfg.Snapshot.File, log); serr != nil && err == nil {
				err = serr
			}
			if serr := saveProbed(store, probedFile, log); serr != nil && err == nil {
				err = serr
			}
		}
		s.done <- err
	}()
	log.Info("minewatch-exporter started", "netflow", s.Addrs.NetFlow, "sflow", s.Addrs.SFlow, "http", s.Addrs.HTTP,
		"units", len(led.Units()), "assets", len(led.Assets()), "push", cfg.Push.URL, "instance", pushCfg.Instance, "shard", sh.String(),
		"readers", cfg.Listen.Readers, "split_scoring", cfg.Listen.SplitScoring,
		"web_config", cfg.Listen.WebConfigFile, "pprof", cfg.Listen.Pprof, "personal_labels", cfg.Metrics.PersonalLabels, "probe", cfg.Probe.Enabled)
	_ = cancel // cancelled with the parent context
	return s, nil
}

// decodeFunc is one of the flow decoder's entry points (DecodeNetFlow, DecodeSFlow).
type decodeFunc func(src netip.AddrPort, recv time.Time, b []byte, emit func(*flow.Record)) error

// readerSinks makes each UDP reader's way into the pipeline: with split, a
// Handoff to a scorer goroutine of its own (listen.split_scoring); else the
// reader scores a datagram's records itself (pipeline.Batched).
func readerSinks(p *pipeline.Pipeline, split bool, decode decodeFunc) func(socket int) listen.Sink {
	return func(int) listen.Sink {
		if split {
			return handoffSink{p.NewHandoff(), decode}
		}
		return inlineSink{p, decode}
	}
}

// inlineSink scores each datagram's records as it is read.
type inlineSink struct {
	p      *pipeline.Pipeline
	decode decodeFunc
}

func (s inlineSink) Datagram(src netip.AddrPort, recv time.Time, b []byte) {
	// A datagram's records are scored together (pipeline.Batched).
	s.p.Batched(func(emit func(*flow.Record)) { s.decode(src, recv, b, emit) }) //nolint:errcheck // counted and logged by the decoder
}
func (inlineSink) EndRead() {}
func (inlineSink) Stop()    {}

// handoffSink fills batches for its reader's scorer; a read's records go to
// it at the end of the read, the rest on stop.
type handoffSink struct {
	h      *pipeline.Handoff
	decode decodeFunc
}

func (s handoffSink) Datagram(src netip.AddrPort, recv time.Time, b []byte) {
	s.h.Batched(func(emit func(*flow.Record)) { s.decode(src, recv, b, emit) }) //nolint:errcheck // counted and logged by the decoder
}
func (s handoffSink) EndRead() { s.h.Flush() }
func (s handoffSink) Stop()    { s.h.Close() }

// SamplingOverrides are the configured sampling rates per exporter address.
func SamplingOverrides(cfg *config.Config) map[netip.Addr]uint32 {
	m := map[netip.Addr]uint32{}
	for _, s := range cfg.Sampling.Sources {
		m[s.Source] = s.Rate
	}
	return m
}

// DetectConfig maps the config file's detect section to the engine's settings.
func DetectConfig(cfg *config.Config) score.Config {
	return score.Config{
		Threshold:  float64(cfg.Detect.Threshold),
		SuspectAt:  float64(cfg.Detect.SuspectThreshold),
		Floor:      float64(cfg.Detect.Floor),
		MaxHosts:   cfg.Detect.MaxHosts,
		Window:     cfg.Detect.Window,
		QuietAfter: cfg.Detect.QuietAfter,
	}
}

var (
	stateHosts     = metrics.NewGauge(names.StateHosts, nil)
	stateBytes     = metrics.NewGauge(names.StateBytes, nil)
	stateEvictions = metrics.NewCounter(names.StateEvictions)
	lastFlow       = metrics.NewGauge(names.LastFlowTimestamp, nil)
)

// PublishState sets the detection-state gauges (hosts, bytes, evictions, flow
// clock) from p, as the server does after every evaluation; a tool that scores
// on the flow clock calls it before writing the exporter's own series.
func PublishState(p *pipeline.Pipeline) { publishState(p.Engine().Stats(), p.LastFlow()) }

func publishState(st score.Stats, lastFlowMs int64) {
	stateHosts.Set(float64(st.Hosts))
	stateBytes.Set(float64(st.Bytes))
	if d := st.Evictions - stateEvictions.Get(); d > 0 {
		stateEvictions.Add(int(d))
	}
	lastFlow.Set(float64(lastFlowMs) / 1000)
}

// Shard is the part of the network this configuration's exporter owns when
// several share it, and the pipeline's ownership check (nil for a lone
// exporter, which then pays nothing per record). The exporter and the
// offline replay both take it from here, so a replay scores what the
// exporter would. A shard unit the ledger does not have would leave its
// hosts to no exporter: refused.
func Shard(cfg *config.Config, led *ledger.Ledger) (*shard.Shard, func(netip.Addr, string) bool, error) {
	sh := shard.New(cfg.Shard)
	if err := sh.CheckUnits(func(id string) bool { return led.Unit(id) != nil }); err != nil {
		return nil, nil, fmt.Errorf("shard: %w", err)
	}
	if sh == nil {
		return nil, nil, nil
	}
	return sh, sh.Owns, nil
}
