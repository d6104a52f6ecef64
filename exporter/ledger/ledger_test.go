package ledger

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func mustLoadSample(t testing.TB) *Ledger {
	t.Helper()
	l, err := Load([]string{"testdata/ledger.yaml", "testdata/assets.csv"}, []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")})
	if err != nil {
		t.Fatalf("sample ledger: %v", err)
	}
	return l
}

func TestSampleLedger(t *testing.T) {
	l := mustLoadSample(t)
	if got := len(l.Units()); got != 8 {
		t.Errorf("units = %d, want 8", got)
	}
	if got := len(l.Assets()); got != 10 {
		t.Errorf("assets = %d, want 10", got)
	}
	u := l.Unit("zd-no1-middle")
	if u == nil || u.Name != "郑东新区第一中学" || u.Sector != "school" || u.Parent != "zd-edu" ||
		u.Lead != (Person{"张老师", "lead@no1.example.edu.cn"}) || len(u.CIDRs) != 3 {
		t.Fatalf("zd-no1-middle = %+v", u)
	}
	for _, tc := range []struct {
		ip       string
		unit     string // "" = no unit
		internal bool
	}{
		{"10.20.3.21", "zd-no1-middle", true},
		{"10.23.0.1", "zd-edu", true}, // bureau block outside every school
		{"10.21.255.255", "zd-exp-primary", true},
		{"203.0.113.31", "zd-no1-middle", true},
		{"203.0.113.32", "zd-exp-primary", true},
		{"203.0.113.48", "", false},
		{"::ffff:10.22.0.9", "zd-no2-middle", true}, // v4-mapped from a v6 flow
		{"2001:db8:20:1::15", "zd-no1-middle", true},
		{"2001:db8:20:2::1", "zd-edu", true},
		{"172.20.1.1", "", true}, // extra internal: unassigned
		{"8.8.8.8", "", false},
		{"198.51.100.129", "zz-netcafe-xinyu", true},
	} {
		u, in := l.Classify(netip.MustParseAddr(tc.ip))
		got := ""
		if u != nil {
			got = u.ID
		}
		if got != tc.unit || in != tc.internal {
			t.Errorf("Classify(%s) = %q,%v want %q,%v", tc.ip, got, in, tc.unit, tc.internal)
		}
	}
	a := l.Asset(netip.MustParseAddr("10.30.9.1"))
	if a == nil || a.Name != "GPU节点01 (A100, 8卡)" || !a.Research || a.Kind != "server" || a.Unit != "zz-univ-hpc" {
		t.Errorf("CSV asset = %+v", a)
	}
	if a := l.Asset(netip.MustParseAddr("10.20.3.21")); a == nil || a.Research || a.Owner != "李老师" || a.Location != "实验楼301" {
		t.Errorf("YAML asset = %+v", a)
	}
	if a := l.Asset(netip.MustParseAddr("10.21.2.40")); a == nil || a.Research {
		t.Errorf("否 must read as false: %+v", a)
	}
	if l.Asset(netip.MustParseAddr("10.20.3.22")) != nil {
		t.Error("unregistered address has an asset")
	}
	if l.Unit("nope") != nil {
		t.Error("Unit of unknown id")
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"ledger.yaml", "assets.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a ledger"), 0o644)
	l, err := Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Units()) != 8 || len(l.Assets()) != 10 {
		t.Errorf("dir load: %d units %d assets", len(l.Units()), len(l.Assets()))
	}
}

func TestNilAndEmptyLedger(t *testing.T) {
	var l *Ledger
	if u, in := l.Classify(netip.MustParseAddr("10.0.0.1")); u != nil || in {
		t.Error("nil ledger classifies")
	}
	e, err := Load(nil, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	if err != nil {
		t.Fatal(err)
	}
	if u, in := e.Classify(netip.MustParseAddr("10.1.2.3")); u != nil || !in {
		t.Errorf("extra-only ledger: %v %v", u, in)
	}
}

const goodUnits = `units:
  - id: edu
    name: 教育局
    sector: government
    cidrs: [10.0.0.0/8]
  - id: school-a
    name: 甲中学
    sector: school
    parent: edu
    cidrs: [10.1.0.0/16]
`

func TestBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  string
		data  string
		wants []string // substrings of the joined error
	}{
		{"overlapping ranges", "ledger.yaml", `units:
  - id: a
    name: 甲
    sector: school
    cidrs: [10.20.0.0/16]
  - id: b
    name: 乙
    sector: school
    cidrs:
      - 192.0.2.0/24
      - 10.20.128.0/17
`, []string{`ledger.yaml:11: units[1].cidrs[1]: 10.20.128.0/17 overlaps 10.20.0.0/16 of unit "a" (ledger.yaml:5)`}},
		{"identical ranges", "ledger.yaml", `units:
  - {id: a, name: 甲, sector: school, cidrs: [10.20.0.0/16]}
  - {id: b, name: 乙, sector: school, parent: a, cidrs: [10.20.0.0/16]}
`, []string{`ledger.yaml:3: units[1].cidrs[0]: 10.20.0.0/16 is also claimed by unit "a" (ledger.yaml:2)`}},
		{"child range wider than parent's", "ledger.yaml", `units:
  - {id: a, name: 甲, sector: school, cidrs: [10.20.1.0/24]}
  - {id: b, name: 乙, sector: school, parent: a, cidrs: [10.20.0.0/16]}
`, []string{`ledger.yaml:2: units[0].cidrs[0]: 10.20.1.0/24 overlaps 10.20.0.0/16 of unit "b"`}},
		{"egress listed by two units", "ledger.yaml", `units:
  - {id: a, name: 甲, sector: school, cidrs: [10.20.0.0/16], egress: [203.0.113.5]}
  - {id: b, name: 乙, sector: school, cidrs: [10.21.0.0/16], egress: [203.0.113.0/29, bogus]}
`, []string{
			`ledger.yaml:3: units[1].egress[0]: egress 203.0.113.0/29 overlaps 203.0.113.5/32 of unit "a" (ledger.yaml:2)`,
			`ledger.yaml:3: units[1].egress[1]: "bogus" is not a valid CIDR`,
		}},
		{"bad CIDR", "ledger.yaml", `units:
  - id: a
    name: 甲
    sector: school
    cidrs: [10.20.0.0/33, 10.1.2.0/16, bogus]
`, []string{
			`ledger.yaml:5: units[0].cidrs[0]: "10.20.0.0/33" is not a valid CIDR`,
			`ledger.yaml:5: units[0].cidrs[1]: "10.1.2.0/16" has host bits set (did you mean 10.1.0.0/16?)`,
			`ledger.yaml:5: units[0].cidrs[2]: "bogus" is not a valid CIDR`,
		}},
		{"duplicate unit id", "ledger.yaml", goodUnits + `  - id: school-a
    name: 甲中学（重复）
    sector: school
`, []string{`ledger.yaml:11: units[2].id: duplicate unit id "school-a" (first defined at ledger.yaml:6)`}},
		{"missing unit of asset", "ledger.yaml", goodUnits + `assets:
  - ip: 10.1.2.3
    unit: school-b
    kind: pc
  - ip: 10.1.2.4
    kind: pc
`, []string{
			`ledger.yaml:13: assets[0].unit: "school-b" is not a unit of the ledger`,
			`ledger.yaml:15: assets[1].unit: missing: every asset needs the id of its unit`,
		}},
		{"asset outside its unit", "ledger.yaml", goodUnits + `assets:
  - {ip: 10.2.0.1, unit: school-a}
  - {ip: 10.1.0.9, unit: edu}
  - {ip: 8.8.8.8, unit: edu}
`, []string{
			`ledger.yaml:12: assets[0].ip: 10.2.0.1 belongs to unit "edu" by its more specific range, not to "school-a"`,
			`ledger.yaml:13: assets[1].ip: 10.1.0.9 belongs to unit "school-a" by its more specific range, not to "edu"`,
			`ledger.yaml:14: assets[2].ip: 8.8.8.8 is outside the ranges of unit "edu" (10.0.0.0/8)`,
		}},
		{"bad id, sector, kind, parent, field", "ledger.yaml", `units:
  - id: 第一中学
    name: 甲
    sector: college
    parent: nowhere
    cidr: [10.0.0.0/8]
  - id: b
    name: 乙
    sector: school
    parent: nowhere
assets:
  - {ip: 10.0.0.1, unit: b, kind: laptop, research: maybe}
  - {ip: 10.0.0.999, unit: b}
`, []string{
			`ledger.yaml:2: units[0].id: "第一中学": a unit id may use only a-z, 0-9, '-', '_' and '.'`,
			`ledger.yaml:4: units[0].sector: unknown sector "college" (allowed: school | government | soe | netcafe | institution | enterprise | isp)`,
			`ledger.yaml:6: units[0].cidr: unknown field (known: id, name, sector, parent, lead, cidrs, egress)`,
			`ledger.yaml:10: units[1].parent: parent "nowhere" is not a unit of the ledger`,
			`ledger.yaml:12: assets[0].kind: unknown kind "laptop" (allowed: server | gpu-workstation | pc | lab-pc | other)`,
			`ledger.yaml:12: assets[0].research: "maybe" must be true or false`,
			`ledger.yaml:13: assets[1].ip: "10.0.0.999" is not a valid IP address`,
		}},
		{"reserved id and parent loop", "ledger.yaml", `units:
  - {id: unassigned, name: 无, sector: school}
  - {id: x, name: X, sector: school, parent: y}
  - {id: y, name: Y, sector: school, parent: x}
`, []string{
			`ledger.yaml:2: units[0].id: "unassigned" is reserved`,
			`ledger.yaml:3: units[1].parent: parent chain of "x" loops back to "x"`,
		}},
		{"unit ids outside the rule", "ledger.yaml", `units:
  - {id: School-A, name: 甲, sector: school}
  - {id: -a, name: 乙, sector: school}
  - {id: ".b", name: 丙, sector: school}
`, []string{
			`ledger.yaml:2: units[0].id: "School-A": a unit id may use only a-z, 0-9,`,
			`ledger.yaml:3: units[1].id: "-a": a unit id may use only a-z, 0-9,`,
			`ledger.yaml:4: units[2].id: ".b": a unit id may use only a-z, 0-9,`,
		}},
		{"missing fields", "ledger.yaml", `units:
  - id: a
  - name: 乙
    sector: school
`, []string{
			`ledger.yaml:2: units[0].name: missing`,
			`ledger.yaml:2: units[0].sector: missing (allowed:`,
			`ledger.yaml:3: units[1].id: missing`,
		}},
		{"yaml syntax", "ledger.yaml", "units:\n  - id: a\n    name: \"unclosed\n", []string{`ledger.yaml:3: syntax: found unexpected end of stream`}},
		{"csv missing unit", "assets.csv", "\ufeffip,unit,name,kind\n10.1.0.1,school-a,机房服务器,server\n10.1.0.2,,教师机,pc\n10.1.0.3,school-z,教师机,pc\n", []string{
			`assets.csv:3: unit: missing`,
			`assets.csv:4: unit: "school-z" is not a unit of the ledger`,
		}},
		{"csv bad values", "assets.csv", "ip,unit,kind,research,colour\n", []string{`assets.csv:1: column 5: unknown column "colour"`}},
		{"csv bad rows", "assets.csv", "IP地址,单位,类型,科研\n10.1.0.300,school-a,pc,否\n10.1.0.4,school-a,phone,也许\n10.1.0.4,school-a,pc,否\n10.1.0.4,school-a,pc,否\n", []string{
			`assets.csv:2: ip: "10.1.0.300" is not a valid IP address`,
			`assets.csv:3: kind: unknown kind "phone"`,
			`assets.csv:3: research: "也许" must be true or false`,
			`assets.csv:4: ip: asset 10.1.0.4 listed twice (first at assets.csv:3)`,
		}},
		{"csv not utf-8", "assets.csv", "ip,unit,name\n10.1.0.1,school-a,\xbd\xcc\xca\xa6\xbb\xfa\n", []string{`assets.csv: not UTF-8 text`}},
		{"csv no ip column", "assets.csv", "unit,name\nschool-a,x\n", []string{`assets.csv:1: the header row has no "ip" column`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := []File{{Name: tc.file, Data: []byte(tc.data)}}
			if tc.file != "ledger.yaml" {
				files = append([]File{{Name: "units.yaml", Data: []byte(goodUnits)}}, files...)
			}
			l, err := Build(files, nil)
			if err == nil {
				t.Fatalf("no error; ledger %+v", l)
			}
			if l != nil {
				t.Error("a ledger came back with the error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%v", w, err)
				}
			}
		})
	}
}

func TestGoodVariants(t *testing.T) {
	// Nesting under a grandparent, CSV with Chinese headers and a note
	// column, a bare address as a one-host range, assets split over files.
	units := goodUnits + `  - id: school-a.lab
    name: 甲中学实验室
    sector: school
    parent: school-a
    cidrs: [10.1.7.0/24, 10.9.9.9]
`
	csv := "\ufeff IP地址 ,单位,资产名称,类型,位置,部门,负责人,科研,备注\r\n10.1.7.2,school-a.lab,算力服务器,server,实验楼,信息中心,李老师,是,2026年采购\r\n,,,,,,,,\r\n10.9.9.9,school-a.lab,,,,,,,\r\n"
	l, err := Build([]File{{"u.yaml", []byte(units)}, {"a.CSV", []byte(csv)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := l.Classify(netip.MustParseAddr("10.9.9.9")); u == nil || u.ID != "school-a.lab" {
		t.Errorf("bare address range: %v", u)
	}
	a := l.Asset(netip.MustParseAddr("10.1.7.2"))
	if a == nil || !a.Research || a.Name != "算力服务器" || a.Department != "信息中心" {
		t.Errorf("asset %+v", a)
	}
	if a := l.Asset(netip.MustParseAddr("10.9.9.9")); a == nil || a.Kind != "other" {
		t.Errorf("kind default: %+v", a)
	}
}

func BenchmarkClassify(b *testing.B) {
	l := mustLoadSample(b)
	// A mix like real traffic: internal v4 of several units, external v4, v6.
	ips := []netip.Addr{
		netip.MustParseAddr("10.20.3.21"), netip.MustParseAddr("93.184.216.34"),
		netip.MustParseAddr("10.30.9.1"), netip.MustParseAddr("203.0.113.40"),
		netip.MustParseAddr("2001:db8:20:1::15"), netip.MustParseAddr("2606:4700::1"),
		netip.MustParseAddr("172.20.1.1"), netip.MustParseAddr("198.51.100.140"),
	}
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		if _, in := l.Classify(ips[i&7]); in {
			n++
		}
	}
	if n == 0 {
		b.Fatal("nothing classified internal")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

func BenchmarkClassifyLarge(b *testing.B) {
	// An ISP-sized ledger: 20,000 units of one /24 each.
	var sb strings.Builder
	sb.WriteString("units:\n")
	for i := range 20000 {
		sb.WriteString("  - {id: u")
		sb.WriteString(strconv.Itoa(i))
		sb.WriteString(", name: 单位, sector: school, cidrs: [10.")
		sb.WriteString(strconv.Itoa(i >> 8))
		sb.WriteString(".")
		sb.WriteString(strconv.Itoa(i & 255))
		sb.WriteString(".0/24]}\n")
	}
	data := []byte(sb.String())
	heap0 := heapInUse()
	l, err := Parse("big.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	perUnit := float64(heapInUse()-heap0) / 20000
	ips := make([]netip.Addr, 1024)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{10, byte(i * 7 % 80), byte(i * 13), byte(i)})
		if i%2 == 1 {
			ips[i] = netip.AddrFrom4([4]byte{byte(i), 1, 2, 3})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l.Classify(ips[i&1023])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(perUnit, "heap_bytes/unit") // after the loop: b.Loop resets metrics
	runtime.KeepAlive(l)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

func TestRecordLoad(t *testing.T) {
	l := mustLoadSample(t)
	RecordLoad(l, nil)
	if unitsGauge.Get() != 8 || assetsGauge.Get() != 10 || reloadGauge.Get() != 1 {
		t.Errorf("after success: units=%v assets=%v ok=%v", unitsGauge.Get(), assetsGauge.Get(), reloadGauge.Get())
	}
	_, err := Parse("bad.yaml", []byte("units: [{id: x}]"))
	RecordLoad(nil, err)
	if reloadGauge.Get() != 0 || unitsGauge.Get() != 8 {
		t.Errorf("after failure: ok=%v units=%v (previous ledger's size must stay)", reloadGauge.Get(), unitsGauge.Get())
	}
}

func TestRoundTrip(t *testing.T) {
	l := mustLoadSample(t)
	var buf bytes.Buffer
	if err := l.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	l2, err := Parse("merged.yaml", buf.Bytes(), netip.MustParsePrefix("172.16.0.0/12"))
	if err != nil {
		t.Fatalf("written ledger does not load: %v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(l.Units(), l2.Units()) {
		t.Errorf("units differ after round trip:\n%s", buf.String())
	}
	if !reflect.DeepEqual(l.Assets(), l2.Assets()) {
		t.Errorf("assets differ after round trip:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "name: 郑东新区第一中学") {
		t.Errorf("Chinese names must be written as text, not escaped:\n%s", buf.String())
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/ledger.yaml", "testdata/assets.csv"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(p, ".csv"))
	}
	f.Add([]byte(goodUnits+"assets:\n  - &a {ip: 10.1.0.1, unit: school-a}\n  - *a\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, isCSV bool) {
		name := "fuzz.yaml"
		if isCSV {
			name = "fuzz.csv"
		}
		files := []File{{"units.yaml", []byte(goodUnits)}, {name, data}}
		l, err := Build(files, nil)
		if err != nil {
			if l != nil {
				t.Fatal("ledger returned with an error")
			}
			if !strings.Contains(err.Error(), name) && !strings.Contains(err.Error(), "units.yaml") {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		for _, a := range l.Assets() {
			if u, in := l.Classify(a.IP); !in || u == nil || u.ID != a.Unit {
				t.Fatalf("asset %s of %s classifies as %v", a.IP, a.Unit, u)
			}
		}
	})
}

// An egress address maps a notice to its unit; it is not internal, so no
// flow record maps to a unit by it; WriteYAML keeps it.
func TestEgress(t *testing.T) {
	l, err := Parse("ledger.yaml", []byte(`units:
  - {id: edu, name: 教育局, sector: government, cidrs: [10.0.0.0/8], egress: [198.51.100.0/30]}
  - {id: school-a, name: 甲中学, sector: school, parent: edu, cidrs: [10.1.0.0/16], egress: [203.0.113.7]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{"203.0.113.7": "school-a", "198.51.100.2": "edu", "::ffff:203.0.113.7": "school-a", "203.0.113.8": "", "10.1.2.3": ""} {
		got := ""
		if u := l.EgressUnit(netip.MustParseAddr(ip)); u != nil {
			got = u.ID
		}
		if got != want {
			t.Errorf("EgressUnit(%s) = %q, want %q", ip, got, want)
		}
	}
	if u, internal := l.Classify(netip.MustParseAddr("203.0.113.7")); u != nil || internal {
		t.Errorf("an egress address classified as internal (%v, %v)", u, internal)
	}
	var b strings.Builder
	if err := l.WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "egress: [203.0.113.7/32]") {
		t.Errorf("WriteYAML lost the egress:\n%s", b.String())
	}
	again, err := Parse("again.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if u := again.EgressUnit(netip.MustParseAddr("203.0.113.7")); u == nil || u.ID != "school-a" {
		t.Errorf("round trip lost the egress: %v", u)
	}
}
