package intel

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
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
	// Name is the domain the probe sent as TLS SNI ("" for a probe of the
	// bare address). A decision with a name holds for that name at that
	// address only: a shared (CDN) address serves other names too.
	Name string
	// First is when the endpoint was first confirmed (kept across
	// re-confirmations; set by Confirm): the upward report's "found on".
	First time.Time
}

// How is the evidence in one line: "stratum over TLS at 2026-12-01 22:03:00 CST",
// "cryptonote over TLS (SNI pool.example.org) at …" for a probe with a name.
func (ev *Evidence) How() string {
	tr := "TCP"
	if ev.TLS {
		tr = "TLS"
	}
	if ev.Name != "" {
		tr += " (SNI " + ev.Name + ")"
	}
	return fmt.Sprintf("%s over %s at %s", ev.Protocol, tr, ev.At.In(names.Location()).Format("2006-01-02 15:04:05 MST"))
}

// probeKey is what a probe decided about: an endpoint, dialled bare (name
// "") or with a listed pool domain as SNI.
type probeKey struct {
	ep   netip.AddrPort
	name string
}

// hostEP is an internal host's mining-like session to a pool domain's
// shared address (Store.Suspect).
type hostEP struct {
	host netip.Addr
	ep   netip.AddrPort
}

// probed is an immutable snapshot of what probes decided, shared by every
// Set until the next Confirm, Refute, Suspect or prune (copy on write: probes
// are rate-limited, lookups are per flow record).
type probed struct {
	confirmed map[probeKey]*Entry
	refuted   map[probeKey]*Entry
	// suspects: hosts whose own mining-like session went to a pool domain's
	// shared address, until when. A confirmation of the domain at that
	// address flags these hosts only, never every host of the CDN address.
	suspects map[hostEP]time.Time
	named    int // confirmed entries with a name (fast path of MatchHost)
}

var emptyProbed = &probed{}

func (p *probed) clone() *probed {
	return &probed{confirmed: maps.Clone(p.confirmed), refuted: maps.Clone(p.refuted), suspects: maps.Clone(p.suspects), named: p.named}
}

func (p *probed) countNamed() {
	p.named = 0
	for k := range p.confirmed {
		if k.name != "" {
			p.named++
		}
	}
}

// withProbed returns a copy of s showing p (s itself is not changed).
func (s *Set) withProbed(p *probed) *Set {
	c := *s
	c.setProbed(p)
	return &c
}

// Confirmed returns the probe's entry for the endpoint dialled bare, or nil.
func (s *Set) Confirmed(ep netip.AddrPort) *Entry { return s.ConfirmedName(ep, "") }

// ConfirmedName returns the probe's entry for the endpoint probed with name
// as SNI ("": bare), or nil.
func (s *Set) ConfirmedName(ep netip.AddrPort, name string) *Entry {
	if s == nil || s.probed == nil {
		return nil
	}
	return s.probed.confirmed[probeKey{unmapEP(ep), name}]
}

// Refuted returns the entry that remembers a probe of the bare endpoint
// found no pool there, or nil.
func (s *Set) Refuted(ep netip.AddrPort) *Entry { return s.RefutedName(ep, "") }

// RefutedName is Refuted for a probe with name as SNI.
func (s *Set) RefutedName(ep netip.AddrPort, name string) *Entry {
	if s == nil || s.probed == nil {
		return nil
	}
	return s.probed.refuted[probeKey{unmapEP(ep), name}]
}

func unmapEP(ep netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ep.Addr().Unmap(), ep.Port())
}

// Confirm makes the endpoint intel of Source "confirmed" (Kind
// KindConfirmed) with the probe's evidence. Probed bare (ev.Name ""), Match
// returns it from now on (a listed entry still wins, except one known only
// from resolving a domain, which may be a shared CDN address: a pool's own
// answer is the stronger evidence). Probed with a listed domain as SNI, it
// confirms that domain at that address only: MatchHost returns it for the
// hosts whose own mining-like session went there (Suspect), Match never.
// It replaces an earlier refutation of the same endpoint and name.
func (s *Store) Confirm(ep netip.AddrPort, ev Evidence) {
	s.putProbed(ep, ev, true)
}

// Refute remembers that a probe found no pool at the endpoint. A bare
// refutation makes Allowed report the endpoint until ev.Until, so records to
// it no longer make suspects; one with a name (SNI) only stops that name
// being probed there again, since the address serves other names. An
// endpoint a pool list names is never refuted bare (the list is the
// bureau's word; the pool may just refuse strangers), nor one confirmed since.
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
	key := probeKey{ep, ev.Name}
	pool := ep.String()
	if ev.Name != "" {
		pool = ev.Name + " @ " + pool
	}
	e := &Entry{Pool: pool, Coin: ev.Coin, Kind: KindConfirmed, Source: SourceConfirmed,
		List: ProbedList, addr: ep.Addr(), port: ep.Port(), domain: ev.Name, Probe: &ev}
	if !confirmed {
		e.Kind, e.Source = KindRefuted, SourceRefuted
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	if !confirmed {
		if m := cur.pools.match(ep.Addr(), ep.Port()); m != nil && ev.Name == "" {
			return
		}
		if old := cur.ConfirmedName(ep, ev.Name); old != nil && old.Probe.At.After(ev.At) {
			return // a later probe confirmed it
		}
	}
	p := s.probed.clone()
	p.prune(now)
	if confirmed {
		if p.confirmed == nil {
			p.confirmed = map[probeKey]*Entry{}
		}
		switch old := p.confirmed[key]; {
		case old != nil && !old.Probe.First.IsZero() && (ev.First.IsZero() || old.Probe.First.Before(ev.First)):
			ev.First = old.Probe.First
		case ev.First.IsZero():
			ev.First = ev.At
		}
		delete(p.refuted, key)
		p.confirmed[key] = e
	} else {
		if p.refuted == nil {
			p.refuted = map[probeKey]*Entry{}
		}
		delete(p.confirmed, key)
		p.refuted[key] = e
	}
	p.bound(s.opts.MaxProbed)
	p.countNamed()
	s.publishProbedLocked(p)
}

// Suspect notes that the host's own mining-like session goes to ep, when ep
// is only known as a pool domain's shared (CDN) address: once a probe with
// that domain as SNI confirms the pool there (or if one already did),
// MatchHost returns the confirmation for this host's records to ep. The note
// lasts until, normally the confirmed TTL (the host is not asked about again
// while flagged). Other endpoints are ignored: their confirmation needs no host.
func (s *Store) Suspect(host netip.Addr, ep netip.AddrPort, until time.Time) {
	ep, host = unmapEP(ep), host.Unmap()
	now := s.now()
	if !until.After(now) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.cur.Load().pools.match(ep.Addr(), ep.Port()); m == nil || !m.Shared {
		return
	}
	k := hostEP{host, ep}
	if old, ok := s.probed.suspects[k]; ok && !old.Before(until) {
		return
	}
	p := s.probed.clone()
	p.prune(now)
	if p.suspects == nil {
		p.suspects = map[hostEP]time.Time{}
	}
	p.suspects[k] = until
	p.bound(s.opts.MaxProbed)
	s.publishProbedLocked(p)
}

// NotedUntil is how long the host's note at ep (Suspect) lasts; zero when
// there is none.
func (s *Set) NotedUntil(host netip.Addr, ep netip.AddrPort) time.Time {
	if s == nil || s.probed == nil {
		return time.Time{}
	}
	return s.probed.suspects[hostEP{host.Unmap(), unmapEP(ep)}]
}

// Probed lists the confirmed endpoints (for the upward report of new pools
// and the API), newest first.
func (s *Store) Probed() (confirmed, refuted []*Entry) {
	p := s.cur.Load().probed
	if p == nil {
		return nil, nil
	}
	byNewest := func(a, b *Entry) int {
		if c := b.Probe.At.Compare(a.Probe.At); c != 0 {
			return c
		}
		return strings.Compare(a.Pool, b.Pool)
	}
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
	// One minewatch_pool_confirmed series per confirmed endpoint (bounded
	// by MaxProbed), for the upward report of newly found pools; a series
	// goes when its confirmation expires or is displaced.
	live := make(map[string]bool, len(p.confirmed))
	for k, e := range p.confirmed {
		name := fmt.Sprintf(`%s{endpoint=%q,domain=%q,protocol=%q,tls="%t"}`, names.PoolConfirmed, k.ep.String(), k.name, e.Probe.Protocol, e.Probe.TLS)
		live[name] = true
		metrics.GetOrCreateGauge(name, nil).Set(float64(e.Probe.First.Unix()))
	}
	for name := range s.confirmedSeries {
		if !live[name] {
			metrics.UnregisterMetric(name)
		}
	}
	s.confirmedSeries = live
}

func (p *probed) stale(now time.Time) bool {
	for _, m := range []map[probeKey]*Entry{p.confirmed, p.refuted} {
		for _, e := range m {
			if expired(e, now) {
				return true
			}
		}
	}
	for _, until := range p.suspects {
		if !until.After(now) {
			return true
		}
	}
	return false
}

func expired(e *Entry, now time.Time) bool {
	return !e.Probe.Until.IsZero() && !e.Probe.Until.After(now)
}

// prune deletes expired entries (p must be a private copy).
func (p *probed) prune(now time.Time) {
	for _, m := range []map[probeKey]*Entry{p.confirmed, p.refuted} {
		maps.DeleteFunc(m, func(_ probeKey, e *Entry) bool { return expired(e, now) })
	}
	maps.DeleteFunc(p.suspects, func(_ hostEP, until time.Time) bool { return !until.After(now) })
	p.countNamed()
}

// bound keeps at most max decisions and max host notes: refutations go
// first (a refuted endpoint forgotten is only probed again), then the
// oldest decisions; host notes soonest to expire first.
func (p *probed) bound(max int) {
	if over := len(p.suspects) - max; over > 0 {
		type note struct {
			k     hostEP
			until time.Time
		}
		var all []note
		for k, u := range p.suspects {
			all = append(all, note{k, u})
		}
		slices.SortFunc(all, func(a, b note) int { return a.until.Compare(b.until) })
		for _, n := range all[:over] {
			delete(p.suspects, n.k)
		}
	}
	over := len(p.confirmed) + len(p.refuted) - max
	if over <= 0 {
		return
	}
	for _, m := range []map[probeKey]*Entry{p.refuted, p.confirmed} {
		if over <= 0 {
			return
		}
		old := slices.SortedFunc(maps.Values(m), func(a, b *Entry) int { return a.Probe.At.Compare(b.Probe.At) })
		for _, e := range old[:min(over, len(old))] {
			delete(m, probeKey{netip.AddrPortFrom(e.addr, e.port), e.domain})
			over--
		}
	}
}

// ProbeName says whether a probe of the endpoint can decide anything, and
// with which name as TLS SNI: not allowlisted or already refuted, not a
// listed or confirmed pool endpoint (nothing left to decide). A pool
// domain's shared (CDN) address is probed over TLS with that domain as SNI
// (dialled bare, the CDN would answer for itself, and a refutation would
// hide the listed domain), unless that probe already decided.
func (s *Set) ProbeName(ip netip.Addr, port uint16) (name string, ok bool) {
	if s.Allowed(ip, port) {
		return "", false
	}
	e := s.Match(ip, port)
	switch {
	case e == nil:
		return "", true
	case !e.Shared || e.domain == "":
		return "", false
	}
	ep := netip.AddrPortFrom(ip.Unmap(), port)
	if s.ConfirmedName(ep, e.domain) != nil || s.RefutedName(ep, e.domain) != nil {
		return e.domain, false
	}
	return e.domain, true
}

// MatchHost is Match for one internal host's record: besides what Match
// returns, a pool domain's shared address gives the probe's confirmation of
// that domain there (SNI), but only to a host whose own mining-like session
// went to it (Store.Suspect): the address serves other names to other hosts.
func (s *Set) MatchHost(host, ip netip.Addr, port uint16) *Entry {
	e := s.Match(ip, port)
	if e == nil || !e.Shared || s.probed == nil || s.probed.named == 0 {
		return e
	}
	ep := netip.AddrPortFrom(ip.Unmap(), port)
	if _, ok := s.probed.suspects[hostEP{host.Unmap(), ep}]; !ok {
		return e
	}
	if c := s.probed.confirmed[probeKey{ep, e.domain}]; c != nil {
		return c
	}
	return e
}
