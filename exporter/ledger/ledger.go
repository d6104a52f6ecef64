// Package ledger holds the unit ledger (单位台账: who owns which IP ranges) and
// the asset ledger (资产台账: the high-compute devices and who answers for
// them), and answers, per flow record, whether an address is internal and
// whose it is.
//
// A Ledger is immutable once built: a reload builds a new one and swaps it in,
// so lookups need no locks.
package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gaissmai/bart"

	"github.com/minewatch/minewatch/exporter/names"
)

// Sectors are the allowed unit sectors (names owns them and their labels).
var Sectors = names.SectorIDs()

// Kinds are the allowed asset kinds.
var Kinds = []string{"server", "gpu-workstation", "pc", "lab-pc", "other"}

// Unassigned is the reserved unit label of internal addresses outside every
// unit's ranges; no unit may use it as its id.
const Unassigned = names.Unassigned

// Person is someone responsible: a unit's lead gets the alert emails.
type Person struct {
	Name, Email string
}

// Unit is one school, office or enterprise with its own address ranges.
type Unit struct {
	ID, Name, Sector, Parent string
	Lead                     Person
	CIDRs                    []netip.Prefix
	// Egress are the public addresses (NAT) the unit's traffic leaves by:
	// what upstream notices name. They are not internal addresses; a flow
	// record never maps to a unit by them.
	Egress []netip.Prefix
}

// Asset is one registered device of the asset ledger.
type Asset struct {
	IP                                            netip.Addr
	Unit, Name, Kind, Location, Department, Owner string
	Research                                      bool // registered research compute (科研)
}

// Ledger is a validated, merged set of units and assets.
type Ledger struct {
	units  []*Unit // sorted by ID
	byID   map[string]*Unit
	ranges *bart.Table[*Unit]
	extra  *bart.Lite // configured internal ranges that belong to no unit
	assets []*Asset   // sorted by IP
	byIP   map[netip.Addr]*Asset
	egress *bart.Table[*Unit]
	// research holds the research assets' addresses (nil: none, as in most
	// ledgers), so that a record's host needs no look-up of the asset table.
	research map[netip.Addr]bool
	v4       *v4Table // IPv4 fast path of Lookup; nil: too large, bart alone
}

// File is one ledger file's name (its extension picks the format: .csv is the
// asset table, anything else YAML) and content.
type File struct {
	Name string
	Data []byte
}

// Load reads ledger files (YAML units/assets, CSV assets; a directory means
// every .yaml, .yml and .csv in it) and merges them into one validated Ledger.
// extraInternal are ranges that count as internal without belonging to a unit.
// All problems are reported together, each naming file, line and field.
func Load(paths []string, extraInternal []netip.Prefix) (*Ledger, error) {
	var files []File
	var errs []error
	for _, p := range paths {
		names, err := expand(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			files = append(files, File{Name: name, Data: data})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return Build(files, extraInternal)
}

func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".csv":
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
	}
	return out, nil
}

// Parse builds a Ledger from a single file's content (see File for formats).
func Parse(name string, data []byte, extraInternal ...netip.Prefix) (*Ledger, error) {
	return Build([]File{{Name: name, Data: data}}, extraInternal)
}

// pos locates a value for error messages.
type pos struct {
	file  string
	line  int
	field string
}

func (p pos) errf(format string, args ...any) error {
	return &Error{File: p.file, Line: p.line, Field: p.field, Msg: fmt.Sprintf(format, args...)}
}

func (p pos) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

type rawUnit struct {
	u        *Unit
	at       pos   // the unit's id
	parentAt pos   // its parent field
	cidrAt   []pos // one per u.CIDRs
	egressAt []pos // one per u.Egress
}

type rawAsset struct {
	a      *Asset
	at     pos // the whole asset (its ip)
	unitAt pos
}

// Build merges and validates parsed files.
func Build(files []File, extraInternal []netip.Prefix) (*Ledger, error) {
	var units []rawUnit
	var assets []rawAsset
	var errs []error
	for _, f := range files {
		var (
			us  []rawUnit
			as  []rawAsset
			err error
		)
		if strings.EqualFold(filepath.Ext(f.Name), ".csv") {
			as, err = parseCSV(f.Name, f.Data)
		} else {
			us, as, err = parseYAML(f.Name, f.Data)
		}
		if err != nil {
			errs = append(errs, err)
		}
		units = append(units, us...)
		assets = append(assets, as...)
	}

	l := &Ledger{
		byID:   map[string]*Unit{},
		ranges: new(bart.Table[*Unit]),
		extra:  new(bart.Lite),
		byIP:   map[netip.Addr]*Asset{},
		egress: new(bart.Table[*Unit]),
	}
	for _, p := range extraInternal {
		l.extra.Insert(p.Masked())
	}

	// Unit ids are unique across all files.
	first := map[string]pos{}
	for _, ru := range units {
		if ru.u.ID == "" {
			continue // already reported
		}
		if prev, dup := first[ru.u.ID]; dup {
			errs = append(errs, ru.at.errf("duplicate unit id %q (first defined at %s)", ru.u.ID, prev))
			continue
		}
		first[ru.u.ID] = ru.at
		l.byID[ru.u.ID] = ru.u
		l.units = append(l.units, ru.u)
	}
	byID := map[string]rawUnit{}
	for _, ru := range units {
		if _, ok := byID[ru.u.ID]; !ok && ru.u.ID != "" {
			byID[ru.u.ID] = ru
		}
	}
	// Parents exist and form no cycle.
	for _, ru := range units {
		if ru.u.Parent == "" || byID[ru.u.ID].u != ru.u {
			continue
		}
		if _, ok := l.byID[ru.u.Parent]; !ok {
			errs = append(errs, ru.parentAt.errf("parent %q is not a unit of the ledger", ru.u.Parent))
			continue
		}
		seen := map[string]bool{ru.u.ID: true}
		for p := l.byID[ru.u.Parent]; p != nil; p = l.byID[p.Parent] {
			if seen[p.ID] {
				errs = append(errs, ru.parentAt.errf("parent chain of %q loops back to %q", ru.u.ID, p.ID))
				break
			}
			seen[p.ID] = true
		}
	}
	errs = append(errs, l.checkRanges(units, byID)...)
	errs = append(errs, l.checkEgress(units, byID)...)

	// Assets: unique IPs, known unit, inside that unit's ranges.
	assetAt := map[netip.Addr]pos{}
	for _, ra := range assets {
		a := ra.a
		if !a.IP.IsValid() || a.Unit == "" {
			continue // already reported
		}
		if prev, dup := assetAt[a.IP]; dup {
			errs = append(errs, ra.at.errf("asset %s listed twice (first at %s)", a.IP, prev))
			continue
		}
		assetAt[a.IP] = ra.at
		if _, ok := l.byID[a.Unit]; !ok {
			errs = append(errs, ra.unitAt.errf("%q is not a unit of the ledger", a.Unit))
			continue
		}
		got, _ := l.Classify(a.IP)
		switch {
		case got == nil:
			errs = append(errs, ra.at.errf("%s is outside the ranges of unit %q (%s)", a.IP, a.Unit, prefixList(l.byID[a.Unit].CIDRs)))
			continue
		case got.ID != a.Unit:
			errs = append(errs, ra.at.errf("%s belongs to unit %q by its more specific range, not to %q", a.IP, got.ID, a.Unit))
			continue
		}
		l.byIP[a.IP] = a
		l.assets = append(l.assets, a)
		if a.Research {
			if l.research == nil {
				l.research = map[netip.Addr]bool{}
			}
			l.research[a.IP.Unmap()] = true
		}
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(l.units, func(a, b *Unit) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(l.assets, func(a, b *Asset) int { return a.IP.Compare(b.IP) })
	l.v4 = buildV4(l)
	return l, nil
}

// checkRanges fills the lookup table and rejects ranges that two units claim.
// Overlapping prefixes always nest; nesting is allowed only when the wider
// range belongs to an ancestor (parent, grandparent…) of the narrower range's
// unit, as when a district bureau lists its whole block and each school its part.
func (l *Ledger) checkRanges(units []rawUnit, byID map[string]rawUnit) []error {
	type claim struct {
		u  *Unit
		at pos
	}
	claims := new(bart.Table[[]claim])
	var errs []error
	for _, ru := range units {
		if byID[ru.u.ID].u != ru.u {
			continue // duplicate id, already reported
		}
		for i, p := range ru.u.CIDRs {
			c := claim{ru.u, ru.cidrAt[i]}
			claims.Modify(p, func(old []claim, _ bool) ([]claim, bool) { return append(old, c), false })
		}
	}
	for p, cs := range claims.All() {
		// Identical prefixes: fine only within one unit.
		for _, c := range cs[1:] {
			if c.u != cs[0].u {
				errs = append(errs, c.at.errf("%s is also claimed by unit %q (%s); a range belongs to one unit", p, cs[0].u.ID, cs[0].at))
			}
		}
		for sp, scs := range claims.Supernets(p) {
			if sp == p {
				continue
			}
			for _, sc := range scs {
				for _, c := range cs {
					if sc.u != c.u && !l.isAncestor(sc.u.ID, c.u) {
						errs = append(errs, c.at.errf("%s overlaps %s of unit %q (%s); nested ranges are allowed only inside a parent unit's range", p, sp, sc.u.ID, sc.at))
					}
				}
			}
		}
		l.ranges.Insert(p, cs[0].u)
	}
	return errs
}

// checkEgress fills the egress table. An egress address belongs to one
// unit: schools behind a district's shared NAT list it on the district, and
// a notice for it is traced among the district's units.
func (l *Ledger) checkEgress(units []rawUnit, byID map[string]rawUnit) []error {
	type claim struct {
		u  *Unit
		at pos
	}
	claims := map[netip.Prefix]claim{}
	var errs []error
	for _, ru := range units {
		if byID[ru.u.ID].u != ru.u {
			continue
		}
		for i, p := range ru.u.Egress {
			c := claim{ru.u, ru.egressAt[i]}
			if prev, ok := claims[p]; ok && prev.u != c.u {
				errs = append(errs, c.at.errf("egress %s is also listed by unit %q (%s); a shared egress is listed once, on the parent unit", p, prev.u.ID, prev.at))
				continue
			}
			for q, prev := range claims {
				if q != p && q.Overlaps(p) && prev.u != c.u {
					errs = append(errs, c.at.errf("egress %s overlaps %s of unit %q (%s)", p, q, prev.u.ID, prev.at))
				}
			}
			claims[p] = c
			l.egress.Insert(p, c.u)
		}
	}
	return errs
}

// EgressUnit is the unit whose egress (NAT) addresses hold ip, or nil.
func (l *Ledger) EgressUnit(ip netip.Addr) *Unit {
	if l == nil {
		return nil
	}
	u, _ := l.egress.Lookup(ip.Unmap())
	return u
}

func (l *Ledger) isAncestor(id string, u *Unit) bool {
	seen := map[string]bool{}
	for p := l.byID[u.Parent]; p != nil && !seen[p.ID]; p = l.byID[p.Parent] {
		if p.ID == id {
			return true
		}
		seen[p.ID] = true
	}
	return false
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "no ranges"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// Classify maps an address to its unit by longest-prefix match. internal is
// true inside any unit's range and inside the extra internal ranges; there the
// unit is nil ("unassigned"). It does not allocate.
func (l *Ledger) Classify(ip netip.Addr) (unit *Unit, internal bool) {
	c := l.Lookup(ip)
	return c.Unit, c.Internal
}

// Lookup is Classify that also tells whether the address is a research
// asset: what the flow pipeline asks of both ends of every record. IPv4
// (and IPv4-mapped IPv6) addresses take the flat table; it does not allocate.
func (l *Ledger) Lookup(ip netip.Addr) Class {
	if l == nil {
		return Class{}
	}
	if l.v4 != nil && (ip.Is4() || ip.Is4In6()) {
		// The last four bytes of As16 are the IPv4 address in both forms;
		// As16 checks nothing (As4 and Unmap would test the form again).
		a := ip.As16()
		return l.v4.lookup32(binary.BigEndian.Uint32(a[12:]))
	}
	return l.lookupSlow(ip.Unmap())
}

// Lookup4 is Lookup for an IPv4 address given as a big-endian uint32, small
// enough to be inlined into the pipeline's handling of each record (the
// call to Lookup, with what it moved and checked, cost about as much as
// the table's reads). ok is false when the ledger has no IPv4 table (too
// large for one): Lookup answers then.
func (l *Ledger) Lookup4(a uint32) (c Class, ok bool) {
	if l == nil || l.v4 == nil {
		return Class{}, false
	}
	return l.v4.lookup32(a), true
}

// lookupSlow is Lookup by the bart tables and the research set alone: the
// answer the IPv4 table is built from, and the one for IPv6.
func (l *Ledger) lookupSlow(ip netip.Addr) Class {
	var c Class
	if u, ok := l.ranges.Lookup(ip); ok {
		c.Unit, c.Internal = u, true
	} else {
		c.Internal = l.extra.Contains(ip)
	}
	if l.research != nil {
		c.Research = l.research[ip]
	}
	return c
}

// Asset returns the registered asset at ip, or nil.
func (l *Ledger) Asset(ip netip.Addr) *Asset {
	if l == nil || len(l.byIP) == 0 {
		return nil
	}
	return l.byIP[ip.Unmap()]
}

// Units returns all units sorted by id. The slice is shared: do not modify.
func (l *Ledger) Units() []*Unit {
	if l == nil {
		return nil
	}
	return l.units
}

// Unit returns the unit with the id, or nil.
func (l *Ledger) Unit(id string) *Unit {
	if l == nil {
		return nil
	}
	return l.byID[id]
}

// Assets returns all assets sorted by IP. The slice is shared: do not modify.
func (l *Ledger) Assets() []*Asset {
	if l == nil {
		return nil
	}
	return l.assets
}
