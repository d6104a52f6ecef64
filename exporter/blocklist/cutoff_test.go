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

	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

var cutoffNow = time.Date(2026, 11, 9, 8, 0, 0, 0, time.UTC)

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
	}
	return CutOffs(rows, cases, cutoffNow), ids
}

func TestCutOffsEndWithTheCase(t *testing.T) {
	l, ids := cutOffList(t)
	var got []string
	for _, e := range l.Entries {
		got = append(got, fmt.Sprintf("%s case %d %s", e.IP, e.CaseID, e.Rule))
	}
	want := []string{
		fmt.Sprintf("10.1.0.2 case %d persists", ids["10.1.0.2"]),
		fmt.Sprintf("10.4.0.1 case %d relapse", ids["10.4.0.1"]),
		fmt.Sprintf("2001:db8::5 case %d persists", ids["2001:db8::5"]),
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
	for _, s := range []string{"停止互联网接入名单", fmt.Sprintf("10.4.0.1  案件 case %d, 单位 unit u-d, 清零后复发", ids["10.4.0.1"]), "持续挖矿但无未结案件", "10.9.0.1  单位 unit u-x, 报告期限后仍在挖矿"} {
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
	if !strings.Contains(out, "elements = { 10.1.0.2, 10.4.0.1 }") {
		t.Errorf("nft v4 set:\n%s", out)
	}
	if out := run(t, ip, "netns", "exec", ns, nft, "list", "set", "inet", "mwcutoff", "mwcutoff_v6"); !strings.Contains(out, "elements = { 2001:db8::5 }") {
		t.Errorf("nft v6 set:\n%s", out)
	}

	f, _ := FindCutOffFormat("ipset")
	ipsetFile, err := f.WriteFile(dir, l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		cmd := exec.Command(ip, "netns", "exec", ns, ipset, "restore", "-file", ipsetFile)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ipset restore: %v\n%s", err, out)
		}
	}
	saved := run(t, ip, "netns", "exec", ns, ipset, "save", "mwcutoff-v4")
	wantLine := fmt.Sprintf(`add mwcutoff-v4 10.4.0.1 comment "案件 case %d, 单位 unit u-d, 清零后复发 mining again after it was cleared, 自 since 2026-11-05 12:00"`, ids["10.4.0.1"])
	if !strings.Contains(saved, wantLine) || strings.Contains(saved, "10.2.0.2") {
		t.Errorf("ipset save:\n%s\nwant line %s", saved, wantLine)
	}
	if exec.Command(ip, "netns", "exec", ns, ipset, "-q", "test", "mwcutoff-v6", "2001:db8::5").Run() != nil {
		t.Error("2001:db8::5 not in the v6 set")
	}
}

// TestCutOffEnforcedOnARouter: terminal namespace → router namespace (the
// cut-off table loaded, forwarding on) → server namespace. From the cut-off
// address the server is unreachable; from another address of the same
// terminal it answers (connection refused on a closed port).
func TestCutOffEnforcedOnARouter(t *testing.T) {
	nft := testsupport.Require(t, "nft")
	ip := testsupport.Require(t, "ip")
	requireRoot(t)
	l, _ := cutOffList(t)
	file, err := CutOffFormats[0].WriteFile(t.TempDir(), l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	term, router, server := netns(t, ip, "term"), netns(t, ip, "rtr"), netns(t, ip, "srv")
	run(t, ip, "-n", term, "link", "add", "mwt", "type", "veth", "peer", "name", "mwr1", "netns", router)
	run(t, ip, "-n", server, "link", "add", "mws", "type", "veth", "peer", "name", "mwr2", "netns", router)
	for _, c := range [][]string{
		{"-n", term, "addr", "add", "10.1.0.2/24", "dev", "mwt"}, // cut off
		{"-n", term, "addr", "add", "10.1.0.9/24", "dev", "mwt"}, // not
		{"-n", term, "link", "set", "mwt", "up"},
		{"-n", term, "route", "add", "default", "via", "10.1.0.254"},
		{"-n", router, "addr", "add", "10.1.0.254/24", "dev", "mwr1"},
		{"-n", router, "addr", "add", "203.0.113.254/24", "dev", "mwr2"},
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
	out := run(t, ip, "netns", "exec", router, nft, "list", "chain", "inet", "mwcutoff", "forward")
	if strings.Contains(out, "ip saddr @mwcutoff_v4 counter packets 0 ") {
		t.Errorf("the cut-off rule dropped nothing:\n%s", out)
	}
}

// TestCutOffFreeRADIUS runs FreeRADIUS on loopback with the users file
// first and a user of the unit after it: the cut-off terminal is rejected
// with the message, the same user from another address is accepted.
func TestCutOffFreeRADIUS(t *testing.T) {
	radiusd := testsupport.Require(t, "freeradius", "radiusd")
	radclient := testsupport.Require(t, "radclient")
	const conf = "/etc/freeradius/3.0"
	if _, err := os.Stat(filepath.Join(conf, "radiusd.conf")); err != nil {
		testsupport.Missing(t, "FreeRADIUS configuration %s: %v", conf, err)
	}
	l, ids := cutOffList(t)
	var users bytes.Buffer
	f, _ := FindCutOffFormat("freeradius")
	if err := f.Write(&users, l, Options{}); err != nil {
		t.Fatal(err)
	}
	users.WriteString("\nalice Cleartext-Password := \"pw\"\n")

	// A private copy of Debian's configuration with only the files and pap
	// modules, one virtual server on a free loopback port, run as this user.
	raddb := filepath.Join(t.TempDir(), "raddb")
	run(t, "cp", "-a", conf, raddb)
	port, err := proc.FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	mods, _ := os.ReadDir(filepath.Join(raddb, "mods-enabled"))
	for _, m := range mods {
		if m.Name() != "files" && m.Name() != "pap" {
			os.Remove(filepath.Join(raddb, "mods-enabled", m.Name()))
		}
	}
	sites, _ := os.ReadDir(filepath.Join(raddb, "sites-enabled"))
	for _, s := range sites {
		os.Remove(filepath.Join(raddb, "sites-enabled", s.Name()))
	}
	write := func(rel, content string) {
		if err := os.WriteFile(filepath.Join(raddb, rel), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write("sites-enabled/minewatch", fmt.Sprintf(`server minewatch {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %d
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
`, port))
	write("clients.conf", "client loopback {\n\tipaddr = 127.0.0.1\n\tsecret = minewatch-test\n}\n")
	write("mods-config/files/authorize", users.String())
	rc, _ := os.ReadFile(filepath.Join(raddb, "radiusd.conf"))
	rcs := strings.NewReplacer("\tuser = freerad", "\t#user = freerad", "\tgroup = freerad", "\t#group = freerad",
		"reject_delay = 1", "reject_delay = 0").Replace(string(rc))
	write("radiusd.conf", rcs)

	if out, err := exec.Command(radiusd, "-XC", "-d", raddb).CombinedOutput(); err != nil || !strings.Contains(string(out), "Configuration appears to be OK") {
		t.Fatalf("radiusd -XC: %v\n%s", err, out)
	}
	logPath := filepath.Join(t.TempDir(), "radiusd.log")
	p, err := proc.Start("freeradius", radiusd, logPath, "-X", "-d", raddb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	auth := func(attr, framedIP string) string {
		t.Helper()
		var last []byte
		for try := 0; try < 50; try++ { // until the server is up
			cmd := exec.Command(radclient, "-x", "-r", "1", "-t", "1", fmt.Sprintf("127.0.0.1:%d", port), "auth", "minewatch-test")
			cmd.Stdin = strings.NewReader(fmt.Sprintf("User-Name = alice, User-Password = pw, %s = %s\n", attr, framedIP))
			out, _ := cmd.CombinedOutput()
			if bytes.Contains(out, []byte("Received Access-")) {
				return string(out)
			}
			last = out
			time.Sleep(200 * time.Millisecond)
		}
		log, _ := os.ReadFile(logPath)
		t.Fatalf("no answer from FreeRADIUS: %s\n%s", last, log)
		return ""
	}
	if out := auth("Framed-IP-Address", "10.4.0.1"); !strings.Contains(out, "Received Access-Reject") ||
		!strings.Contains(out, fmt.Sprintf("该终端持续挖矿，已停止互联网接入（案件 %d）", ids["10.4.0.1"])) {
		t.Errorf("cut-off terminal:\n%s", out)
	}
	if out := auth("Framed-IPv6-Address", "2001:db8::5"); !strings.Contains(out, "Received Access-Reject") {
		t.Errorf("cut-off IPv6 terminal:\n%s", out)
	}
	if out := auth("Framed-IP-Address", "10.2.0.2"); !strings.Contains(out, "Received Access-Accept") { // its case is closed
		t.Errorf("terminal of a closed case:\n%s", out)
	}
}
