package blocklist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// These tests load each format into its real tool (Debian packages, see
// .ci/deps.sh): nftables and ipset inside network namespaces the test makes,
// Unbound, BIND and dnsmasq answering on loopback.

// writeFormat writes the test blocklist in one format into dir.
func writeFormat(t *testing.T, b *Blocklist, dir, name string, o Options) string {
	t.Helper()
	f, err := FindFormat(name)
	if err != nil {
		t.Fatal(err)
	}
	path, err := f.WriteFile(dir, b, o)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testsupport.Missing(t, "network namespaces need root")
	}
}

// netns makes a network namespace with a unique name, deleted when the test ends.
func netns(t *testing.T, ip, tag string) string {
	t.Helper()
	return testsupport.Netns(t, ip, "mwbl", tag)
}

// dialIn dials a TCP address from inside a network namespace: the dialling
// goroutine's thread enters it and is never unlocked, so the runtime throws
// the thread away afterwards instead of reusing it elsewhere.
func dialIn(t *testing.T, ns, addr string, timeout time.Duration) error {
	t.Helper()
	return dialFrom(t, ns, "", addr, timeout)
}

// dialFrom is dialIn from a given local address ("" = the kernel's choice).
func dialFrom(t *testing.T, ns, local, addr string, timeout time.Duration) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		if err := testsupport.EnterNetns(ns); err != nil {
			errc <- err
			return
		}
		d := net.Dialer{Timeout: timeout}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		c, err := d.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	return <-errc
}

type nftSet struct {
	Nftables []struct {
		Set *struct {
			Name string `json:"name"`
			Elem []any  `json:"elem"`
		} `json:"set"`
	} `json:"nftables"`
}

// nftElements lists a set's elements as nft prints them.
func nftElements(t *testing.T, nft, ns, set string) []string {
	t.Helper()
	out := run(t, "ip", "netns", "exec", ns, nft, "-j", "list", "set", "inet", "minewatch", set)
	var s nftSet
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, out)
	}
	var els []string
	for _, n := range s.Nftables {
		if n.Set == nil {
			continue
		}
		for _, e := range n.Set.Elem {
			switch v := e.(type) {
			case string:
				els = append(els, v)
			case map[string]any:
				if p, ok := v["prefix"].(map[string]any); ok {
					els = append(els, fmt.Sprintf("%v/%v", p["addr"], p["len"]))
				} else if c, ok := v["concat"].([]any); ok {
					els = append(els, fmt.Sprintf("%v . %v", c[0], c[1]))
				} else {
					els = append(els, fmt.Sprint(v))
				}
			}
		}
	}
	slices.Sort(els)
	return els
}

func TestNftablesEnforcedInNamespace(t *testing.T) {
	nft := testsupport.Require(t, "nft")
	ip := testsupport.Require(t, "ip")
	requireRoot(t)
	b := build(t)
	file := writeFormat(t, b, t.TempDir(), "nft", Options{})

	// Host "a" runs the blocklist; host "b" holds a listed pool address, an
	// unlisted one and one listed for port 14444 only, over a veth pair.
	a, peer := netns(t, ip, "a"), netns(t, ip, "b")
	run(t, ip, "-n", a, "link", "add", "mwa", "type", "veth", "peer", "name", "mwb", "netns", peer)
	run(t, ip, "-n", a, "addr", "add", "203.0.113.1/24", "dev", "mwa")
	run(t, ip, "-n", a, "link", "set", "mwa", "up")
	for _, addr := range []string{"203.0.113.7/24", "203.0.113.8/24", "203.0.113.99/24"} {
		run(t, ip, "-n", peer, "addr", "add", addr, "dev", "mwb")
	}
	run(t, ip, "-n", peer, "link", "set", "mwb", "up")
	// Loaded twice: the file replaces the table it made before.
	run(t, ip, "netns", "exec", a, nft, "-f", file)
	run(t, ip, "netns", "exec", a, nft, "-f", file)

	if got, want := nftElements(t, nft, a, "mwpool_v4"), []string{"198.51.100.0/24", "203.0.113.10", "203.0.113.20", "203.0.113.40", "203.0.113.7"}; !slices.Equal(got, want) {
		t.Errorf("v4 set %v, want %v", got, want)
	}
	if got, want := nftElements(t, nft, a, "mwpool_v4_tcp"), []string{"203.0.113.50 . 4444", "203.0.113.99 . 14444"}; !slices.Equal(got, want) {
		t.Errorf("v4 port set %v, want %v", got, want)
	}

	// Unlisted: b's kernel answers at once (a closed port: connection
	// refused; the generous timeout only guards a slow machine). Listed: the
	// SYN never leaves a (dropped in output), so the dial can only time out;
	// the counters below show it was the rule that dropped it.
	for _, addr := range []string{"203.0.113.8:3333", "203.0.113.99:80"} {
		if err := dialIn(t, a, addr, 30*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial unlisted %s: %v, want connection refused by the peer", addr, err)
		}
	}
	for _, addr := range []string{"203.0.113.7:3333", "203.0.113.99:14444"} {
		err := dialIn(t, a, addr, 2*time.Second)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("dial listed %s: %v, want no answer (dropped)", addr, err)
		}
	}
	// The drop rules counted the dropped SYNs.
	out := run(t, ip, "netns", "exec", a, nft, "list", "chain", "inet", "minewatch", "output")
	for _, rule := range []string{"@mwpool_v4 counter packets 0 ", "@mwpool_v4_tcp counter packets 0 "} {
		if strings.Contains(out, rule) {
			t.Errorf("no packet counted by %q:\n%s", rule, out)
		}
	}
}

func TestIpsetRestoreInNamespace(t *testing.T) {
	ipset := testsupport.Require(t, "ipset")
	ip := testsupport.Require(t, "ip")
	requireRoot(t)
	b := build(t)
	file := writeFormat(t, b, t.TempDir(), "ipset", Options{})
	ns := netns(t, ip, "ipset")
	restore := func() {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(ip, "netns", "exec", ns, ipset, "restore")
		cmd.Stdin = f
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ipset restore: %v\n%s", err, out)
		}
	}
	restore()
	restore() // again, over the live sets: swapped, not refused
	test := func(set, entry string) bool {
		return exec.Command(ip, "netns", "exec", ns, ipset, "-q", "test", set, entry).Run() == nil
	}
	v4, v4tcp := IpsetName(Options{}, false, false), IpsetName(Options{}, false, true)
	for _, c := range []struct {
		set, entry string
		in         bool
	}{
		{v4, "203.0.113.7", true}, {v4, "198.51.100.55", true}, {v4, "203.0.113.10", true},
		{v4, "203.0.113.8", false}, {v4, "104.16.8.8", false}, {v4, "203.0.113.30", false}, {v4, "10.1.2.3", false},
		{v4tcp, "203.0.113.99,tcp:14444", true}, {v4tcp, "203.0.113.50,tcp:4444", true}, {v4tcp, "203.0.113.99,tcp:80", false},
	} {
		if got := test(c.set, c.entry); got != c.in {
			t.Errorf("ipset test %s %s = %v, want %v", c.set, c.entry, got, c.in)
		}
	}
	out := run(t, ip, "netns", "exec", ns, ipset, "list", "-n")
	if strings.Contains(out, "-new") {
		t.Errorf("temporary set left behind:\n%s", out)
	}
}

// freeDNSPort is a port free on 127.0.0.1 for both UDP and TCP.
func freeDNSPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		p, err := proc.FreeUDPPort()
		if err != nil {
			t.Fatal(err)
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// startDNS starts a DNS server and waits until it answers probe.
func startDNS(t *testing.T, name, bin string, port int, probe string, args ...string) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	p, err := proc.Start(name, bin, logPath, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// A server may answer before its zones are loaded (BIND: SERVFAIL), so
	// wait for the probe name's real answer.
	var a answer
	for try := 0; try < 100; try++ {
		if a = query(t, addr, probe); a.RCode == dnsmessage.RCodeSuccess {
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("%s: probe %s answered %v\n%s", name, probe, a.RCode, log)
	return addr
}

// checkAnswers: listed names (and names below them) get want; the
// allowlisted CDN-hosted name, which the pool list also named, resolves.
func checkAnswers(t *testing.T, server string, want dnsmessage.RCode) {
	t.Helper()
	for _, name := range []string{"pool.minexmr.example", "x.pool.minexmr.example", "stratum.pool-e.example", "cf.pool-b.example"} {
		if a := query(t, server, name); a.RCode != want {
			t.Errorf("%s: %v, want %v", name, a.RCode, want)
		}
	}
	if a := query(t, server, "www.shared-site.example"); a.RCode != dnsmessage.RCodeSuccess || !slices.Equal(a.A, []string{"104.17.1.1"}) {
		t.Errorf("www.shared-site.example (allowlisted, not in the list): %+v", a)
	}
}

func TestUnboundRefusesListedDomains(t *testing.T) {
	unbound := testsupport.Require(t, "unbound")
	b := build(t)
	for _, action := range []string{"nxdomain", "refuse"} {
		t.Run(action, func(t *testing.T) {
			dir := t.TempDir()
			list := writeFormat(t, b, dir, "unbound", Options{DNSAction: action})
			port := freeDNSPort(t)
			conf := filepath.Join(dir, "unbound.conf")
			os.WriteFile(conf, []byte(fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: %d
	do-ip6: no
	do-daemonize: no
	chroot: ""
	username: ""
	directory: %q
	pidfile: %q
	use-syslog: no
	logfile: ""
	module-config: "iterator"
	access-control: 127.0.0.0/8 allow
	local-zone: "shared-site.example." static
	local-data: "www.shared-site.example. 60 IN A 104.17.1.1"
include: %q
`, port, dir, filepath.Join(dir, "unbound.pid"), list)), 0o644)
			if out, err := exec.Command(filepath.Join(filepath.Dir(unbound), "unbound-checkconf"), conf).CombinedOutput(); err != nil {
				t.Fatalf("unbound-checkconf: %v\n%s", err, out)
			}
			server := startDNS(t, "unbound", unbound, port, "www.shared-site.example", "-d", "-c", conf)
			want := dnsmessage.RCodeNameError
			if action == "refuse" {
				want = dnsmessage.RCodeRefused
			}
			checkAnswers(t, server, want)
		})
	}
}

func TestBINDAnswersRPZ(t *testing.T) {
	named := testsupport.Require(t, "named")
	checkzone := testsupport.Require(t, "named-checkzone")
	b := build(t)
	dir := t.TempDir()
	zone := writeFormat(t, b, dir, "rpz", Options{})
	out := run(t, checkzone, "rpz.minewatch.", zone)
	if !strings.Contains(out, fmt.Sprintf("loaded serial %d", uint32(b.Created.Unix()))) {
		t.Errorf("named-checkzone: %s", out)
	}
	site := filepath.Join(dir, "shared-site.zone")
	os.WriteFile(site, []byte("$TTL 60\n@ SOA localhost. hostmaster.localhost. 1 3600 600 604800 60\n@ NS localhost.\nwww A 104.17.1.1\n"), 0o644)
	port := freeDNSPort(t)
	conf := filepath.Join(dir, "named.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`options {
	directory %q;
	pid-file %q;
	session-keyfile %q;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion yes;
	allow-query { 127.0.0.1; };
	allow-recursion { 127.0.0.1; };
	dnssec-validation no;
	response-policy { zone "rpz.minewatch."; } qname-wait-recurse no;
};
controls { };
zone "rpz.minewatch." { type primary; file %q; allow-query { none; }; };
zone "shared-site.example." { type primary; file %q; };
`, dir, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"), port, zone, site)), 0o644)
	if checkconf, err := proc.Find("named-checkconf"); err == nil {
		run(t, checkconf, conf)
	}
	server := startDNS(t, "named", named, port, "www.shared-site.example", "-g", "-c", conf)
	checkAnswers(t, server, dnsmessage.RCodeNameError)
}

func TestDnsmasqRefusesListedDomains(t *testing.T) {
	dnsmasq := testsupport.Require(t, "dnsmasq")
	b := build(t)
	dir := t.TempDir()
	conf := writeFormat(t, b, dir, "dnsmasq", Options{})
	if out := run(t, dnsmasq, "--test", "-C", conf); !strings.Contains(out, "syntax check OK") {
		t.Errorf("dnsmasq --test: %s", out)
	}
	port := freeDNSPort(t)
	server := startDNS(t, "dnsmasq", dnsmasq, port, "www.shared-site.example",
		"-k", "-C", conf, "--port="+fmt.Sprint(port), "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--user="+currentUser(t), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"),
		"--host-record=www.shared-site.example,104.17.1.1", "--log-facility=-")
	checkAnswers(t, server, dnsmasqNXDOMAIN)
}

// dnsmasq answers address=/domain/ with NXDOMAIN.
const dnsmasqNXDOMAIN = dnsmessage.RCodeNameError

func currentUser(t *testing.T) string {
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestHostsAndPlainLists(t *testing.T) {
	b := build(t)
	var hosts, domains, ips bytes.Buffer
	for name, w := range map[string]*bytes.Buffer{"hosts": &hosts, "domains": &domains, "ips": &ips} {
		f, _ := FindFormat(name)
		if err := f.Write(w, b, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	lines := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return out
	}
	if got := lines(hosts.String()); len(got) != 7 || got[0] != "0.0.0.0 cf.pool-b.example" {
		t.Errorf("hosts: %v", got)
	}
	if got := lines(domains.String()); len(got) != 7 || slices.Contains(got, "www.shared-site.example") {
		t.Errorf("domains: %v", got)
	}
	if got, want := lines(ips.String()), []string{"198.51.100.0/24", "203.0.113.7", "203.0.113.10", "203.0.113.20", "203.0.113.40"}; !slices.Equal(got, want) {
		t.Errorf("ips: %v, want %v", got, want)
	}
}
