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

// v4Table answers Lookup for IPv4 addresses with at most three array reads
// instead of a walk of the bart tables: the flow pipeline classifies an end
// of every record, and most campuses are IPv4.
//
// It is a fully expanded 16-8-8 trie built once per ledger from the bart
// tables themselves: an entry is a class index where every address under it
// gets the same answer, or a child block of 256 entries where some range,
// extra range or research asset is more specific than the entry. The first
// level has an entry per /16 (256 KiB), so that a campus's addresses, most
// in a few /16s of their own, take one or two reads, not two or three. Each
// answer is taken from the bart lookup (lookupSlow) of the entry's first
// address, so longest-prefix semantics (nested and overlapping ranges, the
// extra ranges behind the units') are bart's by construction.
type v4Table struct {
	top     *[1 << 16]uint32 // by /16
	entries []uint32         // blocks of 256: the /24s of a /16, or the addresses of a /24
	classes []Class          // entry values below v4Child
}

// v4Child marks an entry that is a block index, not a class index.
const v4Child = 1 << 31

// maxV4Blocks bounds the blocks (1 KiB each): a ledger needing more (tens
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
	blocks := 0 // split /16s and /24s: a /8 has no block of its own
	mark := func(p netip.Prefix) {
		if !p.Addr().Is4() {
			return
		}
		for bits := 8; bits < p.Bits() && bits <= 24; bits += 8 {
			q := netip.PrefixFrom(p.Addr(), bits).Masked()
			if !split[q] && bits > 8 {
				blocks++
			}
			split[q] = true
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
	if blocks > maxV4Blocks {
		return nil
	}
	t := &v4Table{top: new([1 << 16]uint32), entries: make([]uint32, 0, 256*blocks)}
	index := map[Class]uint32{}
	classOf := func(a netip.Addr) uint32 {
		c := l.lookupSlow(a)
		k, ok := index[c]
		if !ok {
			k = uint32(len(t.classes))
			index[c] = k
			t.classes = append(t.classes, c)
		}
		return k
	}
	// fill writes the 256 entries of block (a /16's /24s at depth 2, a
	// /24's addresses at depth 3) under prefix.
	var fill func(block int, prefix [4]byte, depth int)
	fill = func(block int, prefix [4]byte, depth int) {
		for i := range 256 {
			a := prefix
			a[depth] = byte(i)
			p := netip.PrefixFrom(netip.AddrFrom4(a), 8*(depth+1))
			if depth < 3 && split[p] {
				child := t.newBlock(a, depth+1, fill) // before the write: newBlock may move t.entries
				t.entries[block*256+i] = v4Child | child
				continue
			}
			t.entries[block*256+i] = classOf(p.Addr())
		}
	}
	for hi := range 256 {
		if !split[netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(hi)}), 8)] {
			k := classOf(netip.AddrFrom4([4]byte{byte(hi)})) // one answer for the whole /8
			for lo := range 256 {
				t.top[hi<<8|lo] = k
			}
			continue
		}
		for lo := range 256 {
			a := [4]byte{byte(hi), byte(lo)}
			if split[netip.PrefixFrom(netip.AddrFrom4(a), 16)] {
				t.top[hi<<8|lo] = v4Child | t.newBlock(a, 2, fill)
			} else {
				t.top[hi<<8|lo] = classOf(netip.AddrFrom4(a))
			}
		}
	}
	return t
}

// newBlock appends a block, has fill write it, and returns its index.
func (t *v4Table) newBlock(prefix [4]byte, depth int, fill func(int, [4]byte, int)) uint32 {
	block := len(t.entries) / 256
	t.entries = append(t.entries, make([]uint32, 256)...)
	fill(block, prefix, depth)
	return uint32(block)
}

// lookup32 answers for an IPv4 address given as a big-endian uint32.
func (t *v4Table) lookup32(a uint32) Class {
	e := t.top[a>>16]
	if e&v4Child != 0 {
		e = t.entries[(e&^v4Child)<<8|(a>>8&0xff)]
		if e&v4Child != 0 {
			e = t.entries[(e&^v4Child)<<8|(a&0xff)]
		}
	}
	return t.classes[e]
}
