package blocklist

import (
	"bytes"
	"context"
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

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/exporter/testsupport/radiustest"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

var cutoffNow = time.Date(2026, 11, 9, 8, 0, 0, 0, time.UTC)

// cutMAC is the MAC of the PC whose case follows it across two DHCP addresses.
const cutMAC = "02:1a:2b:3c:4d:5e"

// cutOffList builds a cut-off list from tracker rows and a real (SQLite)
// case store holding open, closed and reopened cases.
func cutOffList(t *testing.T) (*CutOffList, map[string]int64) {
	t.Helper()
	ctx := context.Background()
	st, err := casestore.Open(ctx, filepath.Join(t.TempDir(), "cases.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	by := casestore.Author{Login: "lead-a", Role: "Editor", Via: casestore.ViaCLI}
	rec := func(ip, unit, stage string) int64 {
		d, err := st.Record(ctx, casestore.NewDisposition{IP: ip, Unit: unit, Stage: stage, Class: "active"}, by)
		if err != nil {
			t.Fatal(err)
		}
		return d.CaseID
	}
	ids := map[string]int64{}
	ids["10.1.0.2"] = rec("10.1.0.2", "u-a", "located") // open: listed
	rec("10.2.0.2", "u-b", "located")                   // closed: not listed
	rec("10.2.0.2", "u-b", "closed")                    //
	rec("10.4.0.1", "u-d", "closed")                    // closed, then reopened: listed under the new case
	ids["10.4.0.1"] = rec("10.4.0.1", "u-d", "located") //
	rec("10.1.0.1", "u-a", "located")                   // open, but the rule does not hold: not listed
	rec("10.5.0.1", "u-other", "located")               // an open case of another unit: not this row's
	ids["2001:db8::5"] = rec("2001:db8::5", "u-a", "located")
	// Cases opened from notices as the trace opens them: the PC's MAC from
	// its DHCP lease, followed from .50 to .60 (one case, one device); a
	// terminal known by its portal account only.
	notice := func(n int, ip, unit, key string) int64 {
		at := cutoffNow.Add(-90*time.Hour + time.Duration(n)*time.Hour)
		c, _, _, err := st.OpenNoticeCase(ctx, casestore.Notice{Number: fmt.Sprintf("通报%d", n), EgressIP: "198.51.100.1", Start: at, End: at.Add(time.Minute), Notified: at},
			casestore.Case{Unit: unit, IPs: []string{ip}, Device: "实验楼PC", Person: "张三", DeviceKey: key}, by)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	ids["mac"] = notice(1, "10.7.0.50", "u-lab", "mac:"+cutMAC)
	if id := notice(2, "10.7.0.60", "u-lab", "mac:"+cutMAC); id != ids["mac"] {
		t.Fatalf("the second notice opened case %d, want it to follow case %d", id, ids["mac"])
	}
	ids["account"] = notice(3, "10.8.0.7", "u-lab", "account:li4")
	cases, err := st.Cases(ctx, campaign.Scope{All: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	start := cutoffNow.Add(-100 * time.Hour)
	rows := []campaign.TrackerRow{
		{IP: "10.1.0.1", Unit: "u-a", EpisodeStart: start},
		{IP: "10.1.0.2", Unit: "u-a", EpisodeStart: start, CutOff: campaign.CutOffPersists},
		{IP: "10.2.0.2", Unit: "u-b", EpisodeStart: start, CutOff: campaign.CutOffRelapse},
		{IP: "10.4.0.1", Unit: "u-d", EpisodeStart: start, CutOff: campaign.CutOffRelapse},
		{IP: "10.5.0.1", Unit: "u-e", EpisodeStart: start, CutOff: campaign.CutOffPersists},
		{IP: "10.9.0.1", Unit: "u-x", EpisodeStart: start, CutOff: campaign.CutOffPersists},
		{IP: "2001:db8::5", Unit: "u-a", EpisodeStart: start, CutOff: campaign.CutOffPersists},
		{IP: "10.7.0.50", Unit: "u-lab", EpisodeStart: start, CutOff: campaign.CutOffPersists},
		{IP: "10.7.0.60", Unit: "u-lab", EpisodeStart: start.Add(20 * time.Hour), CutOff: campaign.CutOffRelapse},
		{IP: "10.8.0.7", Unit: "u-lab", EpisodeStart: start, CutOff: campaign.CutOffPersists},
	}
	return CutOffs(rows, cases, cutoffNow), ids
}

func TestCutOffsEndWithTheCase(t *testing.T) {
	l, ids := cutOffList(t)
	var got []string
	for _, e := range l.Entries {
		got = append(got, fmt.Sprintf("%s %s %v case %d %s", e.By, e.Key(), e.IPs, e.CaseID, e.Rule))
	}
	want := []string{
		fmt.Sprintf("account li4 [10.8.0.7] case %d persists", ids["account"]),
		fmt.Sprintf("ip 10.1.0.2 [10.1.0.2] case %d persists", ids["10.1.0.2"]),
		fmt.Sprintf("ip 10.4.0.1 [10.4.0.1] case %d relapse", ids["10.4.0.1"]),
		fmt.Sprintf("ip 2001:db8::5 [2001:db8::5] case %d persists", ids["2001:db8::5"]),
		// one device at two addresses: one entry, by the graver rule, since the earlier episode
		fmt.Sprintf("mac %s [10.7.0.50 10.7.0.60] case %d relapse", cutMAC, ids["mac"]),
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	var noCase []string
	for _, r := range l.NoCase {
		noCase = append(noCase, r.IP)
	}
	// 10.2.0.2: its case is closed (the entry ended); 10.5.0.1: the open case is of another unit.
	if !slices.Equal(noCase, []string{"10.2.0.2", "10.5.0.1", "10.9.0.1"}) {
		t.Errorf("no case: %v", noCase)
	}
	var rep bytes.Buffer
	l.WriteReport(&rep)
	for _, s := range []string{"停止互联网接入名单", fmt.Sprintf("10.4.0.1  案件 case %d, 单位 unit u-d, 清零后复发", ids["10.4.0.1"]), "持续挖矿但无未结案件", "10.9.0.1  单位 unit u-x, 报告期限后仍在挖矿",
		fmt.Sprintf("%s  案件 case %d, 单位 unit u-lab, 清零后复发 mining again after it was cleared, 自 since 2026-11-05 12:00, 按MAC by MAC %[1]s (地址 IPs 10.7.0.50, 10.7.0.60), 设备 device 实验楼PC", cutMAC, ids["mac"]),
		fmt.Sprintf("li4  案件 case %d, 单位 unit u-lab, 报告期限后仍在挖矿 still mining after the report deadline, 自 since 2026-11-05 12:00, 按账号 by account li4 (地址 IPs 10.8.0.7)", ids["account"])} {
		if !strings.Contains(rep.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, rep.String())
		}
	}
}

func TestCutOffNftablesAndIpset(t *testing.T) {
	nft := testsupport.Require(t, "nft")
	ipset := testsupport.Require(t, "ipset")
	ip := testsupport.Require(t, "ip")
	requireRoot(t)
	l, ids := cutOffList(t)
	dir := t.TempDir()
	nftFile, err := CutOffFormats[0].WriteFile(dir, l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns := netns(t, ip, "cutoff")
	run(t, ip, "netns", "exec", ns, nft, "-f", nftFile)
	out := run(t, ip, "netns", "exec", ns, nft, "list", "set", "inet", "mwcutoff", "mwcutoff_v4")
	// the account-keyed terminal by its address; the MAC-keyed PC not by its addresses
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "elements = { 10.1.0.2, 10.4.0.1, 10.8.0.7 }") {
		t.Errorf("nft v4 set:\n%s", out)
	}
	if out := run(t, ip, "netns", "exec", ns, nft, "list", "set", "inet", "mwcutoff", "mwcutoff_mac"); !strings.Contains(out, "type ether_addr") || !strings.Contains(out, "elements = { "+cutMAC+" }") {
		t.Errorf("nft MAC set:\n%s", out)
	}
	if out := run(t, ip, "netns", "exec", ns, nft, "list", "set", "inet", "mwcutoff", "mwcutoff_v6"); !strings.Contains(out, "elements = { 2001:db8::5 }") {
		t.Errorf("nft v6 set:\n%s", out)
	}

	f, _ := FindCutOffFormat("ipset")
	ipsetFile, err := f.WriteFile(dir, l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Does this kernel have the hash:mac set type? (Debian's do, as a
	// module; a kernel built without it fails at the file's last set.)
	hashMAC := exec.Command(ip, "netns", "exec", ns, ipset, "create", "mwcutoff-probe", "hash:mac").Run() == nil
	exec.Command(ip, "netns", "exec", ns, ipset, "destroy", "mwcutoff-probe").Run()
	for range 2 { // twice: a reload replaces the sets
		cmd := exec.Command(ip, "netns", "exec", ns, ipset, "restore", "-file", ipsetFile)
		out, err := cmd.CombinedOutput()
		if hashMAC && err != nil {
			t.Fatalf("ipset restore: %v\n%s", err, out)
		}
		if !hashMAC && (err == nil || !strings.Contains(string(out), "set type not supported") || !strings.Contains(string(out), "Error in line "+macCreateLine(t, ipsetFile))) {
			t.Fatalf("ipset restore on a kernel without hash:mac: %v\n%s\nwant it to stop at the MAC set's create line, the address sets loaded", err, out)
		}
	}
	saved := run(t, ip, "netns", "exec", ns, ipset, "save", "mwcutoff-v4")
	wantLine := fmt.Sprintf(`add mwcutoff-v4 10.4.0.1 comment "案件 case %d, 单位 unit u-d, 清零后复发 mining again after it was cleared, 自 since 2026-11-05 12:00, 按IP by IP"`, ids["10.4.0.1"])
	if !strings.Contains(saved, wantLine) || strings.Contains(saved, "10.2.0.2") {
		t.Errorf("ipset save:\n%s\nwant line %s", saved, wantLine)
	}
	if exec.Command(ip, "netns", "exec", ns, ipset, "-q", "test", "mwcutoff-v6", "2001:db8::5").Run() != nil {
		t.Error("2001:db8::5 not in the v6 set")
	}
	if !hashMAC {
		t.Logf("this kernel has no hash:mac set type (CONFIG_IP_SET_HASH_MAC): the MAC set is not loaded here; its entries are checked where the kernel has it")
		return
	}
	saved = run(t, ip, "netns", "exec", ns, ipset, "save", "mwcutoff-mac")
	wantLine = fmt.Sprintf(`add mwcutoff-mac %s comment "案件 case %d, 单位 unit u-lab, 清零后复发 mining again after it was cleared, 自 since 2026-11-05 12:00, 按MAC by MAC %s (地址 IPs 10.7.0.50, 10.7.0.60)"`,
		strings.ToUpper(cutMAC), ids["mac"], cutMAC)
	if !strings.Contains(saved, "create mwcutoff-mac hash:mac") || !strings.Contains(saved, wantLine) {
		t.Errorf("ipset save:\n%s\nwant line %s", saved, wantLine)
	}
	for _, a := range []string{"10.7.0.50", "10.7.0.60"} {
		if exec.Command(ip, "netns", "exec", ns, ipset, "-q", "test", "mwcutoff-v4", a).Run() == nil {
			t.Errorf("%s (the MAC-keyed PC's address) is in the address set", a)
		}
	}
}

// macCreateLine is the line number of the MAC set's create line in an ipset file.
func macCreateLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "create mwcutoff-mac ") {
			return fmt.Sprint(i + 1)
		}
	}
	t.Fatalf("no MAC set in %s", path)
	return ""
}

// TestCutOffEnforcedOnARouter: terminal namespaces → router namespace (the
// cut-off table loaded, forwarding on) → server namespace. From the cut-off
// address the server is unreachable; from another address of the same
// terminal it answers (connection refused on a closed port). The PC keyed
// by its MAC is cut off at a new address it was never flagged at, and a
// machine with another MAC at the PC's old address is not.
func TestCutOffEnforcedOnARouter(t *testing.T) {
	nft := testsupport.Require(t, "nft")
	ip := testsupport.Require(t, "ip")
	requireRoot(t)
	l, _ := cutOffList(t)
	file, err := CutOffFormats[0].WriteFile(t.TempDir(), l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	term, router, server, pc := netns(t, ip, "term"), netns(t, ip, "rtr"), netns(t, ip, "srv"), netns(t, ip, "pc")
	run(t, ip, "-n", term, "link", "add", "mwt", "type", "veth", "peer", "name", "mwr1", "netns", router)
	run(t, ip, "-n", pc, "link", "add", "mwp", "type", "veth", "peer", "name", "mwr3", "netns", router)
	run(t, ip, "-n", server, "link", "add", "mws", "type", "veth", "peer", "name", "mwr2", "netns", router)
	for _, c := range [][]string{
		{"-n", term, "addr", "add", "10.1.0.2/24", "dev", "mwt"}, // cut off
		{"-n", term, "addr", "add", "10.1.0.9/24", "dev", "mwt"}, // not
		{"-n", term, "link", "set", "mwt", "up"},
		{"-n", term, "route", "add", "default", "via", "10.1.0.254"},
		{"-n", router, "addr", "add", "10.1.0.254/24", "dev", "mwr1"},
		{"-n", router, "addr", "add", "203.0.113.254/24", "dev", "mwr2"},
		{"-n", pc, "link", "set", "mwp", "address", "02:00:00:00:00:01"}, // another machine, at the PC's old address
		{"-n", pc, "addr", "add", "10.7.0.50/24", "dev", "mwp"},
		{"-n", pc, "link", "set", "mwp", "up"},
		{"-n", pc, "route", "add", "default", "via", "10.7.0.254"},
		{"-n", router, "addr", "add", "10.7.0.254/24", "dev", "mwr3"},
		{"-n", router, "link", "set", "mwr3", "up"},
		{"-n", router, "link", "set", "mwr1", "up"},
		{"-n", router, "link", "set", "mwr2", "up"},
		{"-n", server, "addr", "add", "203.0.113.8/24", "dev", "mws"},
		{"-n", server, "link", "set", "mws", "up"},
		{"-n", server, "route", "add", "default", "via", "203.0.113.254"},
	} {
		run(t, ip, c...)
	}
	run(t, ip, "netns", "exec", router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	run(t, ip, "netns", "exec", router, nft, "-f", file)

	if err := dialFrom(t, term, "10.1.0.9", "203.0.113.8:3333", 30*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("from 10.1.0.9 (not cut off): %v, want connection refused by the server", err)
	}
	err = dialFrom(t, term, "10.1.0.2", "203.0.113.8:3333", 2*time.Second)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("from 10.1.0.2 (cut off): %v, want no answer", err)
	}
	if err := dialFrom(t, pc, "10.7.0.50", "203.0.113.8:3333", 30*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("another MAC at 10.7.0.50 (the PC's old address): %v, want connection refused by the server", err)
	}
	out := run(t, ip, "netns", "exec", router, nft, "list", "chain", "inet", "mwcutoff", "forward")
	if strings.Contains(out, "ip saddr @mwcutoff_v4 counter packets 0 ") || !strings.Contains(out, "ether saddr @mwcutoff_mac counter packets 0 ") {
		t.Errorf("the address rule dropped nothing, or the MAC rule dropped something:\n%s", out)
	}
	// The PC itself, at an address of a new lease.
	for _, c := range [][]string{
		{"-n", pc, "link", "set", "mwp", "down"},
		{"-n", pc, "addr", "flush", "dev", "mwp"},
		{"-n", pc, "link", "set", "mwp", "address", cutMAC},
		{"-n", pc, "addr", "add", "10.7.0.77/24", "dev", "mwp"},
		{"-n", pc, "link", "set", "mwp", "up"},
		{"-n", pc, "route", "add", "default", "via", "10.7.0.254"},
	} {
		run(t, ip, c...)
	}
	err = dialFrom(t, pc, "10.7.0.77", "203.0.113.8:3333", 2*time.Second)
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("from the PC's MAC at 10.7.0.77: %v, want no answer", err)
	}
	out = run(t, ip, "netns", "exec", router, nft, "list", "chain", "inet", "mwcutoff", "forward")
	if strings.Contains(out, "ether saddr @mwcutoff_mac counter packets 0 ") {
		t.Errorf("the MAC rule dropped nothing:\n%s", out)
	}
}

// TestCutOffFreeRADIUS runs FreeRADIUS on loopback with the users file
// first and a user of the unit after it: the cut-off terminals are rejected
// with the message, by the MAC the NAS sends as Calling-Station-Id however
// it writes it, by account, and by address; the same user from another
// terminal is accepted.
func TestCutOffFreeRADIUS(t *testing.T) {
	l, ids := cutOffList(t)
	var users bytes.Buffer
	f, _ := FindCutOffFormat("freeradius")
	if err := f.Write(&users, l, Options{}); err != nil {
		t.Fatal(err)
	}
	users.WriteString("\nDEFAULT Cleartext-Password := \"pw\"\n")
	rad := radiustest.Start(t, t.TempDir(), radiustest.Options{Users: users.String()})
	auth := func(user string, attrs ...string) string {
		t.Helper()
		return rad.Auth(t, append([]string{"User-Name = " + user, "User-Password = pw"}, attrs...)...)
	}
	reject := func(out, why string, caseID int64) {
		t.Helper()
		if !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, fmt.Sprintf("该终端持续挖矿，已停止互联网接入（案件 %d）", caseID)) {
			t.Errorf("%s: want a reject naming case %d:\n%s", why, caseID, out)
		}
	}
	accept := func(out, why string) {
		t.Helper()
		if !strings.Contains(out, "Received Access-Accept") {
			t.Errorf("%s: want an accept:\n%s", why, out)
		}
	}
	for _, csid := range []string{"02-1A-2B-3C-4D-5E", "02:1a:2b:3c:4d:5e", "021a.2b3c.4d5e", "021A2B3C4D5E"} {
		reject(auth("alice", fmt.Sprintf("Calling-Station-Id = %q", csid), "Framed-IP-Address = 10.7.0.99"), "MAC "+csid, ids["mac"])
	}
	accept(auth("alice", `Calling-Station-Id = "02-1A-2B-3C-4D-5F"`), "another MAC")
	accept(auth("alice", `Calling-Station-Id = "02-1A-2B-3C-4D-5E-00"`), "a longer id that only starts with the MAC")
	reject(auth("li4", `Calling-Station-Id = "02-00-00-00-00-01"`), "account li4", ids["account"])
	reject(auth("alice", "Framed-IP-Address = 10.4.0.1"), "IP 10.4.0.1", ids["10.4.0.1"])
	reject(auth("alice", "Framed-IPv6-Address = 2001:db8::5"), "IPv6 2001:db8::5", ids["2001:db8::5"])
	accept(auth("alice", "Framed-IP-Address = 10.2.0.2"), "terminal of a closed case")
	// keyed by its MAC, the PC's old addresses are not rejected: the next lease holder is someone else
	accept(auth("alice", "Framed-IP-Address = 10.7.0.50"), "old address of the MAC-keyed PC")
}
