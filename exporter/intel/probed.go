package intel

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/names"
)

// SourceConfirmed is the Source (and ProbedList the List) of an entry that
// joined the intel because an active probe got a mining-protocol answer from
// the endpoint: no list published it, the pool itself did.
const (
	SourceConfirmed = "confirmed"
	SourceRefuted   = "refuted"
	ProbedList      = "probe"
)

// DefaultMaxProbed bounds the confirmed and refuted endpoints held together.
const DefaultMaxProbed = 20_000

// Evidence says when and how an active probe decided about an endpoint, so
// that a flagged host can show why its remote end is a pool.
type Evidence struct {
	At       time.Time // when the deciding answer came
	Protocol string    // stratum, cryptonote, ethproxy
	TLS      bool      // the answer came over TLS
	Excerpt  string    // the start of the answer (or why it was refuted)
	Coin     string    // upper case when the answer shows it, else ""
	Until    time.Time // forgotten after this (zero: kept until displaced)
}

// How is the evidence in one line: "stratum over TLS at 2026-12-01 22:03 北京时间".
func (ev *Evidence) How() string {
	tr := "TCP"
	if ev.TLS {
		tr = "TLS"
	}
	return fmt.Sprintf("%s over %s at %s", ev.Protocol, tr, ev.At.In(names.Location()).Format("2006-01-02 15:04:05 MST"))
}

// probed is an immutable snapshot of what probes decided, shared by every
// Set until the next Confirm, Refute or prune (copy on write: probes are
// rate-limited, lookups are per flow record).
type probed struct {
	confirmed map[netip.AddrPort]*Entry
	refuted   map[netip.AddrPort]*Entry
}

var emptyProbed = &probed{}

func (p *probed) clone() *probed {
	return &probed{confirmed: maps.Clone(p.confirmed), refuted: maps.Clone(p.refuted)}
}

// withProbed returns a copy of s showing p (s itself is not changed).
func (s *Set) withProbed(p *probed) *Set {
	c := *s
	c.probed = p
	return &c
}

// Confirmed returns the probe's entry for the endpoint, or nil.
func (s *Set) Confirmed(ep netip.AddrPort) *Entry {
	if s == nil || s.probed == nil {
		return nil
	}
	return s.probed.confirmed[unmapEP(ep)]
}

// Refuted returns the entry that remembers a probe found no pool at the
// endpoint, or nil.
func (s *Set) Refuted(ep netip.AddrPort) *Entry {
	if s == nil || s.probed == nil {
		return nil
	}
	return s.probed.refuted[unmapEP(ep)]
}

func unmapEP(ep netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ep.Addr().Unmap(), ep.Port())
}

// Confirm makes the endpoint intel of Source "confirmed" (Kind
// KindConfirmed) with the probe's evidence: Match returns it from now on (a
// listed entry still wins, except one known only from resolving a domain,
// which may be a shared CDN address: a pool's own answer is the stronger
// evidence). It replaces an earlier refutation of the endpoint.
func (s *Store) Confirm(ep netip.AddrPort, ev Evidence) {
	s.putProbed(ep, ev, true)
}

// Refute remembers that a probe found no pool at the endpoint: until
// ev.Until, Allowed reports it, so records to it no longer make suspects. An
// endpoint a pool list names is never refuted (the list is the bureau's
// word; the pool may just refuse strangers), nor one confirmed since.
func (s *Store) Refute(ep netip.AddrPort, ev Evidence) {
	s.putProbed(ep, ev, false)
}

func (s *Store) putProbed(ep netip.AddrPort, ev Evidence, confirmed bool) {
	ep = unmapEP(ep)
	if !ep.Addr().IsValid() {
		return
	}
	now := s.now()
	if !ev.Until.IsZero() && !ev.Until.After(now) {
		return // already stale
	}
	e := &Entry{Pool: ep.String(), Coin: ev.Coin, Kind: KindConfirmed, Source: SourceConfirmed,
		List: ProbedList, addr: ep.Addr(), port: ep.Port(), Probe: &ev}
	if !confirmed {
		e.Kind, e.Source = KindRefuted, SourceRefuted
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	if !confirmed {
		if m := cur.pools.match(ep.Addr(), ep.Port()); m != nil {
			return
		}
		if old := cur.Confirmed(ep); old != nil && old.Probe.At.After(ev.At) {
			return // a later probe confirmed it
		}
	}
	p := s.probed.clone()
	p.prune(now)
	if confirmed {
		if p.confirmed == nil {
			p.confirmed = map[netip.AddrPort]*Entry{}
		}
		delete(p.refuted, ep)
		p.confirmed[ep] = e
	} else {
		if p.refuted == nil {
			p.refuted = map[netip.AddrPort]*Entry{}
		}
		delete(p.confirmed, ep)
		p.refuted[ep] = e
	}
	p.bound(s.opts.MaxProbed)
	s.publishProbedLocked(p)
}

// Probed lists the confirmed endpoints (for the upward report of new pools
// and the API), newest first.
func (s *Store) Probed() (confirmed, refuted []*Entry) {
	p := s.cur.Load().probed
	if p == nil {
		return nil, nil
	}
	byNewest := func(a, b *Entry) int { return b.Probe.At.Compare(a.Probe.At) }
	confirmed = slices.SortedFunc(maps.Values(p.confirmed), byNewest)
	refuted = slices.SortedFunc(maps.Values(p.refuted), byNewest)
	return confirmed, refuted
}

// Prune forgets probe decisions past their Until; Run calls it every minute.
func (s *Store) Prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.probed.stale(now) {
		return
	}
	p := s.probed.clone()
	p.prune(now)
	s.publishProbedLocked(p)
}

func (s *Store) publishProbedLocked(p *probed) {
	s.probed = p
	s.cur.Store(s.cur.Load().withProbed(p))
	s.probedGauges(p)
}

func (s *Store) probedGauges(p *probed) {
	metrics.GetOrCreateGauge(fmt.Sprintf(`%s{list=%q,kind=%q}`, names.IntelEntries, ProbedList, KindConfirmed), nil).Set(float64(len(p.confirmed)))
	metrics.GetOrCreateGauge(fmt.Sprintf(`%s{list=%q,kind=%q}`, names.IntelEntries, ProbedList, KindRefuted), nil).Set(float64(len(p.refuted)))
}

func (p *probed) stale(now time.Time) bool {
	for _, m := range []map[netip.AddrPort]*Entry{p.confirmed, p.refuted} {
		for _, e := range m {
			if expired(e, now) {
				return true
			}
		}
	}
	return false
}

func expired(e *Entry, now time.Time) bool {
	return !e.Probe.Until.IsZero() && !e.Probe.Until.After(now)
}

// prune deletes expired entries (p must be a private copy).
func (p *probed) prune(now time.Time) {
	for _, m := range []map[netip.AddrPort]*Entry{p.confirmed, p.refuted} {
		maps.DeleteFunc(m, func(_ netip.AddrPort, e *Entry) bool { return expired(e, now) })
	}
}

// bound keeps at most max entries: refutations go first (a refuted endpoint
// forgotten is only probed again), then the oldest decisions.
func (p *probed) bound(max int) {
	over := len(p.confirmed) + len(p.refuted) - max
	if over <= 0 {
		return
	}
	for _, m := range []map[netip.AddrPort]*Entry{p.refuted, p.confirmed} {
		if over <= 0 {
			return
		}
		old := slices.SortedFunc(maps.Values(m), func(a, b *Entry) int { return a.Probe.At.Compare(b.Probe.At) })
		for _, e := range old[:min(over, len(old))] {
			delete(m, netip.AddrPortFrom(e.addr, e.port))
			over--
		}
	}
}

// Probeable reports whether a probe of the endpoint can decide anything:
// not allowlisted or already refuted, and not a pool domain's shared (CDN)
// address — dialled without the domain as SNI, the CDN would answer, and a
// refutation would hide the listed domain. Such endpoints stay suspects.
func (s *Set) Probeable(ip netip.Addr, port uint16) bool {
	if s.Allowed(ip, port) {
		return false
	}
	e := s.Match(ip, port)
	return e == nil || !e.Shared
}
