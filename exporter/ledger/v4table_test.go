package ledger

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// nestedUnits nests ranges four deep (a /8 district down to one-host
// ranges), ranges narrower than /24, neighbours sharing a /24, IPv6.
const nestedUnits = `units:
  - {id: district, name: 区教育局, sector: government, cidrs: [10.0.0.0/8, 2001:db8::/32]}
  - {id: school-a, name: 甲中学, sector: school, parent: district, cidrs: [10.1.0.0/16, 2001:db8:1::/48]}
  - {id: school-a.lab, name: 甲中学实验室, sector: school, parent: school-a, cidrs: [10.1.2.0/24, 10.1.3.7, 2001:db8:1:5::/64]}
  - {id: school-a.hpc, name: 甲中学算力, sector: school, parent: school-a.lab, cidrs: [10.1.2.128/25, 10.1.2.200/32]}
  - {id: school-b, name: 乙小学, sector: school, parent: district, cidrs: [10.2.0.0/15, 10.255.255.255]}
  - {id: cafe-1, name: 网吧一, sector: netcafe, cidrs: [192.168.1.0/27]}
  - {id: cafe-2, name: 网吧二, sector: netcafe, cidrs: [192.168.1.32/28, 192.168.1.64/26]}
  - {id: wide, name: 大单位, sector: soe, cidrs: [100.64.0.0/10, 0.0.0.0/32]}
`

const nestedAssets = "ip,unit,name,kind,location,department,owner,research\n" +
	"10.1.2.130,school-a.hpc,GPU01,server,,,,是\n" +
	"10.1.2.200,school-a.hpc,GPU02,server,,,,true\n" +
	"10.1.2.5,school-a.lab,教师机,pc,,,,否\n" +
	"10.1.9.9,school-a,服务器,server,,,,是\n" +
	"192.168.1.33,cafe-2,收银,pc,,,,是\n" +
	"100.64.0.0,wide,首地址,server,,,,是\n" +
	"2001:db8:1:5::9,school-a.lab,v6节点,server,,,,是\n" +
	"2001:db8:1:5::10,school-a.lab,v6教师机,pc,,,,否\n"

// oracle is the answer by the ledger's definition, computed without bart:
// the longest unit range holding ip (each length tried, longest first),
// else whether an extra range holds it, and the asset table's research flag.
type oracle struct {
	l     *Ledger
	units map[netip.Prefix]*Unit
	extra map[netip.Prefix]bool
}

func newOracle(l *Ledger, extra []netip.Prefix) *oracle {
	o := &oracle{l: l, units: map[netip.Prefix]*Unit{}, extra: map[netip.Prefix]bool{}}
	for _, u := range l.Units() {
		for _, p := range u.CIDRs {
			o.units[p.Masked()] = u
		}
	}
	for _, p := range extra {
		o.extra[p.Masked()] = true
	}
	return o
}

func (o *oracle) class(ip netip.Addr) Class {
	ip = ip.Unmap()
	var c Class
	for bits := ip.BitLen(); bits >= 0; bits-- {
		p := netip.PrefixFrom(ip, bits).Masked()
		if u := o.units[p]; u != nil {
			c.Unit, c.Internal = u, true
			break
		}
		if o.extra[p] {
			c.Internal = true // unless a unit's range says whose
		}
	}
	if a := o.l.Asset(ip); a != nil {
		c.Research = a.Research
	}
	return c
}

// probeAddrs are the addresses worth checking for l: every range's first
// and last address and their neighbours, every asset and its neighbours,
// n random addresses under the ranges' /8s and n anywhere, and each of
// these IPv4-mapped.
func probeAddrs(l *Ledger, extra []netip.Prefix, n int) []netip.Addr {
	var ps []netip.Prefix
	for _, u := range l.Units() {
		ps = append(ps, u.CIDRs...)
	}
	ps = append(ps, extra...)
	var out []netip.Addr
	edges := func(a netip.Addr) {
		out = append(out, a)
		if p := a.Prev(); p.IsValid() {
			out = append(out, p)
		}
		if nx := a.Next(); nx.IsValid() {
			out = append(out, nx)
		}
	}
	for _, p := range ps {
		edges(p.Addr())
		edges(lastAddr(p))
	}
	for _, a := range l.Assets() {
		edges(a.IP)
	}
	rng := rand.New(rand.NewPCG(7, uint64(len(ps))))
	for range n {
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		out = append(out, netip.AddrFrom4(b))
		if p := ps[rng.IntN(len(ps))]; p.Addr().Is4() {
			b[0] = p.Addr().As4()[0]
			if rng.IntN(2) == 0 {
				b[1] = p.Addr().As4()[1]
			}
			out = append(out, netip.AddrFrom4(b))
		}
	}
	for _, s := range []string{"0.0.0.0", "255.255.255.255", "::", "::1", "2001:db8:1:5::9", "2001:db8:2::1", "2606:4700::1", "::10.1.2.130"} {
		out = append(out, netip.MustParseAddr(s))
	}
	for _, a := range out {
		if a.Is4() {
			out = append(out, netip.AddrFrom16(a.As16()))
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

// mismatches checks Lookup, Lookup4 and Classify against the oracle and against the
// bart path over addrs; it returns the differences found.
func mismatches(l *Ledger, extra []netip.Prefix, addrs []netip.Addr) []string {
	var bad []string
	o := newOracle(l, extra)
	for _, a := range addrs {
		want := o.class(a)
		if got := l.Lookup(a); got != want {
			bad = append(bad, fmt.Sprintf("Lookup(%s) = %+v, want %+v", a, got, want))
		}
		// Lookup4 answers for every IPv4 address while there is a table.
		if u := a.Unmap(); u.Is4() {
			b := u.As4()
			got, ok := l.Lookup4(binary.BigEndian.Uint32(b[:]))
			if ok != (l.v4 != nil) || ok && got != want {
				bad = append(bad, fmt.Sprintf("Lookup4(%s) = %+v %v, want %+v %v", a, got, ok, want, l.v4 != nil))
			}
		}
		if got := l.lookupSlow(a.Unmap()); got != want {
			bad = append(bad, fmt.Sprintf("bart lookup(%s) = %+v, want %+v", a, got, want))
		}
		if u, in := l.Classify(a); u != want.Unit || in != want.Internal {
			bad = append(bad, fmt.Sprintf("Classify(%s) = %v %v, want %v %v", a, u, in, want.Unit, want.Internal))
		}
	}
	return bad
}

func TestLookupMatchesLongestPrefix(t *testing.T) {
	large := largeLedgerYAML(20000, func(i int) string { return fmt.Sprintf("10.%d.%d.0/24", i>>8, i&255) })
	for _, tc := range []struct {
		name   string
		files  []File
		extra  []string
		wantV4 bool // the IPv4 table is built (not too large)
	}{
		{"sample", sampleFiles(t), []string{"172.16.0.0/12"}, true},
		{"nested", []File{{"u.yaml", []byte(nestedUnits)}, {"a.csv", []byte(nestedAssets)}},
			[]string{"172.16.0.0/12", "10.0.0.0/7", "192.168.1.0/24", "192.168.1.40/30", "2001:db8:1:5::/64", "203.0.113.9/32"}, true},
		{"nested_extra_everything", []File{{"u.yaml", []byte(nestedUnits)}, {"a.csv", []byte(nestedAssets)}}, []string{"0.0.0.0/0"}, true},
		{"no_units", []File{{"u.yaml", []byte("units: []\n")}}, []string{"10.0.0.0/8"}, true},
		{"large", []File{{"big.yaml", []byte(large)}}, nil, true},
		// 9,000 /25 ranges, each in its own /24: more blocks than the
		// table may take, so the ledger keeps to bart.
		{"too_large", []File{{"big.yaml", []byte(largeLedgerYAML(9000, func(i int) string { return fmt.Sprintf("10.%d.%d.128/25", i>>8, i&255) }))}}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra []netip.Prefix
			for _, s := range tc.extra {
				extra = append(extra, netip.MustParsePrefix(s))
			}
			l, err := Build(tc.files, extra)
			if err != nil {
				t.Fatal(err)
			}
			if (l.v4 != nil) != tc.wantV4 {
				t.Fatalf("IPv4 table built: %v, want %v", l.v4 != nil, tc.wantV4)
			}
			addrs := probeAddrs(l, extra, 10000)
			if bad := mismatches(l, extra, addrs); len(bad) > 0 {
				t.Fatalf("%d of %d addresses differ, e.g.\n%s", len(bad), len(addrs), strings.Join(bad[:min(len(bad), 10)], "\n"))
			}
		})
	}
}

// The check above can fail: one wrong entry deep in the table is found.
func TestLookupCheckCatchesWrongEntry(t *testing.T) {
	l, err := Build([]File{{"u.yaml", []byte(nestedUnits)}, {"a.csv", []byte(nestedAssets)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := probeAddrs(l, nil, 100)
	if bad := mismatches(l, nil, addrs); len(bad) > 0 {
		t.Fatalf("before the change: %v", bad)
	}
	// 10.1.2.200 (a one-host range of school-a.hpc and a research asset)
	// is an entry of a third-level block: make it answer school-a.lab.
	e := l.v4.top[10<<8|1]
	e = l.v4.entries[(e&^v4Child)<<8|2]
	lab := uint32(len(l.v4.classes))
	l.v4.classes = append(l.v4.classes, Class{Unit: l.Unit("school-a.lab"), Internal: true})
	l.v4.entries[(e&^v4Child)<<8|200] = lab
	bad := mismatches(l, nil, addrs)
	if len(bad) == 0 || !strings.Contains(bad[0], "10.1.2.200") {
		t.Fatalf("wrong entry not caught: %v", bad)
	}
}

func TestLookupResearch(t *testing.T) {
	l := mustLoadSample(t)
	for ip, want := range map[string]bool{"10.30.9.1": true, "10.30.9.2": true, "10.21.2.40": false, "10.30.9.3": false, "::ffff:10.30.9.1": true} {
		if got := l.Lookup(netip.MustParseAddr(ip)).Research; got != want {
			t.Errorf("Lookup(%s).Research = %v, want %v", ip, got, want)
		}
	}
	if l.research == nil {
		t.Error("sample has research assets but no research set")
	}
	plain, err := Build([]File{{"u.yaml", []byte(nestedUnits)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.research != nil {
		t.Error("research set without research assets")
	}
	var nilLedger *Ledger
	if c := nilLedger.Lookup(netip.MustParseAddr("10.1.1.1")); c != (Class{}) {
		t.Errorf("nil ledger: %+v", c)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	l := mustLoadSample(t)
	ips := []netip.Addr{netip.MustParseAddr("10.20.3.21"), netip.MustParseAddr("::ffff:10.30.9.1"), netip.MustParseAddr("2001:db8:20:1::15")}
	if n := testing.AllocsPerRun(100, func() {
		for _, ip := range ips {
			l.Lookup(ip)
		}
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func sampleFiles(t *testing.T) []File {
	var files []File
	for _, name := range []string{"testdata/ledger.yaml", "testdata/assets.csv"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: name, Data: data})
	}
	return files
}

// largeLedgerYAML is n units of one range each (cidr(i)).
func largeLedgerYAML(n int, cidr func(int) string) string {
	var sb strings.Builder
	sb.WriteString("units:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  - {id: u%d, name: 单位, sector: school, cidrs: [%s]}\n", i, cidr(i))
	}
	return sb.String()
}

// BenchmarkLookup compares the IPv4 table with the bart path it replaces
// on the sample ledger and on 20,000 /24 units (BenchmarkClassifyLarge's).
func BenchmarkLookup(b *testing.B) {
	sample, err := Load([]string{"testdata/ledger.yaml", "testdata/assets.csv"}, []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")})
	if err != nil {
		b.Fatal(err)
	}
	large, err := Parse("big.yaml", []byte(largeLedgerYAML(20000, func(i int) string { return fmt.Sprintf("10.%d.%d.0/24", i>>8, i&255) })))
	if err != nil {
		b.Fatal(err)
	}
	// Campus-like IPv4: half internal, half random remotes.
	rng := rand.New(rand.NewPCG(3, 4))
	ips := make([]netip.Addr, 1024)
	for i := range ips {
		if i%2 == 0 {
			ips[i] = netip.AddrFrom4([4]byte{10, byte(20 + rng.IntN(60)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		} else {
			ips[i] = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		}
	}
	for _, lc := range []struct {
		name string
		l    *Ledger
	}{{"sample", sample}, {"large", large}} {
		b.Run(lc.name+"/table", func(b *testing.B) {
			n := 0
			for i := 0; b.Loop(); i++ {
				if lc.l.Lookup(ips[i&1023]).Internal {
					n++
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
		b.Run(lc.name+"/bart", func(b *testing.B) {
			n := 0
			for i := 0; b.Loop(); i++ {
				if lc.l.lookupSlow(ips[i&1023]).Internal {
					n++
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
}
