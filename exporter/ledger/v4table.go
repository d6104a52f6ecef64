package ledger

import (
	"net/netip"
)

// Class is what the ledger says of one address: what the pipeline needs of
// each side of every flow record.
type Class struct {
	Unit     *Unit // nil outside every unit's ranges ("unassigned" if Internal)
	Internal bool  // inside a unit's range or an extra internal range
	Research bool  // a registered research compute asset (Asset.Research)
}

// v4Table answers Lookup for IPv4 addresses with at most four array reads
// (one per octet) instead of a walk of the bart tables: the flow pipeline
// classifies both ends of every record, and most campuses are IPv4.
//
// It is a fully expanded 8-8-8-8 trie built once per ledger from the bart
// tables themselves: an entry is a class index where every address under it
// gets the same answer, or a child block of 256 entries where some range,
// extra range or research asset is more specific than the entry. Each answer
// is taken from the bart lookup (lookupSlow) of the entry's first address,
// so longest-prefix semantics (nested and overlapping ranges, the extra
// ranges behind the units') are bart's by construction.
type v4Table struct {
	entries []uint32 // blocks of 256; block 0 is the first octet
	classes []Class  // entry values below v4Child
}

// v4Child marks an entry that is a block index, not a class index.
const v4Child = 1 << 31

// maxV4Blocks bounds the table (1 KiB a block): a ledger needing more (tens
// of thousands of ranges narrower than /24, each in its own /24) keeps
// using the bart tables alone.
const maxV4Blocks = 8192

// buildV4 makes the table for l, or returns nil when it would be too large.
// l's bart tables and research set must be complete.
func buildV4(l *Ledger) *v4Table {
	// split holds the /8, /16 and /24 prefixes under which the answer is
	// not uniform: those that strictly contain a longer prefix of the
	// ledger. Any other prefix gets one answer for all its addresses.
	split := map[netip.Prefix]bool{}
	mark := func(p netip.Prefix) {
		if !p.Addr().Is4() {
			return
		}
		for bits := 8; bits < p.Bits() && bits <= 24; bits += 8 {
			split[netip.PrefixFrom(p.Addr(), bits).Masked()] = true
		}
	}
	for p := range l.ranges.All4() {
		mark(p)
	}
	for p := range l.extra.All4() {
		mark(p)
	}
	for a := range l.research {
		mark(netip.PrefixFrom(a, a.BitLen()))
	}
	if 1+len(split) > maxV4Blocks {
		return nil
	}
	t := &v4Table{entries: make([]uint32, 256, 256*(1+len(split)))}
	index := map[Class]uint32{}
	var fill func(block int, prefix [4]byte, depth int)
	fill = func(block int, prefix [4]byte, depth int) {
		for i := range 256 {
			a := prefix
			a[depth] = byte(i)
			p := netip.PrefixFrom(netip.AddrFrom4(a), 8*(depth+1))
			if depth < 3 && split[p] {
				child := len(t.entries) / 256
				t.entries = append(t.entries, make([]uint32, 256)...)
				t.entries[block*256+i] = v4Child | uint32(child)
				fill(child, a, depth+1)
				continue
			}
			c := l.lookupSlow(p.Addr())
			k, ok := index[c]
			if !ok {
				k = uint32(len(t.classes))
				index[c] = k
				t.classes = append(t.classes, c)
			}
			t.entries[block*256+i] = k
		}
	}
	fill(0, [4]byte{}, 0)
	return t
}

// lookup32 answers for an IPv4 address given as a big-endian uint32.
func (t *v4Table) lookup32(a uint32) Class {
	e := t.entries[a>>24]
	if e&v4Child != 0 {
		e = t.entries[(e&^v4Child)<<8|(a>>16&0xff)]
		if e&v4Child != 0 {
			e = t.entries[(e&^v4Child)<<8|(a>>8&0xff)]
			if e&v4Child != 0 {
				e = t.entries[(e&^v4Child)<<8|(a&0xff)]
			}
		}
	}
	return t.classes[e]
}
