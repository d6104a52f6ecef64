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
// Bits per /16 (8 KiB each) and, for the /16s that hold entries, a 256-bit
// map of their /24s found by rank (popcount), so a list of 20,000 addresses
// costs a few hundred KiB at most.
type v4Filter struct {
	full16 [1024]uint64 // /16s an entry covers whole (entries up to /16)
	any16  [1024]uint64 // /16s with an entry narrower than /16
	rank   [1024]uint32 // set bits of any16 in the words before
	by24   [][4]uint64  // one per set bit of any16, in order: its /24s
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
				f.full16[(h+i)>>6] |= 1 << ((h + i) & 63)
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
		f.any16[h>>6] |= 1 << (h & 63)
	}
	var n uint32
	for w := range f.any16 {
		f.rank[w] = n
		for word := f.any16[w]; word != 0; word &= word - 1 {
			h := uint32(w)<<6 | uint32(bits.TrailingZeros64(word))
			f.by24 = append(f.by24, *sub[h])
			n++
		}
	}
	return f
}

// may reports whether an entry may cover the address: false means none does.
func (f *v4Filter) may(a [4]byte) bool {
	h := uint32(a[0])<<8 | uint32(a[1])
	w, bit := h>>6, uint64(1)<<(h&63)
	if f.full16[w]&bit != 0 {
		return true
	}
	if f.any16[w]&bit == 0 {
		return false
	}
	s := &f.by24[f.rank[w]+uint32(bits.OnesCount64(f.any16[w]&(bit-1)))]
	return s[a[2]>>6]&(1<<(a[2]&63)) != 0
}
