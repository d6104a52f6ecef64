// Package backfill is the one decode → score → history loop of the tools that
// work on the flow records' own clock instead of the wall clock: `minewatch
// replay` feeds it a capture, `minewatch demo` a simulated week. Records go
// through the exporter's pipeline (ledger, intel, detection engine) and, with
// an import URL, the per-host series land in VictoriaMetrics as history
// stamped with flow time, one snapshot per step.
package backfill

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/config"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/replay"
	"github.com/minewatch/minewatch/exporter/server"
)

// ImportPath is VictoriaMetrics' endpoint for samples with their own
// timestamps, appended to Options.ImportURL.
const ImportPath = "/api/v1/import/prometheus"

// Options of a Backfill.
type Options struct {
	Pipeline *pipeline.Pipeline // required: what scores the records
	Decoder  replay.Decoder     // required: turns export datagrams into records (*flow.Decoder)
	// ImportURL is VictoriaMetrics' base URL (e.g. http://127.0.0.1:8428);
	// empty: score only, write nothing.
	ImportURL string
	// Step is the flow time between two snapshots written (default 1 min).
	Step time.Duration
}

// Backfill scores records in the order they come and writes history as
// their flow time passes step boundaries. Use it from one goroutine.
type Backfill struct {
	p       *pipeline.Pipeline
	dec     replay.Decoder
	hist    *pipeline.History // nil: score only
	emit    func(*flow.Record)
	err     error // first history error; later records are scored but not written
	closed  bool
	last    int64 // flow clock: newest record end seen, Unix ms
	Records int64 // flow records scored
	// Datagrams fed through Datagram, and those the decoder rejected in
	// full or in part (a capture's are in replay.Stats instead).
	Datagrams, DecodeErrors int64
}

// New starts a backfill.
func New(o Options) (*Backfill, error) {
	if o.Pipeline == nil || o.Decoder == nil {
		return nil, fmt.Errorf("backfill: a pipeline and a decoder are required")
	}
	if o.Step <= 0 {
		o.Step = time.Minute
	}
	b := &Backfill{p: o.Pipeline, dec: o.Decoder}
	if o.ImportURL != "" {
		b.hist = o.Pipeline.NewHistory(strings.TrimRight(o.ImportURL, "/")+ImportPath, o.Step)
	}
	b.emit = b.record
	return b, nil
}

// record is the decoder's emit: score, move the flow clock, write the
// snapshots whose boundaries the record's end passed.
func (b *Backfill) record(r *flow.Record) {
	b.p.Process(r)
	b.Records++
	b.last = max(b.last, r.End)
	if b.hist != nil && b.err == nil {
		b.err = b.hist.Advance(r.End)
	}
}

// Err is the first error writing history; a producer that can stop early
// (the demo's simulator) stops when it is set.
func (b *Backfill) Err() error { return b.err }

// Datagram decodes one export datagram received from src at recv and scores
// its records. The error is Err: decoding errors are only counted, as the
// exporter's listeners count them.
func (b *Backfill) Datagram(src netip.AddrPort, recv time.Time, sflow bool, payload []byte) error {
	b.Datagrams++
	var err error
	if sflow {
		err = b.dec.DecodeSFlow(src, recv, payload, b.emit)
	} else {
		err = b.dec.DecodeNetFlow(src, recv, payload, b.emit)
	}
	if err != nil {
		b.DecodeErrors++
	}
	return b.err
}

// Capture replays a pcap/pcapng capture of export datagrams. Its error is
// the replay's: a capture that cannot be read to its end (not a capture,
// corrupt past some packet). The records read before that are scored and,
// after Close, written: nothing read is lost.
func (b *Backfill) Capture(path string, opts replay.Options) (replay.Stats, error) {
	return replay.File(path, b.dec, opts, b.emit)
}

// Close ticks the engine to the last record's time and writes the final
// snapshot with everything still queued. It returns the first error writing
// history (also one met before Close).
func (b *Backfill) Close() error {
	if !b.closed {
		b.closed = true
		switch {
		case b.hist == nil:
			b.p.Tick(b.last)
		case b.err == nil:
			b.err = b.hist.Close(b.last)
		}
	}
	if b.err != nil {
		return fmt.Errorf("history: %w", b.err)
	}
	return nil
}

// Snapshots is how many snapshots were written (0 without an import URL).
func (b *Backfill) Snapshots() int {
	if b.hist == nil {
		return 0
	}
	return b.hist.Snapshots
}

// Last is the flow clock: the end of the newest record scored.
func (b *Backfill) Last() time.Time { return time.UnixMilli(b.last) }

// NewPipeline builds the offline pipeline a configuration describes: its
// ledger, its intel lists (no DNS: offline tools resolve nothing) and its
// detection settings, as the exporter would score.
func NewPipeline(cfg *config.Config) (*pipeline.Pipeline, error) {
	led, err := ledger.Load(cfg.Ledger.Files, cfg.Ledger.ExtraInternal)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	store := intel.NewStore(cfg.Intel.Options()) // never Run: nothing is resolved offline
	if err := store.Load(); err != nil {
		return nil, fmt.Errorf("intel: %w", err)
	}
	_, owns, err := server.Shard(cfg, led)
	if err != nil {
		return nil, err
	}
	return pipeline.New(pipeline.Options{Ledger: led, Intel: store, Detect: server.DetectConfig(cfg), Owns: owns})
}

// NewDecoder is the decoder a configuration describes (default and
// per-exporter sampling rates), as the exporter's listeners decode.
func NewDecoder(cfg *config.Config, o flow.Options) *flow.Decoder {
	o.DefaultSampling, o.Sampling = cfg.Sampling.DefaultRate, server.SamplingOverrides(cfg)
	return flow.NewDecoder(o)
}
