package intel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/names"
)

// Resolver looks up a domain's addresses; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a Store.
type Options struct {
	Lists      []string // pool list files
	Allowlists []string // allowlist files, same format
	Resolver   Resolver // default net.DefaultResolver
	// LookupTimeout bounds one domain's resolution (default 5s).
	LookupTimeout time.Duration
	// Workers resolving domains in parallel (default 8).
	Workers int
	Logger  *slog.Logger // default slog.Default()
	// MaxProbed bounds the endpoints held from Confirm and Refute together
	// (default DefaultMaxProbed).
	MaxProbed int
	// Now is the wall clock that expires probe decisions (default time.Now).
	Now func() time.Time
}

// Store holds the current Set and rebuilds it when lists are reloaded or
// domains re-resolved. Readers call Current on the hot path; the swap is a
// single atomic pointer store.
//
// Each list file is kept separately: when a reload of one file fails, the
// Store keeps that file's last good version (and says so in the error and in
// minewatch_intel_last_reload_success{list}) while the other files update.
type Store struct {
	opts Options
	cur  atomic.Pointer[Set]
	kick chan struct{}

	loadMu   sync.Mutex       // one Load at a time, so an older read never wins
	mu       sync.Mutex       // guards lists and resolved
	lists    map[string]*List // path → last good parse
	resolved map[string][]netip.Addr
	probed   *probed // confirmed and refuted endpoints, copied on write
	// confirmedSeries are the minewatch_pool_confirmed series written (guarded by mu).
	confirmedSeries map[string]bool

	resolveErrors *metrics.Counter
}

// NewStore returns a Store with an empty Set; call Load to read the files.
func NewStore(opts Options) *Store {
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = 5 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxProbed <= 0 {
		opts.MaxProbed = DefaultMaxProbed
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		opts:          opts,
		kick:          make(chan struct{}, 1),
		lists:         map[string]*List{},
		resolved:      map[string][]netip.Addr{},
		probed:        emptyProbed,
		resolveErrors: metrics.GetOrCreateCounter(names.IntelResolveErrors),
	}
	s.cur.Store(NewSet(nil, nil, nil))
	return s
}

// Current is the Set in use. Never nil.
func (s *Store) Current() *Set { return s.cur.Load() }

// Files are the list and allowlist paths, for a file watcher.
func (s *Store) Files() []string {
	return append(slices.Clone(s.opts.Lists), s.opts.Allowlists...)
}

// Set installs a Set directly (for tests and tools without files); the
// probe decisions held stay.
func (s *Store) Set(set *Set) {
	if set == nil {
		set = NewSet(nil, nil, nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(set.withProbed(s.probed))
}

func (s *Store) now() time.Time { return s.opts.Now() }

// listLabel is a list's metric label: its file name.
func listLabel(path string) string { return filepath.Base(path) }

// Load (re)reads every list file. Files that fail keep their previous good
// version; the error lists every bad line of every failed file. Newly listed
// domains are resolved in the background by Run (or call Resolve).
func (s *Store) Load() error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	var errs []error
	parsed := map[string]*List{}
	for _, path := range s.Files() {
		data, err := os.ReadFile(path)
		var l *List
		if err == nil {
			l, err = Parse(path, data)
		}
		label := listLabel(path)
		if err != nil {
			metrics.GetOrCreateCounter(fmt.Sprintf(`%s{list=%q}`, names.IntelReloadErrors, label)).Inc()
			metrics.GetOrCreateGauge(fmt.Sprintf(`%s{list=%q}`, names.IntelLastReloadSuccess, label), nil).Set(0)
			errs = append(errs, err)
			continue
		}
		metrics.GetOrCreateGauge(fmt.Sprintf(`%s{list=%q}`, names.IntelLastReloadSuccess, label), nil).Set(1)
		parsed[path] = l
	}
	s.mu.Lock()
	for path, l := range parsed {
		s.lists[path] = l
	}
	set := s.rebuildLocked()
	missing := false
	for _, d := range set.Domains() {
		if _, ok := s.resolved[d]; !ok {
			missing = true
			break
		}
	}
	s.mu.Unlock()
	if missing {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return errors.Join(errs...)
}

// rebuildLocked builds and publishes a Set from the last good lists.
func (s *Store) rebuildLocked() *Set {
	var pools, allow []*List
	for _, p := range s.opts.Lists {
		pools = append(pools, s.lists[p])
	}
	for _, p := range s.opts.Allowlists {
		allow = append(allow, s.lists[p])
	}
	set := NewSet(pools, allow, s.resolved)
	set.setProbed(s.probed)
	// Forget addresses of domains no longer listed.
	listed := map[string]bool{}
	for _, d := range set.Domains() {
		listed[d] = true
	}
	for d := range s.resolved {
		if !listed[d] {
			delete(s.resolved, d)
		}
	}
	for _, p := range s.Files() {
		label := listLabel(p)
		for _, k := range Kinds {
			metrics.GetOrCreateGauge(fmt.Sprintf(`%s{list=%q,kind=%q}`, names.IntelEntries, label, k), nil).Set(float64(set.Count(p, k)))
		}
	}
	s.cur.Store(set)
	return set
}

// Resolve looks up every listed domain (or, with onlyNew, those never
// resolved yet) and publishes a new Set. A failed lookup keeps the domain's
// previous addresses and counts minewatch_intel_resolve_errors_total.
func (s *Store) Resolve(ctx context.Context) error { return s.resolve(ctx, false) }

func (s *Store) resolve(ctx context.Context, onlyNew bool) error {
	s.mu.Lock()
	var todo []string
	for _, d := range s.cur.Load().Domains() {
		if _, done := s.resolved[d]; !onlyNew || !done {
			todo = append(todo, d)
		}
	}
	s.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}

	results := LookupAll(ctx, s.opts.Resolver, todo, s.opts.Workers, s.opts.LookupTimeout)

	var failed []string
	s.mu.Lock()
	for _, r := range results {
		if r.Domain == "" {
			continue // cancelled before its turn
		}
		if r.Err != nil {
			// Keep the previous addresses (a sinkhole answer is the blocking, not the pool).
			s.resolveErrors.Inc()
			failed = append(failed, fmt.Sprintf("%s (%v)", r.Domain, r.Err))
			if _, ok := s.resolved[r.Domain]; !ok {
				s.resolved[r.Domain] = nil // tried: Run does not retry it at once
			}
			continue
		}
		s.resolved[r.Domain] = r.Addrs
	}
	s.rebuildLocked()
	s.mu.Unlock()

	if len(failed) > 0 {
		shown := failed
		if len(shown) > 5 {
			shown = shown[:5]
		}
		err := fmt.Errorf("%d of %d pool domains did not resolve, keeping their previous addresses: %s",
			len(failed), len(todo), strings.Join(shown, "; "))
		return err
	}
	return ctx.Err()
}

// Run resolves all domains now and every interval, and newly listed domains
// soon after each Load, and forgets expired probe decisions every minute,
// until ctx ends.
func (s *Store) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	s.logResolve(s.resolve(ctx, false))
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			s.Prune()
		case <-t.C:
			s.logResolve(s.resolve(ctx, false))
		case <-s.kick:
			s.logResolve(s.resolve(ctx, true))
		}
	}
}

func (s *Store) logResolve(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		s.opts.Logger.Warn("intel: "+err.Error(), "component", "intel")
	}
}

// sinkhole reports addresses that cannot be a pool on the Internet: what a
// DNS server that refuses pool domains (as the campaign asks of bureau DNS)
// answers instead (0.0.0.0, 127.0.0.1, a private block page), or junk.
func sinkhole(a netip.Addr) bool {
	return !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() ||
		a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsInterfaceLocalMulticast()
}

// DNSResolver resolves through one DNS server (host:port, port 53 if
// omitted) instead of the system's, e.g. an unfiltered resolver when the
// local DNS blocks pool domains. "" returns the system resolver.
func DNSResolver(server string) Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}
}
