package score

import (
	"encoding/binary"
	"iter"
	"math/rand/v2"
	"net/netip"
	"sync"
	"unsafe"
)

// hostTable holds one shard's hosts. A Go map of *host costs a pointer, a
// separately allocated host and a 24-byte netip.Addr key per entry, and its
// lookups hash and compare the key through the generic map code: at millions
// of records a second that was a sixth of the per-record cost. Here the hosts
// live inline in fixed-size pages (allocated as the shard grows, never moved,
// so a *host stays valid while the shard's lock is held and the host is not
// deleted), found through an open-addressing index of 32-bit entries: an
// 8-bit tag of the address's hash and the host's slot number. The hash is
// computed once per record (hashAddr) and picks both the shard and the
// index position.
type hostTable struct {
	index []uint32 // tag<<24 | slot+1; 0 is empty; len is a power of two
	// gen counts the table's changes (a host inserted or deleted), so that
	// ObserveBatch can tell that a host it looked up is still the one,
	// absent or not, by one compare instead of reading the host again.
	// Next to index, so that the lookup's line holds it.
	gen   uint32
	pages []*hostPage
	next  uint32   // slots handed out so far
	free  []uint32 // slots of deleted hosts, reused first
	n     int      // live hosts
	src   *pageSource
}

// hostPage is a page of a hostTable. Pages come from a pageSource so that
// they start on a cache line: with host a multiple of 64 bytes, so does
// every host, and its first 64 bytes (what every record touches) are one line.
type hostPage [pageSize]host

// pageSource hands out pages cut from chunks of pagesPerChunk pages, one
// source for all the shards of an Engine. A chunk is a large allocation, and
// the Go allocator starts those on a page boundary; a page on its own
// (12 KiB) would be a small object with pointers, which follows an 8-byte
// header and so is never 64-byte aligned. TestHostLayout checks the result.
type pageSource struct {
	mu   sync.Mutex
	left []hostPage // the rest of the last chunk
}

const pagesPerChunk = 4 // 48 KiB, past the allocator's 32 KiB small-object limit

func (s *pageSource) page() *hostPage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.left) == 0 {
		s.left = new([pagesPerChunk]hostPage)[:]
	}
	p := &s.left[0]
	s.left = s.left[1:]
	return p
}

const (
	pageBits = 6 // 64 hosts a page: a shard that holds few hosts stays small
	pageSize = 1 << pageBits
	// slotBits bound a shard's slots (the index keeps slot+1 in 24 bits).
	slotBits = 24
	maxSlots = 1<<slotBits - 1
)

// addrKey is an address's 16 bytes as two words (IPv4 in its mapped form);
// host.is4 tells a plain IPv4 address from its IPv4-mapped IPv6 twin.
type addrKey struct{ hi, lo uint64 }

func keyOf(ip netip.Addr) addrKey {
	b := ip.As16()
	return addrKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (k addrKey) addr(is4 bool) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	a := netip.AddrFrom16(b)
	if is4 {
		return a.Unmap()
	}
	return a
}

// hashAddr mixes all 128 bits (campus addresses differ in their low bytes,
// IPv6 ones in the interface identifier and the subnet); the top bits pick
// the shard, the low bits the index position, bits 24–31 the tag.
func hashAddr(k addrKey, is4 bool) uint64 {
	x := k.lo ^ k.hi*0x9E3779B97F4A7C15
	if is4 {
		x ^= 0x165667B19E3779F9
	}
	// murmur3's 64-bit finaliser: every input bit moves every output bit.
	x ^= x >> 33
	x *= 0xFF51AFD7ED558CCD
	x ^= x >> 33
	x *= 0xC4CEB9FE1A85EC53
	return x ^ x>>33
}

func tagOf(hash uint64) uint32 { return uint32(hash>>24)&0xFF | 1 } // never 0: 0 marks an empty entry

// slot is the host in slot i (i < t.next). It computes the address
// without indexing through the page pointer: `&t.pages[p][j]` makes the
// compiler check the pointer for nil by reading the page's first byte, a
// load of the page's first host, another line than the one wanted and, in
// the exporter, a cache miss on every lookup (5 % of its CPU profile at
// 1.7 M records/s, before the host's own line was even asked for).
func (t *hostTable) slot(i uint32) *host {
	return (*host)(unsafe.Add(unsafe.Pointer(t.pages[i>>pageBits]), uintptr(i&(pageSize-1))*unsafe.Sizeof(host{})))
}

// len is the number of live hosts.
func (t *hostTable) len() int { return t.n }

// get returns the host of ip (hash = hashAddr of it), nil if absent.
func (t *hostTable) get(k addrKey, is4 bool, hash uint64) *host {
	if len(t.index) == 0 {
		return nil
	}
	mask := uint64(len(t.index) - 1)
	tag := tagOf(hash) << slotBits
	for p := hash & mask; ; p = (p + 1) & mask {
		e := t.index[p]
		if e == 0 {
			return nil
		}
		if e&^maxSlots == tag {
			if h := t.slot(e&maxSlots - 1); h.key == k && h.is4 == is4 {
				return h
			}
		}
	}
}

// probe is the first host of the index whose tag matches hash, without
// comparing its address (nil when none matches before an empty entry): the
// host to prefetch, most likely the one looked for. ObserveBatch compares
// the key later, when the line has arrived, and looks again with get when
// it is another address (a tag is 8 bits: 1 probe in 256 of a 3/4-full index).
//
// It is written to fit the compiler's inlining budget (ObserveBatch calls it
// for every record): the empty table is the loop's condition, and the
// position wraps by the mask at the load.
func (t *hostTable) probe(hash uint64) *host {
	idx, tag := t.index, uint32(hash>>24)<<slotBits|1<<slotBits // tagOf(hash)<<slotBits, spelt out for the budget
	for p := hash; len(idx) > 0; p++ {
		if e := idx[p&uint64(len(idx)-1)]; e&^maxSlots == tag {
			return t.slot(e&maxSlots - 1)
		} else if e == 0 {
			break
		}
	}
	return nil
}

// insert adds a zeroed, live host for k (absent: the caller looked) and
// returns it; nil when the shard is at maxSlots.
func (t *hostTable) insert(k addrKey, is4 bool, hash uint64) *host {
	var s uint32
	if n := len(t.free); n > 0 {
		s, t.free = t.free[n-1], t.free[:n-1]
	} else {
		if t.next >= maxSlots {
			return nil
		}
		s = t.next
		t.next++
		if int(s>>pageBits) == len(t.pages) {
			if t.src == nil {
				t.src = new(pageSource) // a table on its own (tests)
			}
			t.pages = append(t.pages, t.src.page())
		}
	}
	if (t.n+1)*4 > len(t.index)*3 { // at most 3/4 full
		t.grow()
	}
	h := t.slot(s)
	*h = host{key: k, is4: is4, live: true}
	t.place(hash, s)
	t.n++
	t.gen++
	return h
}

func (t *hostTable) place(hash uint64, s uint32) {
	mask := uint64(len(t.index) - 1)
	p := hash & mask
	for t.index[p] != 0 {
		p = (p + 1) & mask
	}
	t.index[p] = tagOf(hash)<<slotBits | (s + 1)
}

func (t *hostTable) grow() {
	old := t.index
	t.index = make([]uint32, max(16, 2*len(old)))
	for _, e := range old {
		if e != 0 {
			h := t.slot(e&maxSlots - 1)
			t.place(hashAddr(h.key, h.is4), e&maxSlots-1)
		}
	}
}

// del removes h (a live host of this table). The index closes the gap by
// moving back the entries after it (linear probing without tombstones).
func (t *hostTable) del(h *host) {
	hash := hashAddr(h.key, h.is4)
	mask := uint64(len(t.index) - 1)
	p := hash & mask
	var s uint32
	for {
		e := t.index[p]
		if e != 0 && t.slot(e&maxSlots-1) == h {
			s = e&maxSlots - 1
			break
		}
		p = (p + 1) & mask
	}
	// Backward-shift deletion: an entry after the hole moves into it unless
	// its home position lies cyclically in (hole, entry].
	hole := p
	for q := (p + 1) & mask; t.index[q] != 0; q = (q + 1) & mask {
		o := t.slot(t.index[q]&maxSlots - 1)
		home := hashAddr(o.key, o.is4) & mask
		if (q-home)&mask >= (q-hole)&mask {
			t.index[hole] = t.index[q]
			hole = q
		}
	}
	t.index[hole] = 0
	*h = host{} // drop its strings and slices for the GC
	t.free = append(t.free, s)
	t.n--
	t.gen++
}

// bytes is the table's own memory: its pages of hosts, index and free list.
func (t *hostTable) bytes() int64 {
	return int64(len(t.pages))*pageSize*int64(unsafe.Sizeof(host{})) + int64(len(t.index))*4 + int64(cap(t.free))*4
}

// all yields every live host with its address. The loop body may delete the
// host it is given (Evaluate expires hosts while it walks them).
func (t *hostTable) all() iter.Seq2[netip.Addr, *host] {
	return func(yield func(netip.Addr, *host) bool) {
		for i := uint32(0); i < t.next; i++ {
			if h := t.slot(i); h.live && !yield(h.key.addr(h.is4), h) {
				return
			}
		}
	}
}

// sample yields up to n live hosts from a random place (eviction looks at a
// few and drops the least suspicious).
func (t *hostTable) sample(n int) iter.Seq[*host] {
	return func(yield func(*host) bool) {
		if t.next == 0 {
			return
		}
		start := rand.Uint32N(t.next)
		for j := uint32(0); j < t.next && n > 0; j++ {
			h := t.slot((start + j) % t.next)
			if !h.live {
				continue
			}
			n--
			if !yield(h) {
				return
			}
		}
	}
}
