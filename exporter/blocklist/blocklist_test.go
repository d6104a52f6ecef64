package blocklist

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minewatch/minewatch/exporter/intel"
)

// build runs Build on the test lists against a loopback upstream DNS.
func build(t *testing.T) *Blocklist {
	t.Helper()
	cfg := DefaultConfiguration()
	cfg.Intel = []string{"testdata/pools.txt"}
	cfg.Confirmed = []string{"testdata/confirmed.txt"}
	cfg.Allowlists = []string{"testdata/allow.txt"}
	cfg.DNSServer = upstream(t, testAnswers)
	cfg.Workers = 3
	b, err := Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGuard(t *testing.T) {
	b := build(t)
	var addrs []string
	for _, a := range b.Addrs {
		s := prefixString(a.Prefix)
		if a.Port != 0 {
			s = fmt.Sprintf("%s:%d", s, a.Port)
		}
		addrs = append(addrs, s)
	}
	want := []string{
		"198.51.100.0/24", // 198.51.100.9:3333 lies inside: not repeated
		"203.0.113.7",
		"203.0.113.10",
		"203.0.113.20", // two names of pool-a.example: one owner, kept once
		"203.0.113.40", // pool-d.example's own address (its name is left out, not its server)
		"203.0.113.50:4444",
		"203.0.113.99:14444",
	}
	if diff := cmp.Diff(want, addrs); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	var domains []string
	for _, d := range b.Domains {
		domains = append(domains, d.Name)
	}
	wantDomains := []string{"cf.pool-b.example", "eth.pool-a.example", "pool.minexmr.example", "pool.pool-c.example",
		"stratum.pool-e.example", "www.pool-f.example", "xmr.pool-a.example"}
	if diff := cmp.Diff(wantDomains, domains); diff != "" {
		t.Errorf("domains (-want +got):\n%s", diff)
	}
	left := map[string]string{}
	for _, l := range b.LeftOut {
		left[l.What+" ← "+l.From] = l.Reason
	}
	wantLeft := map[string]string{
		"104.16.8.8 ← cf.pool-b.example (testdata/pools.txt:6)":                     "共享CDN地址段 shared CDN range: cloudflare 104.16.0.0/13",
		"203.0.113.30 ← pool.pool-c.example (testdata/pools.txt:8)":                 "2 个不同域名共用此地址（共享主机） shared by 2 different domains: pool-c.example, pool-f.example",
		"203.0.113.30 ← www.pool-f.example (testdata/pools.txt:9)":                  "2 个不同域名共用此地址（共享主机） shared by 2 different domains: pool-c.example, pool-f.example",
		"www.shared-site.example ← www.shared-site.example (testdata/pools.txt:11)": "白名单 allowlisted (testdata/allow.txt:1)",
		"104.17.1.1 ← www.shared-site.example (testdata/pools.txt:11)":              "白名单 allowlisted: www.shared-site.example → 104.17.1.1 (testdata/allow.txt:1)",
		"pool-d.example ← pool-d.example (testdata/pools.txt:13)":                   "会连带拒绝白名单域名 would also refuse allowlisted api.pool-d.example (testdata/allow.txt:2)",
		"10.1.2.3 ← 10.1.2.3 (testdata/pools.txt:18)":                               "非公网地址，封堵会影响内网 not a public unicast address: blocking it would hit internal traffic",
		"1.0.0.0/8 ← 1.0.0.0/8 (testdata/pools.txt:19)":                             "网段过大（宽于 /16） range wider than /16: a typo or a poisoned list",
		"104.16.1.1 ← 104.16.1.1 (testdata/pools.txt:20)":                           "共享CDN地址段 shared CDN range: cloudflare 104.16.0.0/13",
		"github.io ← github.io (testdata/pools.txt:21)":                             "公共后缀，拒绝解析会影响其下所有网站 a public suffix: refusing it would refuse every site below it",
		"192.0.2.200:7777 ← 192.0.2.200:7777 (testdata/confirmed.txt:3)":            "白名单 allowlisted: 192.0.2.200 (testdata/allow.txt:3)",
	}
	for k, v := range wantLeft {
		if !strings.HasPrefix(left[k], v) {
			t.Errorf("left out %s: reason %q, want %q", k, left[k], v)
		}
	}
	if len(left) != len(wantLeft) {
		t.Errorf("left out %d, want %d: %v", len(left), len(wantLeft), left)
	}
	if len(b.Unresolved) != 0 {
		t.Errorf("unresolved: %v", b.Unresolved)
	}
	// The report names every left-out entry, Chinese first.
	var rep bytes.Buffer
	b.WriteReport(&rep)
	if !strings.HasPrefix(rep.String(), "矿池黑名单报告") || !strings.Contains(rep.String(), "未列入 left out: 11") {
		t.Errorf("report:\n%s", rep.String())
	}
	for k := range wantLeft {
		if !strings.Contains(rep.String(), k) {
			t.Errorf("report does not mention %s", k)
		}
	}
	// Confirmed entries without a source are marked as such.
	for _, d := range b.Domains {
		if d.Name == "stratum.pool-e.example" && d.Source != ConfirmedSource {
			t.Errorf("confirmed pool source %q", d.Source)
		}
	}
}

func TestNoListIsAnError(t *testing.T) {
	if _, err := Build(context.Background(), DefaultConfiguration()); err == nil || !strings.Contains(err.Error(), "--intel") {
		t.Errorf("err = %v", err)
	}
	cfg := DefaultConfiguration()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("pool.example.org\n999.1.1.1\n"), 0o644)
	cdn := filepath.Join(dir, "cdn.txt")
	os.WriteFile(cdn, []byte("192.0.2.0/24,,somecdn\ncdn.example.net\n"), 0o644)
	cfg.Intel = []string{bad, filepath.Join(dir, "missing.txt")}
	cfg.CDNRanges = []string{cdn}
	_, err := Build(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "bad.txt:2") || !strings.Contains(err.Error(), "missing.txt") ||
		!strings.Contains(err.Error(), "cdn.txt:2: cdn.example.net: a CDN range list holds addresses and ranges only") {
		t.Errorf("err = %v", err)
	}
}

func TestUnresolvedDomainStaysInDNSFormats(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.txt")
	os.WriteFile(p, []byte("gone.pool.example,XMR\n"), 0o644)
	cfg := DefaultConfiguration()
	cfg.Intel = []string{p}
	cfg.DNSServer = upstream(t, nil)
	b, err := Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Domains) != 1 || len(b.Addrs) != 0 || len(b.Unresolved) != 1 || !strings.HasPrefix(b.Unresolved[0], "gone.pool.example: ") {
		t.Errorf("domains %v addrs %v unresolved %v", b.Domains, b.Addrs, b.Unresolved)
	}
	var rep bytes.Buffer
	b.WriteReport(&rep)
	if !strings.Contains(rep.String(), "警告 warning: 1 个域名全部未能通过") || !strings.Contains(rep.String(), "check --dns-server") {
		t.Errorf("report does not warn that nothing resolved:\n%s", rep.String())
	}
}

func TestIntelFormatRoundTrips(t *testing.T) {
	b := build(t)
	var buf bytes.Buffer
	f, _ := FindFormat("intel")
	if err := f.Write(&buf, b, Options{}); err != nil {
		t.Fatal(err)
	}
	l, err := intel.Parse("out.txt", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range l.Entries {
		got = append(got, e.Pool)
	}
	for _, want := range []string{"pool.minexmr.example", "203.0.113.7", "198.51.100.9:3333", "stratum.pool-e.example:4444"} {
		if !slices.Contains(got, want) {
			t.Errorf("intel output lacks %s: %v", want, got)
		}
	}
	for _, never := range []string{"10.1.2.3", "104.16.1.1", "www.shared-site.example", "github.io"} {
		if slices.Contains(got, never) {
			t.Errorf("intel output has guarded %s", never)
		}
	}
}

func TestWriteFileIsAtomicAndNamed(t *testing.T) {
	b := build(t)
	dir := t.TempDir()
	for _, f := range Formats {
		path, err := f.WriteFile(dir, b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != f.File {
			t.Errorf("%s written as %s", f.Name, path)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(Formats) {
		t.Errorf("%d files in the directory (a temporary left behind?)", len(ents))
	}
	if _, err := FindFormat("pf"); err == nil || !strings.Contains(err.Error(), "nft, ipset") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestBadOptionsAreRefused(t *testing.T) {
	b := &Blocklist{}
	f, _ := FindFormat("nft")
	for _, o := range []Options{{Set: "a-b"}, {Set: strings.Repeat("x", 30)}, {Table: "1x"}, {DNSAction: "drop"}} {
		if err := f.Write(&bytes.Buffer{}, b, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
