package trace_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/notice"
	"github.com/minewatch/minewatch/plugin/pkg/trace"
	"github.com/minewatch/minewatch/plugin/pkg/trace/lease"
	"github.com/minewatch/minewatch/plugin/pkg/trace/tracetest"
)

const (
	pcMAC   = tracetest.MAC
	egress  = "198.51.100.7"
	poolEnd = "192.0.2.10:3333"
)

// TestNoticeTracedFromRealDHCPAndRADIUS: a PC in a network namespace gets
// its address from Kea, its user's session is accounted by FreeRADIUS; an
// upstream notice for the unit's egress address is traced, from those real
// files and the exporter's series in VictoriaMetrics, to the PC's address,
// MAC, account, device and person; after a DHCP change (a second lease at
// another address) a second notice joins the same case, which follows the
// device's MAC. The same PC as a detected case (flagged by minewatch, no
// notice) is traced from the same files at its detection times and follows
// its MAC across the DHCP change too.
func TestNoticeTracedFromRealDHCPAndRADIUS(t *testing.T) {
	// A PC that Kea leased .50 and then .60, its user's sessions accounted by FreeRADIUS.
	pc := tracetest.PCMoves(t)
	dir, leaseFile, rad := pc.Dir, pc.LeaseFile, pc.Radius
	ip1, ip2, t1, t2 := pc.IP1, pc.IP2, pc.T1, pc.T2
	vm := vmtest.Start(t)

	// What the exporter wrote meanwhile: the PC's pool contacts at each
	// address, and a neighbour mining with another pool (not the notified one).
	var s vmtest.Series
	contacts := func(ip netip.Addr, pool string, at time.Time) {
		s.Sample(names.PoolContacts, 3, at.Add(1200*time.Millisecond), "ip", ip.String(), "unit", "u-lab", "pool", pool, "coin", "XMR")
		s.Sample(names.PoolContacts, 8, at.Add(2500*time.Millisecond), "ip", ip.String(), "unit", "u-lab", "pool", pool, "coin", "XMR")
	}
	contacts(ip1, poolEnd, t1)
	contacts(ip2, poolEnd, t2)
	contacts(netip.MustParseAddr("10.77.0.99"), "192.0.2.99:4444", t1)
	s.Every(names.HostMining, 1, t1, t2.Add(10*time.Second), time.Second, "ip", "10.77.0.99", "unit", "u-lab", "class", "unknown")
	vm.Import(t, s.Lines)
	vm.Flush(t)

	l, err := ledger.Parse("ledger.yaml", []byte(`units:
  - {id: u-lab, name: 实验中学, sector: school, cidrs: [10.77.0.0/24], egress: [`+egress+`]}
  - {id: u-other, name: 另一中学, sector: school, cidrs: [10.78.0.0/24], egress: [198.51.100.8]}
assets:
  - {ip: 10.77.0.50, unit: u-lab, name: 实验楼301 学生PC, kind: pc, location: 实验楼301, owner: 张三}
`))
	if err != nil {
		t.Fatal(err)
	}
	client, err := api.NewClient(api.Config{Address: vm.URL})
	if err != nil {
		t.Fatal(err)
	}
	cfg := trace.DefaultConfiguration()
	cfg.LeaseFiles, cfg.AccountingFiles, cfg.FlowPad = []string{leaseFile}, []string{rad.Detail}, 0
	tr, err := trace.New(cfg, l, trace.VMFlows{API: v1.NewAPI(client)})
	if err != nil {
		t.Fatal(err)
	}

	// The notice file as a bureau sends it: Chinese headers, Beijing time.
	bj := func(t time.Time) string { return t.In(names.Location()).Format("2006-01-02 15:04:05") }
	csv := "通报编号,出口IP,开始时间,结束时间,目的IP,端口,通报时间,备注\n" +
		fmt.Sprintf("豫教通〔2026〕7号,%s,%s,%s,192.0.2.10,3333,%s,疑似门罗币挖矿\n", egress, bj(t1.Add(time.Second)), bj(t1.Add(3*time.Second)), bj(t1.Add(time.Hour))) +
		fmt.Sprintf("豫教通〔2026〕8号,%s,%s,%s,192.0.2.10,3333,%s,再次发现\n", egress, bj(t2.Add(time.Second)), bj(t2.Add(3*time.Second)), bj(t2.Add(time.Hour)))
	noticeFile := filepath.Join(dir, "通报.csv")
	if err := os.WriteFile(noticeFile, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	ns2, err := notice.ReadFile(noticeFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := casestore.Open(context.Background(), filepath.Join(dir, "cases.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	by := casestore.Author{Login: "bureau", Role: "operator", Via: casestore.ViaCLI}
	got, err := trace.Import(context.Background(), tr, st, ns2, by)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d imported, want 2", len(got))
	}
	for i, im := range got {
		t.Logf("notice %s → case %d %v followed=%v", im.Result.Notice.Number, im.Case.ID, im.Case.IPs, im.Followed)
		for _, l := range im.Result.Links {
			t.Logf("  %d %-7s %-9s %s (%s)", i, l.Step, l.Certainty, l.Value, l.How)
		}
		for _, h := range im.Result.Hosts {
			for _, l := range h.Links {
				t.Logf("  %d %-7s %-9s %s (%s) %v", i, l.Step, l.Certainty, l.Value, l.How, l.Evidence)
			}
		}
	}

	first := got[0]
	if first.Result.Unit != "u-lab" || first.Followed {
		t.Errorf("first notice: unit %s followed %v", first.Result.Unit, first.Followed)
	}
	if len(first.Result.Hosts) != 1 {
		t.Fatalf("first notice traced to %d hosts, want the PC alone: %+v", len(first.Result.Hosts), first.Result.Hosts)
	}
	h := first.Result.Hosts[0]
	want := trace.Host{IP: ip1.String(), MAC: pcMAC, Account: "zhang3", Device: "实验楼301 学生PC", Person: "张三", DeviceKey: "mac:" + pcMAC}
	if h.IP != want.IP || h.MAC != want.MAC || h.Account != want.Account || h.Device != want.Device || h.Person != want.Person || h.DeviceKey != want.DeviceKey {
		t.Errorf("first notice traced to %+v, want %+v", h, want)
	}
	for _, l := range h.Links {
		if l.Certainty != lease.Exact {
			t.Errorf("first notice: %s link %s, want exact (%s)", l.Step, l.Certainty, l.How)
		}
	}
	if !strings.HasPrefix(linkOf(h, trace.StepMAC).Evidence[0], leaseFile+":") {
		t.Errorf("MAC evidence %v does not point into Kea's lease file", linkOf(h, trace.StepMAC).Evidence)
	}
	if ev := linkOf(h, trace.StepAccount).Evidence; len(ev) == 0 || !strings.HasPrefix(ev[0], rad.Detail+":") {
		t.Errorf("account evidence %v does not point into FreeRADIUS's detail file", ev)
	}
	c := first.Case
	notified := ns2[0].Notified
	if c.Source != casestore.SourceNotice || c.Unit != "u-lab" || c.Device != want.Device || c.Person != "张三" ||
		!c.LocateDeadline.Equal(notified.Add(campaign.LocateDeadline)) || !c.ReportDeadline.Equal(notified.Add(campaign.ReportDeadline)) {
		t.Errorf("first case %+v (notified %s)", c, notified)
	}

	second := got[1]
	if !second.Followed || second.Case.ID != c.ID {
		t.Fatalf("second notice: case %d followed=%v, want it to follow case %d", second.Case.ID, second.Followed, c.ID)
	}
	if len(second.Result.Hosts) != 1 {
		t.Fatalf("second notice traced to %+v", second.Result.Hosts)
	}
	h2 := second.Result.Hosts[0]
	if h2.IP != ip2.String() || h2.MAC != pcMAC || h2.Account != "zhang3" || h2.DeviceKey != want.DeviceKey {
		t.Errorf("second notice traced to %+v", h2)
	}
	if strings.Join(second.Case.IPs, ",") != ip1.String()+","+ip2.String() || !second.Case.LocateDeadline.Equal(c.LocateDeadline) {
		t.Errorf("followed case %+v", second.Case)
	}
	keys, err := st.DeviceKeys(context.Background(), campaign.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{ip1, ip2} {
		if k := keys[campaign.HostKey{IP: ip.String(), Unit: "u-lab"}]; k != want.DeviceKey {
			t.Errorf("tracker device of %s: %q, want %q", ip, k, want.DeviceKey)
		}
	}
	if _, err := st.Verify(context.Background()); err != nil {
		t.Error(err)
	}
	// Importing the same file again opens nothing.
	if _, err := trace.Import(context.Background(), tr, st, ns2, by); err == nil || !strings.Contains(err.Error(), "already imported") {
		t.Errorf("re-import: %v", err)
	}

	// The same PC as minewatch itself flagged it (no notice): a detected case
	// recorded for its first address is traced, at the moment it was flagged,
	// from the same real lease and accounting files, to the same MAC,
	// account, device and person; flagged at its second address after the
	// DHCP change, it joins that case (a second store: no notice in it).
	det, err := casestore.Open(context.Background(), filepath.Join(dir, "detected.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	det.Tracer = tr
	lead := casestore.Author{Login: "lead-lab", Role: "Editor", Via: casestore.ViaGrafana}
	d1, err := det.Record(context.Background(), casestore.NewDisposition{IP: ip1.String(), Unit: "u-lab", Stage: "located", Class: "active", DetectedAt: t1.Add(time.Second)}, lead)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := det.Case(context.Background(), campaign.Scope{All: true}, d1.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if dc.Source != casestore.SourceDetected || dc.DeviceKey != want.DeviceKey || dc.Device != want.Device || dc.Person != "张三" {
		t.Errorf("detected case %+v, want device %s %s", dc, want.DeviceKey, want.Device)
	}
	d2, err := det.Record(context.Background(), casestore.NewDisposition{IP: ip2.String(), Unit: "u-lab", Stage: "located", Class: "active", DetectedAt: t2.Add(time.Second)}, lead)
	if err != nil {
		t.Fatal(err)
	}
	if d2.CaseID != d1.CaseID {
		t.Errorf("the PC flagged at %s opened case %d, want it to follow its MAC into case %d", ip2, d2.CaseID, d1.CaseID)
	}
	trs, err := det.Traces(context.Background(), d1.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 2 {
		t.Fatalf("%d traces of the detected case, want 2", len(trs))
	}
	for i, ip := range []netip.Addr{ip1, ip2} {
		var dh trace.Host
		if err := json.Unmarshal([]byte(trs[i].Trace), &dh); err != nil {
			t.Fatal(err)
		}
		for _, l := range dh.Links {
			t.Logf("  detected %s %-7s %-9s %s (%s) %v", ip, l.Step, l.Certainty, l.Value, l.How, l.Evidence)
		}
		if dh.IP != ip.String() || dh.MAC != pcMAC || dh.Account != "zhang3" || dh.DeviceKey != want.DeviceKey {
			t.Errorf("detected %s traced to %+v", ip, dh)
		}
		for _, step := range []string{trace.StepHost, trace.StepMAC, trace.StepAccount} {
			if l := linkOf(dh, step); l.Certainty != lease.Exact {
				t.Errorf("detected %s: %s link %s, want exact (%s)", ip, step, l.Certainty, l.How)
			}
		}
		if ev := linkOf(dh, trace.StepMAC).Evidence; len(ev) == 0 || !strings.HasPrefix(ev[0], leaseFile+":") {
			t.Errorf("detected %s: MAC evidence %v does not point into Kea's lease file", ip, ev)
		}
		if ev := linkOf(dh, trace.StepAccount).Evidence; len(ev) == 0 || !strings.HasPrefix(ev[0], rad.Detail+":") {
			t.Errorf("detected %s: account evidence %v does not point into FreeRADIUS's detail file", ip, ev)
		}
	}
	dkeys, err := det.DeviceKeys(context.Background(), campaign.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{ip1, ip2} {
		if k := dkeys[campaign.HostKey{IP: ip.String(), Unit: "u-lab"}]; k != want.DeviceKey {
			t.Errorf("detected: tracker device of %s: %q, want %q", ip, k, want.DeviceKey)
		}
	}
	if _, err := det.Verify(context.Background()); err != nil {
		t.Error(err)
	}
	logFile(t, rad.Detail)
	logFile(t, leaseFile)
}

func linkOf(h trace.Host, step string) trace.Link {
	for _, l := range h.Links {
		if l.Step == step {
			return l
		}
	}
	return trace.Link{}
}

func logFile(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	t.Logf("%s:", path)
	for sc.Scan() {
		t.Logf("  %s", sc.Text())
	}
}

// TestISCDHCPLeaseFile: ISC dhcpd, started in the server namespace, leases
// an address to dhclient; the lease file it writes is read back as the
// lease of the client's MAC covering the moment after the grant.
func TestISCDHCPLeaseFile(t *testing.T) {
	ns := tracetest.NewNetns(t)
	dhcpd := testsupport.Require(t, "dhcpd")
	dir := t.TempDir()
	conf := filepath.Join(dir, "dhcpd.conf")
	leaseFile := filepath.Join(dir, "dhcpd.leases")
	if err := os.WriteFile(conf, []byte("default-lease-time 3600;\nmax-lease-time 7200;\nauthoritative;\n"+
		"subnet 10.77.0.0 netmask 255.255.255.0 {\n  range 10.77.0.70 10.77.0.70;\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leaseFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "dhcpd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ns.IPBin, "netns", "exec", ns.Server, dhcpd, "-4", "-f", "-d", "-cf", conf, "-lf", leaseFile,
		"-pf", filepath.Join(dir, "dhcpd.pid"), ns.ServerIf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	tracetest.WaitLog(t, logPath, "Server starting service.", cmd)
	before := time.Now().Add(-time.Second)
	got := tracetest.DHCP(t, ns, dir)
	if got != netip.MustParseAddr("10.77.0.70") {
		t.Fatalf("dhcpd leased %s", got)
	}
	tracetest.WaitLog(t, leaseFile, "hardware ethernet "+pcMAC, cmd)
	ls, err := lease.ReadFile(leaseFile)
	if err != nil {
		b, _ := os.ReadFile(leaseFile)
		t.Fatalf("%v\n%s", err, b)
	}
	m := lease.NewHistory(ls).At(got, time.Now(), time.Hour)
	if m.Certainty != lease.Exact || m.Lease.MAC != pcMAC || m.Lease.Start.Before(before.Truncate(time.Second)) || !m.Lease.End.After(time.Now()) {
		b, _ := os.ReadFile(leaseFile)
		t.Errorf("lease of %s now: %+v\n%s", got, m, b)
	}
	logFile(t, leaseFile)
}
