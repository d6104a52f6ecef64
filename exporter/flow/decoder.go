package flow

import (
	"container/list"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/names"
	"golang.org/x/time/rate"
)

// Options configure a Decoder. Zero values pick safe defaults.
type Options struct {
	// Configuration holds the limits set in the config file's flow: section.
	Configuration
	// Sampling overrides the sampling rate of one exporter address: packets
	// and bytes of its records are scaled by this rate whatever the packets say.
	Sampling map[netip.Addr]uint32
	// DefaultSampling is used when neither config nor packet gives a rate
	// (default DefaultSamplingRate).
	DefaultSampling uint32
	// MaxDatagram is the largest payload accepted (default 65535 bytes).
	MaxDatagram int
	// Logger gets decode errors: at most one line per source and reason per
	// LogEvery, and at most Configuration.LogPerSecond lines of all sources.
	Logger *slog.Logger
	// LogEvery is the rate limit of one source's error logs (default one minute).
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
	ReasonNotAllowed      = "not_allowed" // source outside Configuration.AllowedSources
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
	opts Options
	set  *metrics.Set

	// The source table (sources.go). mu guards the map, both lists and labels.
	mu      sync.RWMutex
	sources map[netip.Addr]*source
	// recent holds the source of the latest datagrams, a slot per few bits
	// of the address (recentSlot): read without mu, written when a look-up
	// misses; a forgotten source is marked gone. Never the only reference.
	recent [recentSlots]atomic.Pointer[source]
	// fresh holds sources that have not yet delivered a flow record, proven
	// those that have; both are ordered by the last datagram, newest first.
	fresh, proven list.List
	labels        int           // sources with series of their own
	other         *sourceSeries // series of the sources past MaxSourceLabels
	notAllowed    *source       // stands for every address outside AllowedSources
	templates     atomic.Int64  // held by all sources
	lastSweep     atomic.Int64  // unix ns of the last Expire
	sweepEvery    int64

	logs       *rate.Limiter // decode-error lines of all sources together
	suppressed atomic.Int64  // lines not written since the last one

	sourcesIdle, sourcesDisplaced, templatesExpired, logsSuppressed *metrics.Counter
	sourcesTracked, templatesTracked                                *metrics.Gauge

	// slowOnly turns the in-place fast path off (tests compare the two).
	slowOnly bool
	// loopOnly reads in-place records with fillRecord's loop, not their
	// template's layout (tests compare the two).
	loopOnly bool
}

// DefaultSamplingRate is the rate of exporters that announce none and have
// none configured: unsampled, and each such exporter is flagged once in the
// log and in minewatch_flow_sampling_unannounced, so the guess is visible.
const DefaultSamplingRate = 1

// NewDecoder returns a decoder with the given options.
func NewDecoder(opts Options) *Decoder {
	opts.Configuration = opts.Configuration.withDefaults()
	if opts.DefaultSampling == 0 {
		opts.DefaultSampling = DefaultSamplingRate
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
	d := &Decoder{opts: opts, set: opts.Metrics, sources: map[netip.Addr]*source{},
		logs: rate.NewLimiter(rate.Limit(opts.LogPerSecond), opts.LogBurst)}
	if d.set == nil {
		d.set = metrics.GetDefaultSet()
	}
	d.sweepEvery = int64(min(opts.SourceIdle, opts.TemplateIdle) / 10)
	d.other = newSeries(d.set, sourceOther, false)
	d.notAllowed = &source{lastLog: map[string]time.Time{}}
	d.notAllowed.series.Store(newSeries(d.set, sourceNotAllowed, false))
	d.sourcesIdle = d.set.GetOrCreateCounter(names.FlowSourcesExpired + `{reason="idle"}`)
	d.sourcesDisplaced = d.set.GetOrCreateCounter(names.FlowSourcesExpired + `{reason="displaced"}`)
	d.templatesExpired = d.set.GetOrCreateCounter(names.FlowTemplatesExpired)
	d.logsSuppressed = d.set.GetOrCreateCounter(names.FlowLogsSuppressed)
	d.sourcesTracked = d.set.GetOrCreateGauge(names.FlowSourcesTracked, nil)
	d.templatesTracked = d.set.GetOrCreateGauge(names.FlowTemplatesTracked, nil)
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

// fail counts an error under its reason and logs it at most once per
// LogEvery for the source, within the global log budget.
func (d *Decoder) fail(s *source, p Protocol, reason string, err error) error {
	s.series.Load().errorsOf(p, reason).Inc()
	key := p.String() + "/" + reason
	now := time.Now()
	s.mu.Lock()
	logIt := now.Sub(s.lastLog[key]) >= d.opts.LogEvery
	if logIt {
		s.lastLog[key] = now
	}
	s.mu.Unlock()
	if logIt {
		d.logError(s, p, reason, err)
	}
	return &DecodeError{Reason: reason, Err: err}
}

// logError writes one decode-error line if the budget of all sources allows:
// spoofed datagrams from thousands of addresses would otherwise write a line
// each. Lines left out are counted and their number given with the next one.
func (d *Decoder) logError(s *source, p Protocol, reason string, err error) {
	if !d.logs.Allow() {
		d.suppressed.Add(1)
		d.logsSuppressed.Inc()
		return
	}
	name := s.series.Load().name
	if s.addr.IsValid() {
		name = s.addr.String()
	}
	args := []any{"exporter", name, "protocol", p.String(), "reason", reason, "err", err}
	if n := d.suppressed.Swap(0); n > 0 {
		args = append(args, "lines_suppressed_before", n)
	}
	d.opts.Logger.Warn("flow decode error (further ones of this kind are counted, logged again in a while)", args...)
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

// start does the checks common to every datagram and returns its source
// (nil when the address is not allowed).
func (d *Decoder) start(src netip.AddrPort, recv time.Time, p Protocol, payload []byte) (*source, error) {
	addr := src.Addr().Unmap()
	if recv.IsZero() {
		recv = time.Now()
	}
	now := recv.UnixNano()
	d.maybeExpire(now)
	s := d.source(addr, now)
	if s == nil {
		d.notAllowed.series.Load().packetsOf(p).Inc()
		return nil, d.fail(d.notAllowed, p, ReasonNotAllowed, fmt.Errorf("exporter %s is not in flow.allowed_sources: datagram dropped", addr))
	}
	s.series.Load().packetsOf(p).Inc()
	// The time templates are stamped with when announced or used; a second's
	// precision saves readers of one source a shared write per datagram.
	if now-s.templates.clock.Load() > 1e9 {
		s.templates.clock.Store(now)
	}
	if len(payload) > d.opts.MaxDatagram {
		return s, d.fail(s, p, ReasonOversized, fmt.Errorf("%d bytes, limit %d", len(payload), d.opts.MaxDatagram))
	}
	return s, nil
}

// delivered counts the flow records a datagram gave; the first ones make
// the source proven (sources.go).
func (d *Decoder) delivered(s *source, p Protocol, n int) {
	if n == 0 {
		return
	}
	if !s.proven.Load() {
		d.promote(s)
	}
	s.series.Load().addRecords(p, n)
}
