// Package pipeline joins the exporter's parts for each flow record: which side
// is internal and whose it is (ledger), whether the remote end is a pool (intel),
// and what the detection engine makes of it. The same pipeline runs behind the
// UDP listeners, the pcap replay and the offline evaluation, so all three score
// alike.
package pipeline

import (
	"errors"
	"net/netip"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/score"
)

// Unassigned is the unit label of internal IPs outside every unit's ranges.
const Unassigned = ledger.Unassigned

// Options configure a Pipeline.
type Options struct {
	Ledger *ledger.Ledger
	Intel  *intel.Store // may be nil: no pool intel
	Detect score.Config
	// PersonalLabels adds the asset ledger's name, location, department and
	// owner to minewatch_host_info. Off by default: names of people and
	// rooms then stay in the ledger (read by the plugin and the alert
	// renderer) instead of being copied into every metrics store and scrape.
	PersonalLabels bool
	// Owns says whether this exporter scores an internal host (of that unit
	// id) when several share the network (exporter/shard); nil: every host.
	// Records of hosts it does not own are dropped before scoring.
	Owns func(host netip.Addr, unit string) bool
}

// Pipeline is safe for concurrent Process calls from several reader goroutines.
type Pipeline struct {
	ledger   atomic.Pointer[ledger.Ledger]
	intel    *intel.Store
	engine   *score.Engine
	lastFlow atomic.Int64 // newest record end seen, Unix ms
	personal bool         // Options.PersonalLabels

	droppedExternal *metrics.Counter

	owns func(netip.Addr, string) bool // Options.Owns
}

// New builds a pipeline; the ledger is required (it says what is internal).
func New(opts Options) (*Pipeline, error) {
	if opts.Ledger == nil {
		return nil, errors.New("pipeline: a ledger is required to tell internal hosts from remote ones")
	}
	p := &Pipeline{
		intel:           opts.Intel,
		personal:        opts.PersonalLabels,
		owns:            opts.Owns,
		engine:          score.New(opts.Detect),
		droppedExternal: metrics.GetOrCreateCounter(names.FlowDroppedRecords + `{reason="` + names.DroppedNoInternal + `"}`),
	}
	p.ledger.Store(opts.Ledger)
	return p, nil
}

// SetLedger swaps in a reloaded ledger; records in flight finish with the old one.
func (p *Pipeline) SetLedger(l *ledger.Ledger) { p.ledger.Store(l) }

// Engine gives access to the detection state (reports, stats).
func (p *Pipeline) Engine() *score.Engine { return p.engine }

// LastFlow is the flow clock: the end time (Unix ms) of the newest record seen.
func (p *Pipeline) LastFlow() int64 { return p.lastFlow.Load() }

// Process scores one record. It keeps no reference to r.
func (p *Pipeline) Process(r *flow.Record) {
	led := p.ledger.Load()
	srcUnit, srcIn := led.Classify(r.Src)
	dstUnit, dstIn := led.Classify(r.Dst)

	var o score.Observation
	var unit *ledger.Unit
	switch {
	case srcIn && (!dstIn || r.SrcPort >= r.DstPort):
		// Outbound, or internal to internal where src looks like the client
		// (ephemeral port): the client side is the one that may be mining.
		o.Host, o.Remote, o.HostPort, o.RemotePort, o.Outbound = r.Src, r.Dst, r.SrcPort, r.DstPort, true
		unit = srcUnit
	case dstIn:
		o.Host, o.Remote, o.HostPort, o.RemotePort = r.Dst, r.Src, r.DstPort, r.SrcPort
		unit = dstUnit
	default:
		p.droppedExternal.Inc()
		return
	}
	o.Unit = Unassigned
	if unit != nil {
		o.Unit = unit.ID
	}
	if p.owns != nil && !p.owns(o.Host, o.Unit) {
		return // another exporter's host (counted by the shard)
	}
	if a := led.Asset(o.Host); a != nil {
		o.Research = a.Research
	}
	o.Proto, o.TCPFlags = r.Proto, r.TCPFlags
	o.Start, o.End = r.Start, r.End
	o.Packets, o.Bytes, o.SamplingRate = r.Packets, r.Bytes, r.SamplingRate

	if p.intel != nil {
		set := p.intel.Current()
		if set.Allowed(o.Remote, o.RemotePort) {
			o.Allowlisted = true
		} else if e := set.MatchHost(o.Host, o.Remote, o.RemotePort); e != nil { // MatchHost: a CDN address confirmed by SNI counts for its suspects only
			// Allocated only on a hit (rare): the engine keeps its strings.
			o.Intel = &score.IntelHit{Pool: e.Pool, Coin: e.Coin, Shared: e.Shared}
			if e.Probe != nil { // confirmed by the active prober: its evidence goes with the flag
				o.Intel.Confirmed = e.Probe.How()
			}
		}
	}
	p.engine.Observe(&o)

	for {
		last := p.lastFlow.Load()
		if r.End <= last || p.lastFlow.CompareAndSwap(last, r.End) {
			break
		}
	}
}

// Internal reports whether a is one of the campus's own addresses (the
// current ledger's ranges): what the prober must never probe.
func (p *Pipeline) Internal(a netip.Addr) bool {
	_, internal := p.ledger.Load().Classify(a)
	return internal
}

// Tick advances the detection state to now (Unix ms on the flow clock).
func (p *Pipeline) Tick(now int64) { p.engine.Evaluate(now) }
