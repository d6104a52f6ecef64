package intel

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// unfiltered is s without the IPv4 filters: the answers as before them.
func unfiltered(s *Set) *Set {
	c := *s
	c.pools.v4, c.allow.v4, c.any4, c.unlisted4 = nil, nil, nil, nil
	c.asked8 = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	return &c
}

// probeEndpoints are the endpoints worth checking for s: every entry's
// address, first and last address of its range and their neighbours, on its
// port and others; every probe outcome's endpoint; n random IPv4 addresses;
// each IPv4 one also IPv4-mapped.
func probeEndpoints(s *Set, n int) []netip.AddrPort {
	var addrs []netip.Addr
	ports := map[uint16]bool{0: true, 80: true, 443: true, 3333: true}
	edges := func(a netip.Addr) {
		addrs = append(addrs, a)
		if p := a.Prev(); p.IsValid() {
			addrs = append(addrs, p)
		}
		if nx := a.Next(); nx.IsValid() {
			addrs = append(addrs, nx)
		}
	}
	for _, m := range []*matcher{&s.pools, &s.allow} {
		for p := range m.table.All() {
			edges(p.Addr())
			edges(lastAddr(p))
		}
		for k := range m.ipPort {
			edges(k.Addr())
			ports[k.Port()] = true
		}
	}
	if s.probed != nil {
		for _, mp := range []map[probeKey]*Entry{s.probed.confirmed, s.probed.refuted} {
			for k := range mp {
				edges(k.ep.Addr())
				ports[k.ep.Port()] = true
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, uint64(len(addrs))))
	for range n {
		addrs = append(addrs, netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}))
	}
	addrs = append(addrs, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("2606:4700::1"))
	for _, a := range addrs {
		if a.Is4() {
			addrs = append(addrs, netip.AddrFrom16(a.As16()))
		}
	}
	var out []netip.AddrPort
	for _, a := range addrs {
		for p := range ports {
			out = append(out, netip.AddrPortFrom(a, p))
		}
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// filterMismatches compares s with its unfiltered self over eps, for each
// of hosts.
func filterMismatches(s *Set, eps []netip.AddrPort, hosts []netip.Addr) []string {
	u := unfiltered(s)
	var bad []string
	for _, ep := range eps {
		ip, port := ep.Addr(), ep.Port()
		if got, want := s.Allowed(ip, port), u.Allowed(ip, port); got != want {
			bad = append(bad, fmt.Sprintf("Allowed(%s) = %v, want %v", ep, got, want))
		}
		if got, want := s.Match(ip, port), u.Match(ip, port); got != want {
			bad = append(bad, fmt.Sprintf("Match(%s) = %v, want %v", ep, got, want))
		}
		for _, h := range hosts {
			wantAllowed := u.Allowed(ip, port)
			var want *Entry
			if !wantAllowed {
				want = u.MatchHost(h, ip, port)
			}
			// Unlisted4 says (false, nil) only where that is the answer.
			if u := ip.Unmap(); u.Is4() {
				b := u.As4()
				if s.Unlisted4(binary.BigEndian.Uint32(b[:])) && (wantAllowed || want != nil) {
					bad = append(bad, fmt.Sprintf("Unlisted4(%s) for host %s, want Remote %v %v", ep, h, wantAllowed, want))
				}
				if s.Unlisted8(binary.BigEndian.Uint32(b[:])) && (wantAllowed || want != nil) {
					bad = append(bad, fmt.Sprintf("Unlisted8(%s) for host %s, want Remote %v %v", ep, h, wantAllowed, want))
				}
			}
			if allowed, got := s.Remote(h, ip, port); allowed != wantAllowed || got != want {
				bad = append(bad, fmt.Sprintf("Remote(%s, %s) = %v %v, want %v %v", h, ep, allowed, got, wantAllowed, want))
			}
			if got, want := s.MatchHost(h, ip, port), u.MatchHost(h, ip, port); got != want {
				bad = append(bad, fmt.Sprintf("MatchHost(%s, %s) = %v, want %v", h, ep, got, want))
			}
		}
	}
	return bad
}

// largeLists is a bureau-sized pool list (addresses, /24 and wider ranges,
// IP:port endpoints, resolved domains) and an allowlist with a /12 and a
// /16.
func largeLists(t testing.TB) (pools, allow []*List, resolved map[string][]netip.Addr) {
	var sb strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&sb, "%d.%d.%d.%d,XMR,bench\n", 11+i%50, i>>8&255, i&255, 7)
	}
	for i := range 300 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(100 + i%20), byte(i >> 8), byte(i), 0}), 20+i%9).Masked()
		fmt.Fprintf(&sb, "%s\n", p)
	}
	sb.WriteString("45.0.0.0/8\n60.64.0.0/10\n61.1.0.0/16\n")
	for i := range 500 {
		fmt.Fprintf(&sb, "%d.%d.%d.9:%d\n", 150+i%20, i>>8&255, i&255, 3333+i%10)
	}
	resolved = map[string][]netip.Addr{}
	for i := range 300 {
		d := fmt.Sprintf("p%d.pool.example.org", i)
		fmt.Fprintf(&sb, "%s,XMR\n", d)
		resolved[d] = []netip.Addr{netip.AddrFrom4([4]byte{190, byte(i >> 8), byte(i), 1})}
	}
	l, err := Parse("big.txt", []byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse("allow.txt", []byte("172.16.0.0/12\n8.8.0.0/16\n1.1.1.1:53\n190.0.5.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	return []*List{l}, []*List{a}, resolved
}

func TestFilterKeepsAnswers(t *testing.T) {
	host, miner := netip.MustParseAddr("10.0.0.6"), netip.MustParseAddr("10.0.0.5")
	// A store with every kind of probe outcome over the sample set: a bare
	// confirmation and refutation of unlisted endpoints, a refutation of an
	// allowlisted one, an SNI confirmation of a shared address for a suspect.
	clock := &fakeClock{t: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)}
	st := NewStore(Options{Now: clock.Now})
	// The sample lists, with one more pool domain resolved to a shared
	// address no list names.
	sample := sampleSet(t)
	resolvedMore := map[string][]netip.Addr{"xmr-asia1.pool.example.net": {netip.MustParseAddr("198.18.0.5")}}
	st.Set(NewSet([]*List{mustParseFile(t, "testdata/pools.txt"), mustParseFile(t, "testdata/hosts-blocklist.txt")},
		[]*List{mustParseFile(t, "testdata/allowlist.txt")}, resolvedMore))
	ev := Evidence{At: clock.Now(), Protocol: "stratum", Until: clock.Now().Add(time.Hour)}
	st.Confirm(netip.MustParseAddrPort("93.184.216.34:3333"), ev)
	st.Refute(netip.MustParseAddrPort("93.184.216.35:443"), ev)
	st.Refute(netip.MustParseAddrPort("203.0.113.130:443"), ev)
	shared := netip.MustParseAddrPort("198.18.0.5:443")
	st.Suspect(miner, shared, clock.Now().Add(time.Hour))
	sni := ev
	sni.Name = "xmr-asia1.pool.example.net"
	st.Confirm(shared, sni)
	if st.Current().probed == nil || len(st.Current().probed.confirmed) != 2 || len(st.Current().probed.refuted) != 2 {
		t.Fatalf("probe outcomes not stored: %+v", st.Current().probed)
	}
	pools, allow, resolved := largeLists(t)
	large := NewSet(pools, allow, resolved)
	everything, err := Parse("all.txt", []byte("0.0.0.0/0\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    *Set
	}{
		{"sample", sample},
		{"sample_probed", st.Current()},
		{"large", large},
		{"allow_everything", NewSet(pools, []*List{everything}, resolved)},
		{"empty", NewSet(nil, nil, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.s.pools.v4 == nil || tc.s.allow.v4 == nil || tc.s.any4 == nil {
				t.Fatal("no filter built")
			}
			eps := probeEndpoints(tc.s, 5000)
			if bad := filterMismatches(tc.s, eps, []netip.Addr{host, miner}); len(bad) > 0 {
				t.Fatalf("%d differences over %d endpoints, e.g.\n%s", len(bad), len(eps), strings.Join(bad[:min(10, len(bad))], "\n"))
			}
		})
	}
	// The SNI rule went through Remote: the suspect sees the confirmation,
	// another host the shared entry.
	if _, e := st.Current().Remote(miner, shared.Addr(), shared.Port()); e == nil || e.Kind != KindConfirmed {
		t.Errorf("suspect's contact: %+v", e)
	}
	if _, e := st.Current().Remote(host, shared.Addr(), shared.Port()); e == nil || !e.Shared {
		t.Errorf("other host's contact: %+v", e)
	}
}

// The comparison above can fail: a filter (the pools' for Match, the joint
// one for Remote) that forgets one listed /24 is caught.
func TestFilterCheckCatchesMissingEntry(t *testing.T) {
	hosts := []netip.Addr{netip.MustParseAddr("10.0.0.6")}
	for name, filter := range map[string]func(*Set) *v4Filter{
		"pools": func(s *Set) *v4Filter { return s.pools.v4 },
		"joint": func(s *Set) *v4Filter { return s.any4 },
	} {
		s := sampleSet(t)
		eps := probeEndpoints(s, 100)
		if bad := filterMismatches(s, eps, hosts); len(bad) > 0 {
			t.Fatalf("before the change: %v", bad)
		}
		a := netip.MustParseAddr("192.0.2.11").As4() // a listed pool address
		f := filter(s)
		h := uint32(a[0])<<8 | uint32(a[1])
		w, bit := f.words[h>>6], uint64(1)<<(h&63)
		if w.full&bit != 0 || w.any&bit == 0 {
			t.Fatalf("%s: 192.0.2.0/24 not in the filter's /24 maps", name)
		}
		sub := &f.by24[w.rank+uint32(popcount(w.any&(bit-1)))]
		sub[a[2]>>6] &^= 1 << (a[2] & 63)
		bad := filterMismatches(s, eps, hosts)
		if len(bad) == 0 || !strings.Contains(strings.Join(bad, "\n"), "192.0.2.11") {
			t.Fatalf("%s: forgotten /24 not caught: %v", name, bad)
		}
	}
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestRemoteDoesNotAllocate(t *testing.T) {
	s := sampleSet(t)
	host := netip.MustParseAddr("10.0.0.6")
	eps := []netip.AddrPort{netip.MustParseAddrPort("93.184.216.34:443"), netip.MustParseAddrPort("192.0.2.11:3333"), netip.MustParseAddrPort("[::ffff:203.0.113.77]:3333")}
	if n := testing.AllocsPerRun(100, func() {
		for _, ep := range eps {
			s.Remote(host, ep.Addr(), ep.Port())
		}
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// BenchmarkRemote: the pipeline's one call per record, against the two it
// replaces (Allowed, then MatchHost) without the filters, on the sample set
// and a bureau-sized one, over remote addresses mostly in no list.
func BenchmarkRemote(b *testing.B) {
	pools, allow, resolved := largeLists(b)
	host := netip.MustParseAddr("10.0.0.6")
	rng := rand.New(rand.NewPCG(1, 2))
	eps := make([]netip.AddrPort, 1024)
	for i := range eps {
		eps[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}), 443)
		if i%64 == 0 {
			eps[i] = netip.MustParseAddrPort("192.0.2.11:3333")
		}
	}
	for _, sc := range []struct {
		name string
		s    *Set
	}{{"sample", sampleSet(b)}, {"large", NewSet(pools, allow, resolved)}} {
		b.Run(sc.name+"/remote", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				ep := eps[i&1023]
				sc.s.Remote(host, ep.Addr(), ep.Port())
			}
		})
		u := unfiltered(sc.s)
		b.Run(sc.name+"/allowed_matchhost_unfiltered", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				ep := eps[i&1023]
				if !u.Allowed(ep.Addr(), ep.Port()) {
					u.MatchHost(host, ep.Addr(), ep.Port())
				}
			}
		})
	}
}
