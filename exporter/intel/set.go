package intel

import (
	"net/netip"

	"github.com/gaissmai/bart"
)

// Set is an immutable snapshot of the pool lists and the allowlist with
// their domains' current addresses. Safe for concurrent use.
type Set struct {
	pools, allow matcher
	counts       map[string]*[len(kindNames)]int // per list, by Kind
	domains      []string                        // every listed domain, pools and allowlist
	probed       *probed                         // what active probes decided; nil: nothing
	any4         *v4Filter                       // the pools' and the allowlist's together (Remote)
	// unlisted4 is any4 while no probe outcome is stored, else nil (a
	// probe may confirm or refute an endpoint in no list): what Unlisted4
	// reads, decided once a Set (setProbed) instead of once a record.
	unlisted4 *v4Filter
	// asked8 has a bit for each /8 where Unlisted8 cannot say: one with
	// some entry, or all of them while unlisted4 is nil (setProbed).
	asked8 [4]uint64
}

// matcher answers lookups with one map probe and one trie lookup. Listed
// addresses go into the trie as host routes, so longest-prefix match makes an
// exact address beat a range; precedence between listed and resolved (Shared)
// entries is settled when the matcher is built, not per lookup.
type matcher struct {
	ipPort map[netip.AddrPort]*Entry
	table  *bart.Table[*Entry]
	v4     *v4Filter // IPv4 fast negative, made by seal; nil: none
}

func newMatcher() matcher {
	return matcher{ipPort: map[netip.AddrPort]*Entry{}, table: new(bart.Table[*Entry])}
}

func hostRoute(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// addListed adds an entry as written in a list; the first mention of a
// prefix or endpoint wins.
func (m *matcher) addListed(e *Entry) {
	switch e.Kind {
	case KindIP, KindCIDR:
		p := e.prefix
		if e.Kind == KindIP {
			p = hostRoute(e.addr)
		}
		if _, dup := m.table.Get(p); !dup {
			m.table.Insert(p, e)
		}
	case KindIPPort:
		k := netip.AddrPortFrom(e.addr, e.port)
		if m.ipPort[k] == nil {
			m.ipPort[k] = e
		}
	}
}

// addResolved adds an address a domain resolved to, unless a listed entry
// (or an earlier domain) already covers it: a listed entry is the stronger
// evidence.
func (m *matcher) addResolved(e *Entry) {
	if _, covered := m.table.Lookup(e.addr); covered {
		return
	}
	if e.port == 0 {
		m.table.Insert(hostRoute(e.addr), e)
		return
	}
	k := netip.AddrPortFrom(e.addr, e.port)
	if m.ipPort[k] == nil {
		m.ipPort[k] = e
	}
}

// seal makes the filter once every entry is in.
func (m *matcher) seal() { m.v4 = newV4Filter(m) }

// match: IP:port, then longest-prefix match over addresses and ranges.
func (m *matcher) match(ip netip.Addr, port uint16) *Entry {
	if m.v4 != nil && ip.Is4() && !m.v4.may(ip.As4()) {
		return nil // in no entry's /24 (the common case)
	}
	if len(m.ipPort) > 0 {
		if e := m.ipPort[netip.AddrPortFrom(ip, port)]; e != nil {
			return e
		}
	}
	e, _ := m.table.Lookup(ip)
	return e
}

// NewSet builds a snapshot from parsed pool lists and allowlists; resolved
// gives each listed domain's current addresses (nil or missing: none yet).
func NewSet(pools, allow []*List, resolved map[string][]netip.Addr) *Set {
	s := &Set{pools: newMatcher(), allow: newMatcher(), counts: map[string]*[len(kindNames)]int{}}
	seenDomain := map[string]bool{}
	for pass := 0; pass < 2; pass++ { // listed entries first, then resolved ones
		for i, lists := range [][]*List{pools, allow} {
			m := &s.pools
			if i == 1 {
				m = &s.allow
			}
			for _, l := range lists {
				if l == nil {
					continue
				}
				c := s.counts[l.Name]
				if c == nil {
					c = new([len(kindNames)]int)
					s.counts[l.Name] = c
				}
				for _, e := range l.Entries {
					if e.Kind != KindDomain {
						if pass == 0 {
							m.addListed(e)
							c[e.Kind]++
						}
						continue
					}
					if pass == 0 {
						c[KindDomain]++
						if !seenDomain[e.domain] {
							seenDomain[e.domain] = true
							s.domains = append(s.domains, e.domain)
						}
						continue
					}
					for _, a := range resolved[e.domain] {
						r := *e
						r.Kind, r.Shared, r.addr = KindResolvedIP, true, a.Unmap()
						m.addResolved(&r)
						c[KindResolvedIP]++
					}
				}
			}
		}
	}
	s.pools.seal()
	s.allow.seal()
	s.any4 = newV4Filter(&s.pools, &s.allow)
	s.setProbed(nil)
	return s
}

// setProbed makes p the probe outcomes s shows, before s is published.
func (s *Set) setProbed(p *probed) {
	s.probed, s.unlisted4 = p, s.any4
	if p != nil && (len(p.confirmed) > 0 || len(p.refuted) > 0) {
		s.unlisted4 = nil
	}
	s.asked8 = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	if s.unlisted4 != nil {
		s.asked8 = s.unlisted4.any8
	}
}

// Match returns the pool entry for a remote endpoint, or nil. IP:port
// entries match only their port; an exact address beats a range; a listed
// entry beats an address known only from resolving a pool domain (Shared).
// An endpoint a probe confirmed (Source "confirmed") comes after a listed
// entry and before a Shared one. It does not allocate.
func (s *Set) Match(ip netip.Addr, port uint16) *Entry {
	if s == nil {
		return nil
	}
	ip = ip.Unmap()
	e := s.pools.match(ip, port)
	if (e == nil || e.Shared) && s.probed != nil && len(s.probed.confirmed) > 0 {
		if c := s.probed.confirmed[probeKey{netip.AddrPortFrom(ip, port), ""}]; c != nil {
			return c
		}
	}
	return e
}

// Allowed reports whether the endpoint is allowlisted, or refuted by a
// probe and named by no pool list: traffic to it never counts as pool
// contact (nor makes a suspect).
func (s *Set) Allowed(ip netip.Addr, port uint16) bool {
	if s == nil {
		return false
	}
	ip = ip.Unmap()
	if s.allow.match(ip, port) != nil {
		return true
	}
	if s.probed == nil || len(s.probed.refuted) == 0 || s.probed.refuted[probeKey{netip.AddrPortFrom(ip, port), ""}] == nil {
		return false
	}
	return s.pools.match(ip, port) == nil // listed after the refutation: the list wins
}

// Remote is what the pipeline asks of a record's remote end: Allowed, and
// if not, MatchHost for the internal host. For an IPv4 address in no list's
// /24, with no probe outcome stored, it answers from the filters alone.
func (s *Set) Remote(host, ip netip.Addr, port uint16) (allowed bool, pool *Entry) {
	if s == nil {
		return false, nil
	}
	ip = ip.Unmap()
	if s.any4 != nil && ip.Is4() && !s.any4.may(ip.As4()) &&
		(s.probed == nil || len(s.probed.confirmed) == 0 && len(s.probed.refuted) == 0) {
		return false, nil
	}
	if s.Allowed(ip, port) {
		return true, nil
	}
	return false, s.MatchHost(host, ip, port)
}

// Unlisted4 reports whether Remote answers (false, nil) for the IPv4
// address a (big-endian) whatever the host and port: no list has an entry
// in its /24 and no probe outcome is stored. The pipeline asks it first, with
// the address it converted once for the ledger too; false is only a maybe
// (then Remote decides).
func (s *Set) Unlisted4(a uint32) bool {
	if s == nil {
		return true
	}
	// Small enough to be inlined into the pipeline: one call (may32).
	return s.unlisted4 != nil && !s.unlisted4.may32(a)
}

// Unlisted8 is Unlisted4's first test: true when no list has an entry in
// the /8 of a (big-endian) and no probe outcome is stored, so Unlisted4 is
// true too. Without a call, it is inlined into the pipeline: most remote
// ends are in such a /8 (Unlisted4's call was a third of the intel's cost
// a record). False is only a maybe (then Unlisted4 decides).
func (s *Set) Unlisted8(a uint32) bool {
	if s == nil {
		return true
	}
	o := a >> 24
	return s.asked8[o>>6]&(1<<(o&63)) == 0
}

// Domains lists every domain of the pool lists and allowlists.
func (s *Set) Domains() []string {
	if s == nil {
		return nil
	}
	return s.domains
}

// Count returns how many entries of the kind the named list contributed.
func (s *Set) Count(list string, k Kind) int {
	if s == nil || s.counts[list] == nil || int(k) >= len(kindNames) {
		return 0
	}
	return s.counts[list][k]
}
