// Package probe is the active prober (主动探测): for a suspect host's remote
// endpoint it connects and speaks the mining protocols a pool answers —
// Stratum v1 (mining.subscribe, mining.authorize), the XMRig/CryptoNote
// login, the Ethereum stratum-proxy's eth_submitLogin — in plain TCP and
// over TLS, and classifies the answer. A pool answers with a subscription,
// a job or a Stratum error; an ordinary server (HTTP, SSH, MQTT, an echo,
// silence) does not. A confirmed endpoint becomes intel ("confirmed", with
// the evidence); a refuted one stops making suspects.
//
// Probing sends packets to outside hosts, so it is off unless the
// deployment turns it on. It never probes the campus's own ranges,
// allowlisted endpoints or non-public addresses; probes are rate-limited
// (token bucket), bounded in number at once, and each endpoint's outcome is
// cached until it expires, so a busy suspect is probed once, not per flow.
package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/names"
)

// Outcome is what a probe concluded about an endpoint.
type Outcome string

const (
	Confirmed Outcome = "confirmed" // it answered a mining protocol: a pool
	Refuted   Outcome = "refuted"   // it answered, but not as a pool (or stayed silent to every protocol)
	Failed    Outcome = "error"     // no connection (refused, unreachable) or the probe ran out of time
)

var outcomes = []Outcome{Confirmed, Refuted, Failed}

// Reasons a probe is not sent (the reason label of minewatch_probe_skipped_total).
const (
	SkipDisabled    = "disabled"     // probing is off in this deployment
	SkipInternal    = "internal"     // the campus's own address (the ledger's ranges)
	SkipNotPublic   = "not_public"   // private, loopback, link-local, multicast, shared or invalid
	SkipAllowlisted = "allowlisted"  // on the allowlist
	SkipCached      = "cached"       // decided recently; the cached outcome is returned
	SkipPending     = "pending"      // already queued
	SkipQueueFull   = "queue_full"   // Submit's queue is full
	SkipRateLimited = "rate_limited" // no token before the caller's context ended
)

var skipReasons = []string{SkipDisabled, SkipInternal, SkipNotPublic, SkipAllowlisted, SkipCached, SkipPending, SkipQueueFull, SkipRateLimited}

// SkipError says why an endpoint was not probed.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "probe skipped: " + e.Reason }

// Try is one connection of a probe.
type Try struct {
	Protocol string
	TLS      bool
	Answer   string // what came back: "subscription (mining.subscribe result)", "HTTP answer", "no answer", …
	Excerpt  string // the start of what came back, printable
}

// Target is what one probe asks: an endpoint, dialled bare (Name "") or,
// for a pool domain's shared (CDN) address, over TLS with the domain as SNI
// (a CDN routes by that name; without it the CDN answers for itself).
type Target struct {
	Endpoint netip.AddrPort
	Name     string
}

func (t Target) String() string {
	if t.Name == "" {
		return t.Endpoint.String()
	}
	return t.Name + "@" + t.Endpoint.String()
}

// Result is a probe's outcome with its evidence, so that a flagged host can
// show what its remote end answered.
type Result struct {
	Endpoint netip.AddrPort
	Name     string // the SNI sent ("" for a bare probe): the outcome holds for this name only
	Outcome  Outcome
	Protocol string // the protocol of the deciding answer (Confirmed)
	TLS      bool   // the deciding answer came over TLS
	Reason   string // the deciding answer, or why none came
	Excerpt  string // the start of the deciding (or first) answer
	At       time.Time
	Until    time.Time // the outcome is kept (and the endpoint not probed again) until then
	Tries    []Try
}

// Evidence is the result as intel keeps it (Store.Confirm / Refute).
func (r *Result) Evidence() intel.Evidence {
	ex := r.Excerpt
	if r.Outcome != Confirmed {
		ex = r.Reason
	}
	return intel.Evidence{At: r.At, Protocol: r.Protocol, TLS: r.TLS, Excerpt: ex, Until: r.Until, Name: r.Name}
}

// ToIntel returns an OnResult that makes confirmed endpoints intel and
// remembers refuted ones (errors are not remembered: the next suspect
// contact may probe again after ErrorTTL).
func ToIntel(store *intel.Store) func(Result) {
	return func(r Result) {
		switch r.Outcome {
		case Confirmed:
			store.Confirm(r.Endpoint, r.Evidence())
		case Refuted:
			store.Refute(r.Endpoint, r.Evidence())
		}
	}
}

// Dependencies are what the prober takes from the rest of the exporter.
type Dependencies struct {
	Logger *slog.Logger // default slog.Default()
	// Internal reports the campus's own addresses (the ledger's ranges):
	// never probed. nil: none besides the non-public ranges.
	Internal func(netip.Addr) bool
	// Allowed reports allowlisted endpoints: never probed.
	Allowed func(netip.AddrPort) bool
	// OnResult receives each fresh outcome (not cached ones), e.g. ToIntel.
	OnResult func(Result)
	// Now is the wall clock of the cache (default time.Now).
	Now func() time.Time
}

// Component is the prober.
type Component struct {
	cfg  Configuration
	deps Dependencies
	dial dialFunc

	limiter *rate.Limiter
	sem     chan struct{}
	group   singleflight.Group
	waiting atomic.Int64 // probes waiting for a concurrency slot (tests watch it)

	mu      sync.Mutex
	cache   map[Target]*cached
	pending map[Target]bool
	queue   chan Target

	cancel context.CancelFunc
	wg     sync.WaitGroup

	results     map[Outcome]*metrics.Counter
	skipped     map[string]*metrics.Counter
	connections map[string]*metrics.Counter // protocol/transport
	cacheSize   *metrics.Gauge
}

type cached struct {
	res    Result
	logged Outcome // the outcome last logged for the endpoint
}

// New returns a prober; Start starts Submit's workers.
func New(cfg Configuration, deps Dependencies) *Component {
	cfg = cfg.withDefaults()
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	c := &Component{
		cfg:         cfg,
		deps:        deps,
		limiter:     rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst),
		sem:         make(chan struct{}, cfg.Concurrency),
		cache:       map[Target]*cached{},
		pending:     map[Target]bool{},
		queue:       make(chan Target, cfg.QueueSize),
		results:     map[Outcome]*metrics.Counter{},
		skipped:     map[string]*metrics.Counter{},
		connections: map[string]*metrics.Counter{},
		cacheSize:   metrics.GetOrCreateGauge(names.ProbeCacheEntries, nil),
	}
	c.dial = c.dialNet
	for _, o := range outcomes {
		c.results[o] = metrics.GetOrCreateCounter(fmt.Sprintf(`%s{outcome=%q}`, names.ProbeResults, o))
	}
	for _, r := range skipReasons {
		c.skipped[r] = metrics.GetOrCreateCounter(fmt.Sprintf(`%s{reason=%q}`, names.ProbeSkipped, r))
	}
	for _, p := range protocols {
		for _, tr := range []string{"tcp", "tls"} {
			c.connections[p+"/"+tr] = metrics.GetOrCreateCounter(fmt.Sprintf(`%s{protocol=%q,transport=%q}`, names.ProbeConnections, p, tr))
		}
	}
	return c
}

// Start starts the workers that probe what Submit queues (none when
// probing is off).
func (c *Component) Start() error {
	if !c.cfg.Enabled {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for range c.cfg.Concurrency {
		c.wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case t := <-c.queue:
					_, _ = c.ProbeTarget(ctx, t) // outcomes go to OnResult; skips are counted
					c.mu.Lock()
					delete(c.pending, t)
					c.mu.Unlock()
				}
			}
		})
	}
	c.deps.Logger.Info("probe: active probing on", "component", "probe", "rate", c.cfg.Rate,
		"concurrency", c.cfg.Concurrency, "tls_ports", c.cfg.TLSPorts, "source", c.cfg.SourceAddress)
	return nil
}

// Stop ends the workers; probes under way are cancelled.
func (c *Component) Stop() error {
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
	}
	return nil
}

// Submit queues the endpoint for a bare probe without waiting; see SubmitTarget.
func (c *Component) Submit(ep netip.AddrPort) bool { return c.SubmitTarget(Target{Endpoint: ep}) }

// SubmitTarget queues a probe without waiting (the score engine's callbacks
// call it on their hot path). It reports whether the target was queued;
// otherwise the reason is counted.
func (c *Component) SubmitTarget(t Target) bool {
	t.Endpoint = unmap(t.Endpoint)
	if reason := c.refuse(t.Endpoint); reason != "" {
		c.skipped[reason].Inc()
		return false
	}
	if _, ok := c.fresh(t); ok {
		c.skipped[SkipCached].Inc()
		return false
	}
	c.mu.Lock()
	if c.pending[t] {
		c.mu.Unlock()
		c.skipped[SkipPending].Inc()
		return false
	}
	select {
	case c.queue <- t:
		c.pending[t] = true
		c.mu.Unlock()
		return true
	default:
		c.mu.Unlock()
		c.skipped[SkipQueueFull].Inc()
		return false
	}
}

// Probe probes the endpoint bare; see ProbeTarget.
func (c *Component) Probe(ctx context.Context, ep netip.AddrPort) (Result, error) {
	return c.ProbeTarget(ctx, Target{Endpoint: ep})
}

// ProbeTarget probes now (waiting for a slot and a token) and returns the
// outcome, or the cached one while that holds. A *SkipError says why it was
// not probed.
func (c *Component) ProbeTarget(ctx context.Context, t Target) (Result, error) {
	t.Endpoint = unmap(t.Endpoint)
	if reason := c.refuse(t.Endpoint); reason != "" {
		c.skipped[reason].Inc()
		return Result{}, &SkipError{reason}
	}
	if r, ok := c.fresh(t); ok {
		c.skipped[SkipCached].Inc()
		return r, nil
	}
	v, err, _ := c.group.Do(t.String(), func() (any, error) { return c.probeOnce(ctx, t) })
	if err != nil {
		return Result{}, err
	}
	return v.(Result), nil
}

func (c *Component) probeOnce(ctx context.Context, t Target) (Result, error) {
	c.waiting.Add(1)
	select {
	case c.sem <- struct{}{}:
		c.waiting.Add(-1)
	case <-ctx.Done():
		c.waiting.Add(-1)
		return Result{}, ctx.Err()
	}
	defer func() { <-c.sem }()
	if r, ok := c.fresh(t); ok { // probed while this one waited
		return r, nil
	}
	if err := c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err() // Stop, or the caller gave up: not the bucket's doing
		}
		c.skipped[SkipRateLimited].Inc()
		return Result{}, &SkipError{SkipRateLimited}
	}
	r := c.run(ctx, t)
	if r.Outcome == Failed && ctx.Err() != nil {
		return Result{}, ctx.Err() // cut short by the caller: nothing learnt, nothing kept
	}
	c.record(r)
	if c.deps.OnResult != nil {
		c.deps.OnResult(r)
	}
	return r, nil
}

// refuse says why the endpoint must not be probed ("" if it may).
func (c *Component) refuse(ep netip.AddrPort) string {
	if !c.cfg.Enabled {
		return SkipDisabled
	}
	a := ep.Addr()
	if !a.IsValid() || ep.Port() == 0 {
		return SkipNotPublic
	}
	if c.deps.Internal != nil && c.deps.Internal(a) {
		return SkipInternal
	}
	if !public(a) && !(c.cfg.ProbeLoopback && a.IsLoopback()) {
		return SkipNotPublic
	}
	if c.deps.Allowed != nil && c.deps.Allowed(ep) {
		return SkipAllowlisted
	}
	return ""
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598, carrier-grade NAT

// public: a global unicast address outside the private and shared ranges.
func public(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !sharedSpace.Contains(a)
}

func unmap(ep netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ep.Addr().Unmap(), ep.Port())
}

// fresh returns the cached outcome while it holds.
func (c *Component) fresh(t Target) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cache[t]
	if e == nil || !c.deps.Now().Before(e.res.Until) {
		return Result{}, false
	}
	return e.res, true
}

// record caches a fresh outcome, counts it, and logs it when it differs
// from the endpoint's last logged outcome (once per endpoint and outcome,
// not on every re-probe).
func (c *Component) record(r Result) {
	c.results[r.Outcome].Inc()
	c.mu.Lock()
	t := Target{r.Endpoint, r.Name}
	e := c.cache[t]
	if e == nil {
		if len(c.cache) >= c.cfg.MaxCache {
			c.evictLocked()
		}
		e = &cached{}
		c.cache[t] = e
	}
	e.res = r
	log := e.logged != r.Outcome
	e.logged = r.Outcome
	c.cacheSize.Set(float64(len(c.cache)))
	c.mu.Unlock()
	if !log {
		return
	}
	attrs := []any{"component", "probe", "endpoint", r.Endpoint.String(), "sni", r.Name, "outcome", string(r.Outcome), "reason", r.Reason}
	if r.Outcome == Confirmed {
		attrs = append(attrs, "protocol", r.Protocol, "tls", r.TLS, "answer", r.Excerpt)
		c.deps.Logger.Warn("probe: mining pool confirmed 确认矿池", attrs...)
		return
	}
	c.deps.Logger.Info("probe: endpoint is not a pool, or did not answer", attrs...)
}

// evictLocked makes room: every expired outcome goes; if none had, the
// oldest one.
func (c *Component) evictLocked() {
	now := c.deps.Now()
	var oldest Target
	var oldestAt time.Time
	removed := false
	for ep, e := range c.cache {
		if !now.Before(e.res.Until) {
			delete(c.cache, ep)
			removed = true
			continue
		}
		if oldestAt.IsZero() || e.res.At.Before(oldestAt) {
			oldest, oldestAt = ep, e.res.At
		}
	}
	if !removed {
		delete(c.cache, oldest)
	}
}

// ttl is how long an outcome holds.
func (c *Component) ttl(o Outcome) time.Duration {
	switch o {
	case Confirmed:
		return c.cfg.ConfirmedTTL
	case Refuted:
		return c.cfg.RefutedTTL
	}
	return c.cfg.ErrorTTL
}

var errProbeTimeout = errors.New("the probe ran out of time (probe_timeout)")

// Config is the configuration in use, defaults filled in.
func (c *Component) Config() Configuration { return c.cfg }
