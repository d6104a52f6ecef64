package intel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func mustParseFile(t testing.TB, path string) *List {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(path, data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return l
}

func TestParseSample(t *testing.T) {
	l := mustParseFile(t, "testdata/pools.txt")
	count := map[Kind]int{}
	byPool := map[string]*Entry{}
	for _, e := range l.Entries {
		count[e.Kind]++
		byPool[e.Pool] = e
	}
	want := map[Kind]int{KindIP: 2, KindCIDR: 2, KindIPPort: 3, KindDomain: 5}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s entries = %d, want %d (all: %v)", k, count[k], n, count)
		}
	}
	e := byPool["192.0.2.10"]
	if e == nil || e.Coin != "XMR" || e.Source != "henan-edu-2026-11" || e.Line != 6 || e.List != "testdata/pools.txt" {
		t.Errorf("first mention must win: %+v", e)
	}
	if e := byPool["rx.miningpool.example:5555"]; e == nil || e.Kind != KindDomain || e.Domain() != "rx.miningpool.example" || e.port != 5555 {
		t.Errorf("stratum URL: %+v", e)
	}
	if e := byPool["[2001:db8:beef::10]:14444"]; e == nil || e.Kind != KindIPPort {
		t.Errorf("v6 ip:port: %+v", e)
	}
	if e := byPool["198.51.100.0/28"]; e == nil || e.Coin != "ETC" {
		t.Errorf("cidr: %+v", e)
	}

	h := mustParseFile(t, "testdata/hosts-blocklist.txt")
	var names []string
	for _, e := range h.Entries {
		names = append(names, e.Pool)
	}
	if got := strings.Join(names, " "); got != "coinhive.example.com webminer.example.net cryptoloot.example.net gulf.pool.example.org" {
		t.Errorf("hosts-file names = %q", got)
	}
}

func TestBadLines(t *testing.T) {
	data := `# pools
192.0.2.1,XMR
999.1.1.1
10.0.0.0/33,XMR
10.0.0.1/8
pool.example.org:99999
203.0.113.5:0
*.pool.example.org
1.2.3.4,XMR,src,extra
pool.example.org,X M R
矿池.example.com
not a line
192.0.2.2 pool.example.org
just-a-word
pool.example.org
`
	l, err := Parse("pools.txt", []byte(data))
	if err == nil || l != nil {
		t.Fatalf("junk accepted: %v", l)
	}
	for _, want := range []string{
		`pools.txt:3: "999.1.1.1" is neither an IP, a CIDR, IP:port nor a domain`,
		`pools.txt:4: "10.0.0.0/33" is not a valid CIDR`,
		`pools.txt:5: "10.0.0.1/8" has host bits set (did you mean 10.0.0.0/8?)`,
		`pools.txt:6: "pool.example.org:99999": "99999" is not a port`,
		`pools.txt:7: "203.0.113.5:0": port 0 is not a port`,
		`pools.txt:8: "*.pool.example.org": wildcards cannot be resolved`,
		`pools.txt:9: "1.2.3.4,XMR,src,extra" has too many fields`,
		`pools.txt:10: coin "X M R" must be a short ticker`,
		`pools.txt:11: "矿池.example.com": write internationalised domains in their xn-- (punycode) form`,
		`pools.txt:12: "not a line" is neither an IP, a CIDR, IP:port, a domain nor a hosts-file line`,
		`pools.txt:13: "192.0.2.2 pool.example.org" is neither`,
		`pools.txt:14: "just-a-word" is neither an IP, a CIDR, IP:port nor a domain`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 12 {
		t.Errorf("%d errors, want 12:\n%v", n, err)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || pe.File != "pools.txt" {
		t.Errorf("ParseError: %+v", pe)
	}
}

// fakeResolver answers from a map; domains not in it fail.
type fakeResolver struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
	calls int
}

func (f *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if network != "ip" {
		return nil, errors.New("unexpected network " + network)
	}
	a, ok := f.addrs[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	return a, nil
}

func (f *fakeResolver) set(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if addrs == nil {
		delete(f.addrs, host)
		return
	}
	f.addrs[host] = nil
	for _, a := range addrs {
		f.addrs[host] = append(f.addrs[host], netip.MustParseAddr(a))
	}
}

func sampleSet(t testing.TB) *Set {
	pools := []*List{mustParseFile(t, "testdata/pools.txt"), mustParseFile(t, "testdata/hosts-blocklist.txt")}
	allow := []*List{mustParseFile(t, "testdata/allowlist.txt")}
	resolved := map[string][]netip.Addr{
		"pool.example.org":      {netip.MustParseAddr("203.0.113.200"), netip.MustParseAddr("192.0.2.10")},
		"eth.pool.example.com":  {netip.MustParseAddr("203.0.113.90")},
		"rx.miningpool.example": {netip.MustParseAddr("::ffff:203.0.113.91")},
		"cdn.example.edu.cn":    {netip.MustParseAddr("203.0.113.250")},
	}
	return NewSet(pools, allow, resolved)
}

func TestMatch(t *testing.T) {
	s := sampleSet(t)
	for _, tc := range []struct {
		ep     string
		pool   string // "" = no match
		shared bool
		kind   Kind
	}{
		{"192.0.2.10:80", "192.0.2.10", false, KindIP},                // listed beats resolved
		{"192.0.2.11:3333", "192.0.2.11", false, KindIP},              // any port
		{"198.51.100.9:443", "198.51.100.0/28", false, KindCIDR},      // range
		{"198.51.100.16:443", "", false, 0},                           // just outside
		{"203.0.113.77:3333", "203.0.113.77:3333", false, KindIPPort}, // its port
		{"203.0.113.77:443", "", false, 0},                            // not its port
		{"[2001:db8:beef::10]:14444", "[2001:db8:beef::10]:14444", false, KindIPPort},
		{"[2001:db8:beef::10]:80", "2001:db8:beef::/48", false, KindCIDR}, // port miss falls back to range
		{"203.0.113.200:443", "pool.example.org", true, KindResolvedIP},
		{"203.0.113.90:4444", "eth.pool.example.com:4444", true, KindResolvedIP},
		{"203.0.113.90:443", "", false, 0}, // domain:port matches only its port
		{"203.0.113.91:5555", "rx.miningpool.example:5555", true, KindResolvedIP},
		{"[::ffff:192.0.2.11]:1", "192.0.2.11", false, KindIP}, // v4-mapped
		{"8.8.8.8:53", "", false, 0},
	} {
		ap := netip.MustParseAddrPort(tc.ep)
		e := s.Match(ap.Addr(), ap.Port())
		if tc.pool == "" {
			if e != nil {
				t.Errorf("Match(%s) = %+v, want none", tc.ep, e)
			}
			continue
		}
		if e == nil || e.Pool != tc.pool || e.Shared != tc.shared || e.Kind != tc.kind {
			t.Errorf("Match(%s) = %+v, want %s shared=%v kind=%s", tc.ep, e, tc.pool, tc.shared, tc.kind)
		}
	}
	for ep, want := range map[string]bool{
		"198.51.100.5:6443": true, "198.51.100.5:22": false,
		"203.0.113.130:443": true, "203.0.113.250:80": true, // the CDN range, and the CDN domain's address
		"203.0.113.127:443": false, "192.0.2.10:80": false,
	} {
		ap := netip.MustParseAddrPort(ep)
		if got := s.Allowed(ap.Addr(), ap.Port()); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", ep, got, want)
		}
	}
	if got := s.Count("testdata/pools.txt", KindResolvedIP); got != 4 {
		t.Errorf("resolved_ip count = %d, want 4", got)
	}
	var nilSet *Set
	if nilSet.Match(netip.MustParseAddr("192.0.2.10"), 1) != nil || nilSet.Allowed(netip.MustParseAddr("192.0.2.10"), 1) {
		t.Error("nil set matches")
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func metricsText() string {
	var b bytes.Buffer
	metrics.WritePrometheus(&b, false)
	return b.String()
}

func TestStoreReloadAndResolve(t *testing.T) {
	dir := t.TempDir()
	pools := filepath.Join(dir, "store-pools.txt")
	allow := filepath.Join(dir, "store-allow.txt")
	writeFile(t, pools, "192.0.2.10,XMR\npool.example.org,XMR,bureau\n")
	writeFile(t, allow, "cdn.example.edu.cn\n")
	res := &fakeResolver{addrs: map[string][]netip.Addr{}}
	res.set("pool.example.org", "203.0.113.200")
	res.set("cdn.example.edu.cn", "203.0.113.250")
	s := NewStore(Options{Lists: []string{pools}, Allowlists: []string{allow}, Resolver: res})
	ctx := context.Background()

	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if s.Current().Match(netip.MustParseAddr("203.0.113.200"), 3333) != nil {
		t.Error("domain matched before it was resolved")
	}
	if err := s.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	e := s.Current().Match(netip.MustParseAddr("203.0.113.200"), 3333)
	if e == nil || !e.Shared || e.Pool != "pool.example.org" || e.Coin != "XMR" {
		t.Fatalf("resolved match: %+v", e)
	}
	if !s.Current().Allowed(netip.MustParseAddr("203.0.113.250"), 443) {
		t.Error("resolved allowlist domain not allowed")
	}

	// A failed resolution keeps the previous addresses and is counted.
	before := s.resolveErrors.Get()
	res.set("pool.example.org")
	if err := s.Resolve(ctx); err == nil || !strings.Contains(err.Error(), "pool.example.org") {
		t.Errorf("resolve error = %v", err)
	}
	if s.resolveErrors.Get() != before+1 {
		t.Errorf("resolve errors %d → %d", before, s.resolveErrors.Get())
	}
	if s.Current().Match(netip.MustParseAddr("203.0.113.200"), 3333) == nil {
		t.Error("failed resolution dropped the previous address")
	}
	// A blocking DNS answer (0.0.0.0, loopback, private) is not an address
	// of the pool: the previous addresses stay.
	res.set("pool.example.org", "0.0.0.0", "127.0.0.1", "10.1.1.1")
	if err := s.Resolve(ctx); err == nil || !strings.Contains(err.Error(), "blocks pool domains") {
		t.Errorf("sinkhole answer: %v", err)
	}
	if s.Current().Match(netip.MustParseAddr("203.0.113.200"), 3333) == nil || s.Current().Match(netip.MustParseAddr("0.0.0.0"), 3333) != nil {
		t.Error("sinkhole answer replaced the pool's addresses")
	}
	// A new answer replaces the old one.
	res.set("pool.example.org", "203.0.113.201")
	if err := s.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Current().Match(netip.MustParseAddr("203.0.113.200"), 3333) != nil || s.Current().Match(netip.MustParseAddr("203.0.113.201"), 1) == nil {
		t.Error("re-resolution did not move the address")
	}

	// A junk edit is rejected: the previous list stays in use.
	writeFile(t, pools, "192.0.2.10,XMR\n192.0.2.99\n999.1.1.1\npool.example.org,XMR\n")
	err := s.Load()
	if err == nil || !strings.Contains(err.Error(), `store-pools.txt:3: "999.1.1.1" is neither`) {
		t.Fatalf("junk reload error = %v", err)
	}
	if s.Current().Match(netip.MustParseAddr("192.0.2.99"), 1) != nil {
		t.Error("entries of the rejected file were taken")
	}
	if s.Current().Match(netip.MustParseAddr("192.0.2.10"), 1) == nil || s.Current().Match(netip.MustParseAddr("203.0.113.201"), 1) == nil {
		t.Error("the last good list was dropped")
	}
	m := metricsText()
	for _, want := range []string{
		`minewatch_intel_last_reload_success{list="store-pools.txt"} 0`,
		`minewatch_intel_last_reload_success{list="store-allow.txt"} 1`,
		`minewatch_intel_reload_errors_total{list="store-pools.txt"} 1`,
		`minewatch_intel_entries{list="store-pools.txt",kind="ip"} 1`,
		`minewatch_intel_entries{list="store-pools.txt",kind="domain"} 1`,
		`minewatch_intel_entries{list="store-pools.txt",kind="resolved_ip"} 1`,
		`minewatch_intel_entries{list="store-allow.txt",kind="resolved_ip"} 1`,
		`minewatch_intel_resolve_errors_total `,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// A good edit goes live; a domain no longer listed is forgotten.
	writeFile(t, pools, "192.0.2.99,ETC\n")
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if e := s.Current().Match(netip.MustParseAddr("192.0.2.99"), 1); e == nil || e.Coin != "ETC" {
		t.Errorf("good reload not live: %+v", e)
	}
	if s.Current().Match(netip.MustParseAddr("203.0.113.201"), 1) != nil || s.Current().Match(netip.MustParseAddr("192.0.2.10"), 1) != nil {
		t.Error("removed entries still match")
	}
	if !strings.Contains(metricsText(), `minewatch_intel_last_reload_success{list="store-pools.txt"} 1`) {
		t.Error("success gauge not back to 1")
	}
}

func TestStoreRunResolvesNewDomains(t *testing.T) {
	dir := t.TempDir()
	pools := filepath.Join(dir, "run-pools.txt")
	writeFile(t, pools, "pool.example.org\n")
	res := &fakeResolver{addrs: map[string][]netip.Addr{}}
	res.set("pool.example.org", "203.0.113.200")
	res.set("new.example.org", "203.0.113.201")
	s := NewStore(Options{Lists: []string{pools}, Resolver: res})
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, 1<<40); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return s.Current().Match(netip.MustParseAddr("203.0.113.200"), 1) != nil })
	writeFile(t, pools, "pool.example.org\nnew.example.org\n")
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	// Run's interval is huge: only the kick from Load can resolve it.
	waitFor(t, func() bool { return s.Current().Match(netip.MustParseAddr("203.0.113.201"), 1) != nil })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached in 2s")
}

func BenchmarkMatch(b *testing.B) {
	s := sampleSet(b)
	for _, bc := range []struct{ name, ep string }{
		{"miss", "93.184.216.34:443"},
		{"exact", "192.0.2.11:3333"},
		{"ip_port", "203.0.113.77:3333"},
		{"cidr", "198.51.100.9:443"},
		{"v6_miss", "[2606:4700::1]:443"},
	} {
		ap := netip.MustParseAddrPort(bc.ep)
		ip, port := ap.Addr(), ap.Port()
		b.Run("match_"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Match(ip, port)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
		b.Run("allowed_then_match_"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !s.Allowed(ip, port) {
					s.Match(ip, port)
				}
			}
		})
	}
}

// BenchmarkMatchLarge: a bureau-sized list (20,000 addresses, 2,000 ranges,
// 5,000 IP:port endpoints, 3,000 resolved domain addresses) against remote
// endpoints of which one in eight is listed.
func BenchmarkMatchLarge(b *testing.B) {
	var sb strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&sb, "%d.%d.%d.%d,XMR,bench\n", 11+i%50, i>>8&255, i&255, 7)
	}
	for i := range 2000 {
		fmt.Fprintf(&sb, "%d.%d.%d.0/24\n", 100+i%20, i>>8&255, i&255)
	}
	for i := range 5000 {
		fmt.Fprintf(&sb, "%d.%d.%d.9:%d\n", 150+i%20, i>>8&255, i&255, 3333+i%10)
	}
	resolved := map[string][]netip.Addr{}
	for i := range 3000 {
		d := fmt.Sprintf("p%d.pool.example.org", i)
		fmt.Fprintf(&sb, "%s,XMR\n", d)
		resolved[d] = []netip.Addr{netip.AddrFrom4([4]byte{190, byte(i >> 8), byte(i), 1})}
	}
	heap0 := heapInUse()
	l, err := Parse("big.txt", []byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	s := NewSet([]*List{l}, nil, resolved)
	perEntry := float64(heapInUse()-heap0) / 30000
	eps := make([]netip.AddrPort, 4096)
	for i := range eps {
		switch i % 8 {
		case 0:
			eps[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(11 + i%50), byte(i >> 8 & 255), byte(i), 7}), 443)
		default:
			eps[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(i), byte(i >> 3), 77, byte(i >> 5)}), uint16(1024+i))
		}
	}
	b.ReportAllocs()
	hits := 0
	for i := 0; b.Loop(); i++ {
		ep := eps[i&4095]
		if !s.Allowed(ep.Addr(), ep.Port()) && s.Match(ep.Addr(), ep.Port()) != nil {
			hits++
		}
	}
	if hits == 0 {
		b.Fatal("no hits")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(perEntry, "heap_bytes/entry") // after the loop: b.Loop resets metrics
	runtime.KeepAlive(l)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []string{"testdata/pools.txt", "testdata/hosts-blocklist.txt", "testdata/allowlist.txt"} {
		l := mustParseFile(t, f)
		var buf bytes.Buffer
		if err := l.Format(&buf); err != nil {
			t.Fatal(err)
		}
		l2, err := Parse("again.txt", buf.Bytes())
		if err != nil {
			t.Fatalf("%s: formatted list does not parse: %v\n%s", f, err, buf.String())
		}
		if len(l2.Entries) != len(l.Entries) || len(l.Entries) == 0 {
			t.Fatalf("%s: %d entries, then %d", f, len(l.Entries), len(l2.Entries))
		}
		for i, e := range l.Entries {
			e2 := l2.Entries[i]
			if e.Pool != e2.Pool || e.Coin != e2.Coin || e.Source != e2.Source || e.Kind != e2.Kind ||
				e.addr != e2.addr || e.prefix != e2.prefix || e.port != e2.port || e.domain != e2.domain {
				t.Errorf("%s: %+v became %+v", f, e, e2)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/pools.txt", "testdata/hosts-blocklist.txt", "testdata/allowlist.txt"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[::1]:0\n999.1.1.1\n*.x.y\n0.0.0.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse("fuzz.txt", data)
		if err != nil {
			if l != nil {
				t.Fatal("list returned with an error")
			}
			return
		}
		// Whatever parses must format and parse to the same entries.
		var buf bytes.Buffer
		l.Format(&buf)
		l2, err := Parse("again.txt", buf.Bytes())
		if err != nil {
			t.Fatalf("formatted list does not parse: %v\n%q", err, buf.String())
		}
		if len(l2.Entries) != len(l.Entries) {
			t.Fatalf("%d entries, then %d", len(l.Entries), len(l2.Entries))
		}
		s := NewSet([]*List{l}, []*List{l2}, nil)
		for _, e := range l.Entries {
			if e.Kind == KindIP && s.Match(e.addr, 1) == nil {
				t.Fatalf("listed %s does not match", e.Pool)
			}
		}
	})
}
