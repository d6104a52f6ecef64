package intel

import (
	"math/bits"
	"net/netip"
)

// v4Filter says, per IPv4 /24, whether some entry of a matcher may cover an
// address there. Most remote ends of a campus's flows are in no list; for
// them the filter answers no with a few word reads instead of a map probe
// (hashing an AddrPort) and a trie walk. A yes is only a maybe: the matcher
// then looks up as before, so answers never change.
//
// Two bits per /16 (24 KiB with the ranks) and, for the /16s that hold
// entries, a 256-bit map of their /24s found by rank (popcount), so a list
// of 20,000 addresses costs a few hundred KiB at most.
type v4Filter struct {
	any8  [4]uint64    // /8s with any entry: small lists reject most addresses here, in L1
	words [1024]v4Word // /16s 64 at a time, each word's bits read together (one cache line)
	by24  [][4]uint64  // one per set bit of the words' any, in order: its /24s
}

type v4Word struct {
	full uint64 // /16s an entry covers whole (entries up to /16)
	any  uint64 // /16s with an entry narrower than /16
	rank uint32 // set bits of any in the words before
}

// newV4Filter covers the matchers' IPv4 ranges, addresses and endpoints.
func newV4Filter(ms ...*matcher) *v4Filter {
	f := new(v4Filter)
	sub := map[uint32]*[4]uint64{} // /16 → its /24s
	add := func(p netip.Prefix) {
		a := p.Masked().Addr().As4()
		h := uint32(a[0])<<8 | uint32(a[1])
		if p.Bits() <= 16 {
			for i := range uint32(1) << (16 - p.Bits()) {
				f.words[(h+i)>>6].full |= 1 << ((h + i) & 63)
			}
			return
		}
		s := sub[h]
		if s == nil {
			s = new([4]uint64)
			sub[h] = s
		}
		n := 1
		if p.Bits() < 24 {
			n = 1 << (24 - p.Bits())
		}
		for i := range n {
			c := int(a[2]) + i
			s[c>>6] |= 1 << (c & 63)
		}
	}
	for _, m := range ms {
		for p := range m.table.All4() {
			add(p)
		}
		for k := range m.ipPort {
			if k.Addr().Is4() {
				add(netip.PrefixFrom(k.Addr(), 32))
			}
		}
	}
	for h := range sub {
		f.words[h>>6].any |= 1 << (h & 63)
	}
	for w := range f.words {
		for word := f.words[w].any | f.words[w].full; word != 0; word &= word - 1 {
			o := (w<<6 | bits.TrailingZeros64(word)) >> 8 // the /16's first octet
			f.any8[o>>6] |= 1 << (o & 63)
		}
	}
	var n uint32
	for w := range f.words {
		f.words[w].rank = n
		for word := f.words[w].any; word != 0; word &= word - 1 {
			h := uint32(w)<<6 | uint32(bits.TrailingZeros64(word))
			f.by24 = append(f.by24, *sub[h])
			n++
		}
	}
	return f
}

// may reports whether an entry may cover the address: false means none does.
func (f *v4Filter) may(a [4]byte) bool {
	return f.may32(uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]))
}

// may32 is may for the address as a big-endian uint32.
func (f *v4Filter) may32(a uint32) bool {
	o := a >> 24
	if f.any8[o>>6]&(1<<(o&63)) == 0 {
		return false
	}
	h := a >> 16
	w, bit := &f.words[h>>6], uint64(1)<<(h&63)
	if w.full&bit != 0 {
		return true
	}
	if w.any&bit == 0 {
		return false
	}
	s := &f.by24[w.rank+uint32(bits.OnesCount64(w.any&(bit-1)))]
	c := a >> 8 & 0xff
	return s[c>>6]&(1<<(c&63)) != 0
}
