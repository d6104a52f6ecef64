// Package blocklist turns the pool intel (矿池情报, DESIGN.md §3.3) and the
// confirmed pools into the files edge devices and resolvers load (动态黑名单):
// an nftables table, an ipset restore file, a hosts file, dnsmasq, Unbound and
// BIND RPZ configuration, plain domain and IP lists, Suricata dns.query rules
// and the intel list format itself.
//
// A guard stands between the intel and every address it writes: an address
// shared by many sites (one that domains of several owners resolve to, a
// published CDN range) or an allowlisted one is never written, because
// blocking it at the edge would cut a school off from unrelated services. The
// guard says what it left out and why (Report), so nothing disappears
// silently.
package blocklist

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gaissmai/bart"
	"golang.org/x/net/publicsuffix"

	"github.com/minewatch/minewatch/exporter/intel"
)

// cdnRanges is the shipped list of published CDN ranges (cited in the file).
//
//go:embed cdn-ranges.txt
var cdnRanges []byte

// CDNRangesName names the shipped CDN list in reports.
const CDNRangesName = "cdn-ranges.txt (shipped)"

// ConfirmedSource is the source given to entries of a confirmed-pools file
// that name none: pools minewatch confirmed itself (by an intel hit or an
// active Stratum probe).
const ConfirmedSource = "confirmed"

// Configuration of the blocklist writer. Proposed YAML key: blocklist.
type Configuration struct {
	// Intel: pool lists (bureau and upstream intel), intel format.
	Intel []string `yaml:"intel"`
	// Confirmed: files of pools minewatch confirmed, intel format (until the
	// confirmed entries of package intel are wired in, they come as a file).
	Confirmed []string `yaml:"confirmed"`
	// Allowlists: endpoints never to block, intel format.
	Allowlists []string `yaml:"allowlists"`
	// CDNRanges: more shared ranges besides the shipped cdn-ranges.txt.
	CDNRanges []string `yaml:"cdn_ranges"`
	// DNSServer resolves the listed domains (host[:port]; "" = the system's).
	// Use an unfiltered resolver: one that already refuses pool domains
	// answers 0.0.0.0 or NXDOMAIN.
	DNSServer string `yaml:"dns_server"`
	// Workers: lookups in flight at once.
	Workers int `yaml:"workers"`
	// LookupTimeout bounds one domain's lookup.
	LookupTimeout time.Duration `yaml:"lookup_timeout"`
	// SharedDomains: an address that domains of this many different
	// registrable domains (example.com, example.org) resolve to is shared
	// hosting, not a pool's own server.
	SharedDomains int `yaml:"shared_domains"`
	// MinPrefixV4, MinPrefixV6: listed ranges wider than this are left out
	// (a /8 in a pool list is a typo or an attack on the list).
	MinPrefixV4 int `yaml:"min_prefix_v4"`
	MinPrefixV6 int `yaml:"min_prefix_v6"`
}

// DefaultConfiguration returns the defaults.
func DefaultConfiguration() Configuration {
	return Configuration{
		Workers:       8,
		LookupTimeout: 5 * time.Second,
		SharedDomains: 2,
		MinPrefixV4:   16,
		MinPrefixV6:   32,
	}
}

// Addr is one address or range kept for the IP formats.
type Addr struct {
	Prefix netip.Prefix
	Port   uint16 // 0: every port; else TCP to this port only
	Why    string // the entry that put it there: "pool.example.org (pools.txt:3)"
}

// Domain is one domain kept for the DNS formats.
type Domain struct {
	Name         string
	Coin, Source string
	Why          string // list:line
}

// LeftOut is one thing the guard kept out, and why (Chinese, then English).
type LeftOut struct {
	What   string // the address, range or domain
	From   string // the entry it came from, with list:line
	Reason string
}

// Blocklist is the guarded result, ready to be written in any format.
type Blocklist struct {
	Addrs   []Addr   // sorted, none inside another without a port
	Domains []Domain // sorted by name
	LeftOut []LeftOut
	// Unresolved: domains that did not resolve (they are still in the DNS
	// formats; their addresses are simply unknown).
	Unresolved []string
	// Entries: the kept entries as written in the lists (for the intel format).
	Entries []*intel.Entry
	Created time.Time
	Inputs  []string // the files read
	// Resolver names the DNS server used; Looked up counts the domains asked.
	Resolver string
	LookedUp int
}

// Build reads the lists, resolves their domains and applies the guard.
func Build(ctx context.Context, cfg Configuration) (*Blocklist, error) {
	d := DefaultConfiguration()
	if cfg.Workers <= 0 {
		cfg.Workers = d.Workers
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = d.LookupTimeout
	}
	if cfg.SharedDomains <= 0 {
		cfg.SharedDomains = d.SharedDomains
	}
	if cfg.MinPrefixV4 <= 0 {
		cfg.MinPrefixV4 = d.MinPrefixV4
	}
	if cfg.MinPrefixV6 <= 0 {
		cfg.MinPrefixV6 = d.MinPrefixV6
	}
	if len(cfg.Intel)+len(cfg.Confirmed) == 0 {
		return nil, errors.New("no pool list given: name at least one intel list (--intel) or confirmed-pools file (--confirmed)")
	}
	var errs []error
	read := func(paths []string, defaultSource string) []*intel.List {
		var out []*intel.List
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l, err := intel.Parse(p, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, e := range l.Entries {
				if e.Source == "" {
					e.Source = defaultSource
				}
			}
			out = append(out, l)
		}
		return out
	}
	pools := append(read(cfg.Intel, ""), read(cfg.Confirmed, ConfirmedSource)...)
	allow := read(cfg.Allowlists, "")
	cdnLists := []*intel.List{}
	if l, err := intel.Parse(CDNRangesName, cdnRanges); err != nil {
		errs = append(errs, err)
	} else {
		cdnLists = append(cdnLists, l)
	}
	cdnLists = append(cdnLists, read(cfg.CDNRanges, "")...)
	for _, l := range cdnLists {
		for _, e := range l.Entries {
			if e.Kind != intel.KindIP && e.Kind != intel.KindCIDR {
				errs = append(errs, fmt.Errorf("%s: %s: a CDN range list holds addresses and ranges only", where(e), e.Pool))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Resolve every domain of the pool lists and allowlists once.
	var domains []string
	seen := map[string]bool{}
	for _, ls := range [][]*intel.List{pools, allow} {
		for _, l := range ls {
			for _, e := range l.Entries {
				// A public suffix is never refused, and its addresses are anyone's: not looked up.
				if e.Kind == intel.KindDomain && !seen[e.Domain()] && !publicSuffix(e.Domain()) {
					seen[e.Domain()] = true
					domains = append(domains, e.Domain())
				}
			}
		}
	}
	resolved := map[string][]netip.Addr{}
	var unresolved []string
	for _, r := range intel.LookupAll(ctx, intel.DNSResolver(cfg.DNSServer), domains, cfg.Workers, cfg.LookupTimeout) {
		switch {
		case r.Domain == "":
		case r.Err != nil:
			unresolved = append(unresolved, fmt.Sprintf("%s: %v", r.Domain, r.Err))
		default:
			resolved[r.Domain] = r.Addrs
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("resolving %d domains through %s: %w", len(domains), dnsName(cfg.DNSServer), err)
	}

	g := newGuard(cfg, allow, cdnLists, pools, resolved)
	b := &Blocklist{Created: time.Now(), Unresolved: unresolved, Resolver: dnsName(cfg.DNSServer), LookedUp: len(domains)}
	for _, ls := range [][]*intel.List{pools, allow, cdnLists[1:]} {
		for _, l := range ls {
			b.Inputs = append(b.Inputs, l.Name)
		}
	}
	g.apply(b, pools, resolved)
	return b, nil
}

func dnsName(server string) string {
	if server == "" {
		return "the system resolver"
	}
	return server
}

func where(e *intel.Entry) string { return fmt.Sprintf("%s:%d", e.List, e.Line) }

// guard decides what may be written.
type guard struct {
	cfg          Configuration
	allow        *bart.Table[string] // allowlisted addresses and ranges → why
	allowDomains map[string]string   // allowlisted domain → list:line
	cdn          *bart.Table[string] // CDN range → provider and list
	owners       map[netip.Addr][]string
}

func newGuard(cfg Configuration, allow, cdn, pools []*intel.List, resolved map[string][]netip.Addr) *guard {
	g := &guard{cfg: cfg, allow: new(bart.Table[string]), allowDomains: map[string]string{},
		cdn: new(bart.Table[string]), owners: map[netip.Addr][]string{}}
	for _, l := range allow {
		for _, e := range l.Entries {
			if e.Kind == intel.KindDomain {
				g.allowDomains[e.Domain()] = where(e)
				for _, a := range resolved[e.Domain()] {
					g.allow.Insert(netip.PrefixFrom(a, a.BitLen()), fmt.Sprintf("%s → %s (%s)", e.Domain(), a, where(e)))
				}
				continue
			}
			g.allow.Insert(e.Prefix(), fmt.Sprintf("%s (%s)", e.Pool, where(e)))
		}
	}
	for _, l := range cdn {
		for _, e := range l.Entries {
			if p := e.Prefix(); p.IsValid() {
				g.cdn.Insert(p, fmt.Sprintf("%s %s (%s)", e.Source, e.Pool, l.Name))
			}
		}
	}
	// Who resolves to each address: registrable domains of pools and allowlist.
	for _, ls := range [][]*intel.List{pools, allow} {
		for _, l := range ls {
			for _, e := range l.Entries {
				if e.Kind != intel.KindDomain {
					continue
				}
				owner := registrable(e.Domain())
				for _, a := range resolved[e.Domain()] {
					if !slices.Contains(g.owners[a], owner) {
						g.owners[a] = append(g.owners[a], owner)
					}
				}
			}
		}
	}
	return g
}

// registrable is the domain a name belongs to (pool.example.co.uk →
// example.co.uk): names of one owner may share an address, names of several
// owners sharing one are shared hosting.
func registrable(name string) string {
	if r, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil {
		return r
	}
	return name
}

// addrReason is why an address or range must not be written ("" = it may).
func (g *guard) addrReason(p netip.Prefix) string {
	a := p.Addr()
	switch {
	case !a.IsGlobalUnicast() || a.IsPrivate():
		return "非公网地址，封堵会影响内网 not a public unicast address: blocking it would hit internal traffic"
	case a.Is4() && p.Bits() < g.cfg.MinPrefixV4, a.Is6() && p.Bits() < g.cfg.MinPrefixV6:
		min := g.cfg.MinPrefixV4
		if a.Is6() {
			min = g.cfg.MinPrefixV6
		}
		return fmt.Sprintf("网段过大（宽于 /%d） range wider than /%d: a typo or a poisoned list", min, min)
	}
	if why, ok := overlap(g.allow, p); ok {
		return "白名单 allowlisted: " + why
	}
	if why, ok := overlap(g.cdn, p); ok {
		return "共享CDN地址段 shared CDN range: " + why
	}
	if p.IsSingleIP() {
		if o := g.owners[a]; len(o) >= g.cfg.SharedDomains {
			sorted := slices.Sorted(slices.Values(o))
			return fmt.Sprintf("%d 个不同域名共用此地址（共享主机） shared by %d different domains: %s", len(o), len(o), strings.Join(sorted, ", "))
		}
	}
	return ""
}

// overlap finds a table entry overlapping p and says which.
func overlap(t *bart.Table[string], p netip.Prefix) (string, bool) {
	if !t.OverlapsPrefix(p) {
		return "", false
	}
	if _, why, ok := t.LookupPrefixLPM(p); ok {
		return why, true // a listed range covers p
	}
	for _, why := range t.Subnets(p) {
		return why, true // p covers a listed range
	}
	return "", true
}

// publicSuffix: d is a suffix under which anyone registers names (com.cn, github.io).
func publicSuffix(d string) bool {
	r, err := publicsuffix.EffectiveTLDPlusOne(d)
	return err != nil || r == ""
}

// domainReason is why a domain must not be refused in DNS ("" = it may).
// Resolvers refuse a listed name with all names below it, so a pool domain
// above an allowlisted name is left out too.
func (g *guard) domainReason(d string) string {
	if publicSuffix(d) {
		return "公共后缀，拒绝解析会影响其下所有网站 a public suffix: refusing it would refuse every site below it"
	}
	if w, ok := g.allowDomains[d]; ok {
		return "白名单 allowlisted (" + w + ")"
	}
	for a, w := range g.allowDomains {
		if strings.HasSuffix(a, "."+d) {
			return fmt.Sprintf("会连带拒绝白名单域名 would also refuse allowlisted %s (%s)", a, w)
		}
	}
	return ""
}

func (g *guard) apply(b *Blocklist, pools []*intel.List, resolved map[string][]netip.Addr) {
	var addrs []Addr
	seenDomain := map[string]bool{}
	leaveOut := func(what string, e *intel.Entry, reason string) {
		b.LeftOut = append(b.LeftOut, LeftOut{What: what, From: fmt.Sprintf("%s (%s)", e.Pool, where(e)), Reason: reason})
	}
	for _, l := range pools {
		for _, e := range l.Entries {
			switch e.Kind {
			case intel.KindIP, intel.KindCIDR, intel.KindIPPort:
				p := e.Prefix()
				if r := g.addrReason(p); r != "" {
					leaveOut(e.Pool, e, r)
					continue
				}
				addrs = append(addrs, Addr{Prefix: p, Port: e.Port(), Why: fmt.Sprintf("%s (%s)", e.Pool, where(e))})
				b.Entries = append(b.Entries, e)
			case intel.KindDomain:
				d := e.Domain()
				if r := g.domainReason(d); r != "" {
					leaveOut(d, e, r)
				} else if !seenDomain[d] {
					seenDomain[d] = true
					b.Domains = append(b.Domains, Domain{Name: d, Coin: e.Coin, Source: e.Source, Why: where(e)})
					b.Entries = append(b.Entries, e)
				}
				for _, a := range resolved[d] {
					p := netip.PrefixFrom(a, a.BitLen())
					if r := g.addrReason(p); r != "" {
						leaveOut(a.String(), e, r)
						continue
					}
					addrs = append(addrs, Addr{Prefix: p, Port: e.Port(), Why: fmt.Sprintf("%s → %s (%s)", e.Pool, a, where(e))})
				}
			}
		}
	}
	b.Addrs = normalise(addrs)
	sort.Slice(b.Domains, func(i, j int) bool { return b.Domains[i].Name < b.Domains[j].Name })
	sort.Strings(b.Unresolved)
}

// normalise sorts the addresses, drops repeats and drops what a kept
// any-port range already covers (nftables refuses overlapping intervals).
func normalise(in []Addr) []Addr {
	sort.SliceStable(in, func(i, j int) bool {
		a, b := in[i].Prefix, in[j].Prefix
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		if a.Bits() != b.Bits() {
			return a.Bits() < b.Bits() // the wider range first
		}
		return in[i].Port < in[j].Port
	})
	anyPort := new(bart.Table[bool])
	for _, a := range in {
		if a.Port == 0 {
			anyPort.Insert(a.Prefix, true)
		}
	}
	// widerAnyPort: a strictly wider any-port range holds p.
	widerAnyPort := func(p netip.Prefix) bool {
		if p.Bits() == 0 {
			return false
		}
		_, _, ok := anyPort.LookupPrefixLPM(netip.PrefixFrom(p.Addr(), p.Bits()-1).Masked())
		return ok
	}
	var out []Addr
	seen := map[Addr]bool{}
	for _, a := range in {
		k := Addr{Prefix: a.Prefix, Port: a.Port}
		if seen[k] {
			continue
		}
		seen[k] = true
		if a.Port == 0 && widerAnyPort(a.Prefix) {
			continue
		}
		if _, _, ok := anyPort.LookupPrefixLPM(a.Prefix); a.Port != 0 && ok {
			continue // every port of the address is blocked already
		}
		out = append(out, a)
	}
	return out
}
