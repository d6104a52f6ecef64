package score

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"unsafe"
)

// TestHostTable checks the open-addressing table against a Go map through
// random inserts and deletes (deletion shifts entries back: a wrong shift
// loses hosts that are still there), with IPv4 and IPv6 addresses and an
// IPv4 address beside its IPv4-mapped IPv6 twin.
func TestHostTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tab hostTable
	want := map[netip.Addr]int64{}
	addr := func() netip.Addr {
		switch rng.IntN(3) {
		case 0:
			return netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(8)), byte(rng.IntN(256))})
		case 1:
			return netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 14: byte(rng.IntN(8)), 15: byte(rng.IntN(256))})
		}
		return netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 7: byte(rng.IntN(4)), 15: byte(rng.IntN(256))})
	}
	for i := 0; i < 200_000; i++ {
		ip := addr()
		k, is4 := keyOf(ip), ip.Is4()
		hash := hashAddr(k, is4)
		gen := tab.gen
		h := tab.get(k, is4, hash)
		v, ok := want[ip]
		if (h != nil) != ok || ok && h.firstSeen != v {
			t.Fatalf("step %d: %v: table has %v, map has %v (%d)", i, ip, h != nil, ok, v)
		}
		if tab.gen != gen {
			t.Fatalf("step %d: a lookup changed gen", i)
		}
		changed := true
		switch {
		case h == nil:
			h = tab.insert(k, is4, hash)
			h.firstSeen = int64(i)
			want[ip] = int64(i)
		case rng.IntN(2) == 0:
			tab.del(h)
			delete(want, ip)
		default:
			changed = false
		}
		// ObserveBatch trusts an earlier lookup while gen is unchanged: every
		// insert and delete must change it.
		if (tab.gen != gen) != changed {
			t.Fatalf("step %d: table changed %v, gen %d → %d", i, changed, gen, tab.gen)
		}
		if tab.len() != len(want) {
			t.Fatalf("step %d: %d hosts, want %d", i, tab.len(), len(want))
		}
	}
	n := 0
	for ip, h := range tab.all() {
		if v, ok := want[ip]; !ok || v != h.firstSeen {
			t.Fatalf("all yields %v (%d), map has %v (%d)", ip, h.firstSeen, ok, v)
		}
		n++
	}
	if n != len(want) || n == 0 {
		t.Fatalf("all yielded %d hosts, want %d", n, len(want))
	}
	mapped := netip.AddrFrom16(netip.MustParseAddr("10.0.0.1").As16())
	if keyOf(mapped) != keyOf(netip.MustParseAddr("10.0.0.1")) || !mapped.Is4In6() {
		t.Fatal("test premise: an IPv4 address and its mapped twin share the key bytes")
	}
}

// TestCapIsTheTotal: MaxHosts hosts are all tracked though they fall in the
// shards unevenly; past it hosts are evicted and the total stays at the cap.
func TestCapIsTheTotal(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxHosts = nShards * 400
	e := New(cfg)
	obs := func(i int) {
		e.Observe(&Observation{Host: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Remote: pool, Proto: 17,
			Start: t0, End: t0 + 1, Packets: 1, Bytes: 100, SamplingRate: 1})
	}
	for i := 0; i < cfg.MaxHosts; i++ {
		obs(i)
	}
	if st := e.Stats(); st.Hosts != cfg.MaxHosts || st.Evictions != 0 {
		t.Fatalf("%d distinct hosts under a cap of as many: %+v", cfg.MaxHosts, st)
	}
	for i := cfg.MaxHosts; i < cfg.MaxHosts+1000; i++ {
		obs(i)
	}
	if st := e.Stats(); st.Hosts != cfg.MaxHosts || st.Evictions != 1000 {
		t.Fatalf("1000 more hosts past the cap: %+v", st)
	}
}

// TestHostLayout: every field a record reads or writes lies in the host's
// first 64 bytes, a host is a whole number of cache lines, and the pages of
// an engine start on a cache line, so a record of a host touches one line of
// it (the point of the layout: see host).
func TestHostLayout(t *testing.T) {
	var h host
	for _, f := range []struct {
		name      string
		off, size uintptr
	}{
		{"key", unsafe.Offsetof(h.key), unsafe.Sizeof(h.key)},
		{"unitID", unsafe.Offsetof(h.unitID), unsafe.Sizeof(h.unitID)},
		{"lastSeen", unsafe.Offsetof(h.lastSeen), unsafe.Sizeof(h.lastSeen)},
		{"sessKeys", unsafe.Offsetof(h.sessKeys), unsafe.Sizeof(h.sessKeys)},
		{"useHours", unsafe.Offsetof(h.useHours), unsafe.Sizeof(h.useHours)},
		{"useHr", unsafe.Offsetof(h.useHr), unsafe.Sizeof(h.useHr)},
		{"usePkts", unsafe.Offsetof(h.usePkts), unsafe.Sizeof(h.usePkts)},
		{"is4", unsafe.Offsetof(h.is4), unsafe.Sizeof(h.is4)},
		{"live", unsafe.Offsetof(h.live), unsafe.Sizeof(h.live)},
		{"research", unsafe.Offsetof(h.research), unsafe.Sizeof(h.research)},
	} {
		if f.off+f.size > 64 {
			t.Errorf("host.%s at bytes %d–%d: past the first cache line", f.name, f.off, f.off+f.size)
		}
	}
	// What a record reads beyond the first line (a new unit, a matching
	// session key, a pool contact) is in the second: ObserveBatch
	// prefetches hostObserved bytes of a host, no more.
	for _, f := range []struct {
		name      string
		off, size uintptr
	}{
		{"unit", unsafe.Offsetof(h.unit), unsafe.Sizeof(h.unit)},
		{"sess", unsafe.Offsetof(h.sess), unsafe.Sizeof(h.sess)},
		{"pools", unsafe.Offsetof(h.pools), unsafe.Sizeof(h.pools)},
		{"best", unsafe.Offsetof(h.best), unsafe.Sizeof(h.best)},
	} {
		if f.off+f.size > hostObserved {
			t.Errorf("host.%s at bytes %d–%d: past the %d bytes ObserveBatch prefetches", f.name, f.off, f.off+f.size, hostObserved)
		}
	}
	if hostObserved%64 != 0 || hostObserved > unsafe.Sizeof(h) {
		t.Errorf("hostObserved %d: not whole cache lines of the %d-byte host", hostObserved, unsafe.Sizeof(h))
	}
	if n := unsafe.Sizeof(h); n != 192 {
		t.Errorf("host is %d bytes, want 192 (memory per host: BenchmarkStateMemory)", n)
	}
	if n := unsafe.Sizeof(h); n%64 != 0 {
		t.Errorf("host is %d bytes, not a multiple of 64", n)
	}
	e := New(DefaultConfig())
	for i := range 5000 { // several pages in some shards, and more than one chunk
		e.Observe(&Observation{Host: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Remote: pool, Proto: 17,
			Start: t0, End: t0 + 1, Packets: 1, Bytes: 100, SamplingRate: 1})
	}
	pages := 0
	for i := range e.shards {
		for _, p := range e.shards[i].hosts.pages {
			if a := uintptr(unsafe.Pointer(p)); a%64 != 0 {
				t.Fatalf("shard %d: a page at %#x, %d bytes past a cache line", i, a, a%64)
			}
			pages++
		}
	}
	if pages <= pagesPerChunk {
		t.Fatalf("test premise: %d pages, want more than a chunk", pages)
	}
}
