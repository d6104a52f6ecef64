// Package pipeline joins the exporter's parts for each flow record: which side
// is internal and whose it is (ledger), whether the remote end is a pool (intel),
// and what the detection engine makes of it. The same pipeline runs behind the
// UDP listeners, the pcap replay and the offline evaluation, so all three score
// alike.
package pipeline

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
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

	batches sync.Pool // of *Batch, for Batched
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
	p.batches.New = func() any { return p.newBatch(batchSize) }
	p.ledger.Store(opts.Ledger)
	return p, nil
}

// SetLedger swaps in a reloaded ledger; records in flight finish with the old one.
func (p *Pipeline) SetLedger(l *ledger.Ledger) { p.ledger.Store(l) }

// Engine gives access to the detection state (reports, stats).
func (p *Pipeline) Engine() *score.Engine { return p.engine }

// LastFlow is the flow clock: the end time (Unix ms) of the newest record seen.
func (p *Pipeline) LastFlow() int64 { return p.lastFlow.Load() }

// Process scores one record. It keeps no reference to r. It borrows a
// Batch for the record's slot and pool-hit storage (Batch.put holds the
// enrichment), so that it allocates nothing per record.
func (p *Pipeline) Process(r *flow.Record) {
	b := p.batches.Get().(*Batch)
	if b.put(r) {
		p.engine.Observe(&b.obs[0])
		p.advance(r.End)
	}
	b.n, b.maxEnd = 0, 0
	b.release()
	p.batches.Put(b)
}

// intelSet is the pool intel in force, nil without intel.
func (p *Pipeline) intelSet() *intel.Set {
	if p.intel == nil {
		return nil
	}
	return p.intel.Current()
}

// advance moves the flow clock to end if that is later.
func (p *Pipeline) advance(end int64) {
	for {
		last := p.lastFlow.Load()
		if end <= last || p.lastFlow.CompareAndSwap(last, end) {
			return
		}
	}
}

// intelHit writes what the engine needs of the pool entry e into *hit.
// The storage is the caller's (a Batch has one per slot), so no record
// allocates: a new IntelHit per pool record was 2 % of the exporter's CPU at
// 1.74 M records/s (malloc, and GC later). The engine keeps only its strings.
func intelHit(e *intel.Entry, hit *score.IntelHit) *score.IntelHit {
	*hit = score.IntelHit{Pool: e.Pool, Coin: e.Coin, Shared: e.Shared}
	if e.Probe != nil { // confirmed by the active prober: its evidence goes with the flag
		hit.Confirmed = e.Probe.How()
	}
	return hit
}

// v4 is an IPv4 address (Is4) as a big-endian uint32.
func v4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// hostOf is the record's src when outbound, else its dst: the end
// put takes for the host.
func hostOf(r *flow.Record, outbound bool) netip.Addr {
	if outbound {
		return r.Src
	}
	return r.Dst
}

// batchSize bounds the records a Batch of Batched holds before it scores them.
const batchSize = 32

// Batch scores records in groups (score.Engine.ObserveBatch): the records
// of one datagram (Batched), or of one socket read (Handoff), with the
// ledger and the intel read once and the flow clock moved once. A Batch
// belongs to one goroutine at a time; Batched lends one out, a Handoff
// passes its batches from the reader to the scorer and back.
type Batch struct {
	p      *Pipeline
	led    *ledger.Ledger
	set    *intel.Set
	obs    []score.Observation // len is the capacity: slots are reused, n are in use
	hits   []score.IntelHit    // obs[i].Intel's storage (same len)
	n      int
	maxEnd int64
	add    func(*flow.Record) // Add's work as a func value, made once: no allocation per datagram
}

func (p *Pipeline) newBatch(size int) *Batch {
	b := &Batch{p: p, obs: make([]score.Observation, size), hits: make([]score.IntelHit, size)}
	// A closure rather than the method value b.Add: that would be a wrapper
	// calling Add, one call more for every record the decoder emits.
	b.add = func(r *flow.Record) {
		if b.put(r) && b.full() {
			b.score()
		}
	}
	return b
}

// Batched runs decode with an emit that collects its records into a Batch
// and scores them when decode returns (or the batch fills up): what a
// reader does with each datagram. Same result as Process on each record.
func (p *Pipeline) Batched(decode func(emit func(*flow.Record))) {
	b := p.batches.Get().(*Batch)
	decode(b.add)
	b.Flush()
	p.batches.Put(b)
}

// Add takes one record into the batch (no reference to r is kept), and
// scores the batch when it is full.
func (b *Batch) Add(r *flow.Record) { b.add(r) }

// put enriches r into the next free slot: which side is the internal host
// and whose (the ledger), whether the remote end is a pool or allowlisted
// (the intel, if any). False when r is not to be scored (no internal side,
// or another exporter's host); the slot then stays free and unwritten.
// Every field of the slot is written when it returns true, so slots need no
// clearing (they are reused), and a pool hit goes into the slot's own
// IntelHit storage, so no record allocates. The one place of this rule:
// Process, Batched and Handoff all come here.
func (b *Batch) put(r *flow.Record) bool {
	if b.n == 0 && b.led == nil {
		b.led, b.set = b.p.ledger.Load(), b.p.intelSet()
	}
	// The host is the internal end; when both are internal, the one that
	// looks like the client (the higher port; src on a tie): the client
	// side is the one that may be mining. So the end with the higher port
	// (src on a tie) is asked first, and when it is internal it is the host
	// whatever the other end is: most records need one ledger look-up, not
	// two. Otherwise the other end is the host if it is internal. This is
	// the rule "src if internal and (dst external or sport >= dport), else
	// dst if internal" (TestObservationIsOld checks it against the old code
	// that looked up both ends).
	outbd := r.SrcPort >= r.DstPort
	var host ledger.Class
	for left := 2; ; left-- { // the ends left to ask
		end, ok := hostOf(r, outbd), false
		if end.Is4() {
			host, ok = b.led.Lookup4(v4(end)) // inlined: no call for an IPv4 end
		}
		if !ok {
			host = b.led.Lookup(end)
		}
		if host.Internal {
			break
		}
		if left == 1 {
			b.p.droppedExternal.Inc()
			return false
		}
		outbd = !outbd
	}
	unit := Unassigned
	if host.Unit != nil {
		unit = host.Unit.ID
	}
	if b.p.owns != nil && !b.p.owns(hostOf(r, outbd), unit) {
		return false // another exporter's host (counted by the shard)
	}
	// Field by field, every one (TestObservationWritesAll): the slot needs
	// no clearing first, and a composite literal would be built in a zeroed
	// temporary and copied.
	o := &b.obs[b.n]
	if outbd {
		o.Host, o.Remote, o.HostPort, o.RemotePort = r.Src, r.Dst, r.SrcPort, r.DstPort
	} else {
		o.Host, o.Remote, o.HostPort, o.RemotePort = r.Dst, r.Src, r.DstPort, r.SrcPort
	}
	o.Outbound, o.Unit, o.Research = outbd, unit, host.Research
	o.Proto, o.TCPFlags = r.Proto, r.TCPFlags
	o.Start, o.End = r.Start, r.End
	o.Packets, o.Bytes, o.SamplingRate = r.Packets, r.Bytes, r.SamplingRate
	o.Allowlisted, o.Intel = false, nil

	// An IPv4 remote end in no list's /24 (the common case) is answered
	// from the intel's filter alone (Unlisted8, inlined, for its /8, else
	// Unlisted4); anything else by Remote.
	if set := b.set; set != nil && (!o.Remote.Is4() || !set.Unlisted8(v4(o.Remote)) && !set.Unlisted4(v4(o.Remote))) {
		// Allowed, else MatchHost: a CDN address confirmed by SNI counts for its suspects only.
		if allowed, e := set.Remote(o.Host, o.Remote, o.RemotePort); allowed {
			o.Allowlisted = true
		} else if e != nil {
			o.Intel = intelHit(e, &b.hits[b.n]) // the slot's storage, taken only on a hit
		}
	}
	b.maxEnd = max(b.maxEnd, r.End)
	b.n++
	return true
}

func (b *Batch) full() bool { return b.n == len(b.obs) }

// Flush scores the records held and lets go of the ledger and intel read.
func (b *Batch) Flush() {
	b.score()
	b.release()
}

// release lets go of the ledger and intel read: the next record reads
// them again (a reload since is then seen).
func (b *Batch) release() { b.led, b.set = nil, nil }

func (b *Batch) score() {
	if b.n == 0 {
		return
	}
	b.p.engine.ObserveBatch(b.obs[:b.n])
	b.p.advance(b.maxEnd)
	// The slots are not cleared: put overwrites every field of the
	// ones it uses next. What they still point at (the ledger's unit ids,
	// an intel hit) stays reachable at most while the Batch sits in the
	// pool (which the GC empties) or in a Handoff's free list.
	b.n, b.maxEnd = 0, 0
}

// Internal reports whether a is one of the campus's own addresses (the
// current ledger's ranges): what the prober must never probe.
func (p *Pipeline) Internal(a netip.Addr) bool {
	_, internal := p.ledger.Load().Classify(a)
	return internal
}

// Tick advances the detection state to now (Unix ms on the flow clock).
func (p *Pipeline) Tick(now int64) { p.engine.Evaluate(now) }
