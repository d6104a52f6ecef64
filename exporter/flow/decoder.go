package flow

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/names"
)

// Options configure a Decoder. Zero values pick safe defaults.
type Options struct {
	// Sampling overrides the sampling rate of one exporter address: packets
	// and bytes of its records are scaled by this rate whatever the packets say.
	Sampling map[netip.Addr]uint32
	// DefaultSampling is used when neither config nor packet gives a rate (default 1).
	DefaultSampling uint32
	// MaxTemplates caps the NetFlow v9 / IPFIX templates kept per exporter
	// address (default 256); templates past the cap are dropped and counted.
	MaxTemplates int
	// MaxTotalTemplates caps the templates of all sources together (default
	// 16384); with at most 512 fields a template, this bounds template memory
	// to about 100 MB in the worst case.
	MaxTotalTemplates int
	// MaxSources caps the exporter addresses tracked (default 4096); datagrams
	// from further addresses are dropped and counted under source="overflow".
	MaxSources int
	// MaxDatagram is the largest payload accepted (default 65535 bytes).
	MaxDatagram int
	// Logger gets decode errors, at most one line per source and reason per LogEvery.
	Logger *slog.Logger
	// LogEvery is the rate limit of error logs (default one minute).
	LogEvery time.Duration
	// Metrics is where health counters are registered (default: the global set
	// that metrics.WritePrometheus serves).
	Metrics *metrics.Set
}

// Error reasons, the `reason` label of minewatch_flow_decode_errors_total.
const (
	ReasonTruncated       = "truncated"
	ReasonMalformed       = "malformed"
	ReasonWrongVersion    = "wrong_version"
	ReasonOversized       = "oversized"
	ReasonTemplateMissing = "template_missing"
	ReasonTemplateLimit   = "template_limit"
	ReasonSourceLimit     = "source_limit"
)

// DecodeError is returned for a datagram (or part of one) that could not be decoded.
type DecodeError struct {
	Reason string
	Err    error
}

func (e *DecodeError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// ErrorReason gives the reason label of an error returned by the decoder ("" if none).
func ErrorReason(err error) string {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

// Decoder turns export datagrams into Records. It is safe for concurrent use.
type Decoder struct {
	opts      Options
	set       *metrics.Set
	mu        sync.RWMutex
	sources   map[netip.Addr]*source
	templates atomic.Int64 // held by all sources
	// overflow collects datagrams from sources past MaxSources.
	overflow *source
	// slowOnly turns the in-place fast path off (tests compare the two).
	slowOnly bool
}

// NewDecoder returns a decoder with the given options.
func NewDecoder(opts Options) *Decoder {
	if opts.DefaultSampling == 0 {
		opts.DefaultSampling = 1
	}
	if opts.MaxTemplates <= 0 {
		opts.MaxTemplates = 256
	}
	if opts.MaxTotalTemplates <= 0 {
		opts.MaxTotalTemplates = 16384
	}
	if opts.MaxSources <= 0 {
		opts.MaxSources = 4096
	}
	if opts.MaxDatagram <= 0 {
		opts.MaxDatagram = 65535
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LogEvery <= 0 {
		opts.LogEvery = time.Minute
	}
	d := &Decoder{opts: opts, set: opts.Metrics, sources: map[netip.Addr]*source{}}
	if d.set == nil {
		d.set = metrics.GetDefaultSet()
	}
	d.overflow = d.newSource("overflow", netip.Addr{})
	return d
}

// Sources is the number of exporter addresses currently tracked.
func (d *Decoder) Sources() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.sources)
}

// Templates is the number of templates held for one exporter address.
func (d *Decoder) Templates(addr netip.Addr) int {
	d.mu.RLock()
	s := d.sources[addr.Unmap()]
	d.mu.RUnlock()
	if s == nil {
		return 0
	}
	return s.templates.count()
}

// source is the state of one exporter address: templates, sampling learnt from
// option data, cached counters and the log rate limiter.
type source struct {
	name      string
	override  uint32 // configured sampling rate, 0 if none
	templates *templateStore
	set       *metrics.Set
	packets   [5]*metrics.Counter // by Protocol
	records   [5]*metrics.Counter

	mu        sync.Mutex
	errs      map[string]*metrics.Counter // protocol+"/"+reason
	lastLog   map[string]time.Time
	sampling  map[uint32]uint32 // per observation domain / source id, from option data
	sysInitMs map[uint32]int64  // IPFIX systemInitTimeMilliseconds per observation domain
}

func (d *Decoder) newSource(name string, addr netip.Addr) *source {
	s := &source{name: name, set: d.set, errs: map[string]*metrics.Counter{}, lastLog: map[string]time.Time{},
		sampling: map[uint32]uint32{}, sysInitMs: map[uint32]int64{}}
	s.override = d.opts.Sampling[addr]
	gauge := d.set.GetOrCreateGauge(fmt.Sprintf(`%s{source=%q}`, names.FlowTemplates, name), nil)
	s.templates = newTemplateStore(d.opts.MaxTemplates, &d.templates, int64(d.opts.MaxTotalTemplates), func(n int) { gauge.Set(float64(n)) })
	for p := Protocol(0); p <= SFlowV5; p++ {
		s.packets[p] = d.set.GetOrCreateCounter(fmt.Sprintf(`%s{source=%q,protocol=%q}`, names.FlowPackets, name, p))
		s.records[p] = d.set.GetOrCreateCounter(fmt.Sprintf(`%s{source=%q,protocol=%q}`, names.FlowRecords, name, p))
	}
	return s
}

// source finds or creates the state of an exporter address; past MaxSources it
// returns nil.
func (d *Decoder) source(addr netip.Addr) *source {
	addr = addr.Unmap()
	d.mu.RLock()
	s := d.sources[addr]
	d.mu.RUnlock()
	if s != nil {
		return s
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s = d.sources[addr]; s != nil {
		return s
	}
	if len(d.sources) >= d.opts.MaxSources {
		return nil
	}
	s = d.newSource(addr.String(), addr)
	d.sources[addr] = s
	return s
}

// fail counts an error under its reason and logs it at most once per LogEvery.
func (d *Decoder) fail(s *source, p Protocol, reason string, err error) error {
	key := p.String() + "/" + reason
	now := time.Now()
	s.mu.Lock()
	c := s.errs[key]
	if c == nil {
		c = s.set.GetOrCreateCounter(fmt.Sprintf(`%s{source=%q,protocol=%q,reason=%q}`, names.FlowDecodeErrors, s.name, p, reason))
		s.errs[key] = c
	}
	logIt := now.Sub(s.lastLog[key]) >= d.opts.LogEvery
	if logIt {
		s.lastLog[key] = now
	}
	s.mu.Unlock()
	c.Inc()
	if logIt {
		d.opts.Logger.Warn("flow decode error (further ones of this kind are counted, logged again in a while)",
			"source", s.name, "protocol", p.String(), "reason", reason, "err", err)
	}
	return &DecodeError{Reason: reason, Err: err}
}

// rate picks the sampling rate: configured override, then what the packet says, then the default.
func (d *Decoder) rate(s *source, fromPacket uint32) uint32 {
	if s.override > 0 {
		return s.override
	}
	if fromPacket > 0 {
		return fromPacket
	}
	return d.opts.DefaultSampling
}

// start does the checks common to every datagram and returns its source.
func (d *Decoder) start(src netip.AddrPort, p Protocol, payload []byte) (*source, error) {
	s := d.source(src.Addr())
	if s == nil {
		d.overflow.packets[p].Inc()
		return nil, d.fail(d.overflow, p, ReasonSourceLimit, fmt.Errorf("more than %d exporter sources, %s ignored", d.opts.MaxSources, src.Addr()))
	}
	s.packets[p].Inc()
	if len(payload) > d.opts.MaxDatagram {
		return s, d.fail(s, p, ReasonOversized, fmt.Errorf("%d bytes, limit %d", len(payload), d.opts.MaxDatagram))
	}
	return s, nil
}
