package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/trace"
	"github.com/minewatch/minewatch/plugin/pkg/trace/tracetest"
)

// TestCaseTracedFromRealDHCPAndRADIUS runs `minewatch case` as bureau
// staff would, on the lease file real Kea wrote and the detail file real
// FreeRADIUS wrote for a PC that DHCP moved from .50 to .60: the manual
// case recorded for .50 at a Beijing time after its first lease is traced
// to the PC's MAC, account, device and person; recorded for .60 after the
// move it joins that case. A lease file that cannot be read is named and
// nothing is recorded; without trace flags nothing is traced (as before).
func TestCaseTracedFromRealDHCPAndRADIUS(t *testing.T) {
	exe := minewatchExe(t)
	pc := tracetest.PCMoves(t)
	dir := t.TempDir()
	ledgerFile := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(ledgerFile, []byte(`units:
  - {id: u-lab, name: 实验中学, sector: school, cidrs: [10.77.0.0/24]}
assets:
  - {ip: `+pc.IP1.String()+`, unit: u-lab, name: 实验楼301 学生PC, kind: pc, owner: 张三}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "cases.db")
	caseCmd := func(ip, at string, extra ...string) (string, error) {
		args := append([]string{"case", "located", ip, "--class", "active", "--unit", "u-lab", "--store", store, "--at", at}, extra...)
		out, err := exec.Command(exe, args...).CombinedOutput()
		t.Logf("minewatch %s\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
	// The moments as staff give them: RFC 3339, or Beijing time.
	at1 := pc.T1.Add(time.Second).Format(time.RFC3339)
	at2 := pc.T2.Add(time.Second).In(names.Location()).Format("2006-01-02 15:04:05")
	traceFlags := []string{"--ledger", ledgerFile, "--leases", pc.LeaseFile, "--radacct", pc.Detail}
	// The second lease may have begun less than a second ago: wait until
	// at2 is in the past, or the command rightly refuses it as the future.
	if d := time.Until(pc.T2.Add(2 * time.Second)); d > 0 {
		time.Sleep(d)
	}

	// A moment in the future is refused.
	if out, err := caseCmd(pc.IP1.String(), time.Now().Add(time.Hour).Format(time.RFC3339), traceFlags...); err == nil || !strings.Contains(out, "is in the future") {
		t.Errorf("--at in the future: %v\n%s", err, out)
	}
	// A lease file that cannot be read: named, nothing recorded.
	missing := filepath.Join(dir, "no-such-leases.csv")
	if out, err := caseCmd(pc.IP1.String(), at1, "--leases", missing); err == nil || !strings.Contains(out, missing) {
		t.Errorf("unreadable lease file: %v, want its name in\n%s", err, out)
	}
	if _, err := os.Stat(store); err == nil {
		st, err := casestore.Open(context.Background(), store)
		if err != nil {
			t.Fatal(err)
		}
		if cs, err := st.Cases(context.Background(), campaign.Scope{All: true}, ""); err != nil || len(cs) != 0 {
			t.Errorf("an unreadable lease file left cases: %v %+v", err, cs)
		}
		st.Close()
	}

	out, err := caseCmd(pc.IP1.String(), at1, traceFlags...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{tracetest.MAC, tracetest.Account, "实验楼301 学生PC", "张三", "mac:" + tracetest.MAC} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if out, err = caseCmd(pc.IP2.String(), at2, traceFlags...); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "同一设备的案件 case 1") {
		t.Errorf("the PC at %s did not join its device's case:\n%s", pc.IP2, out)
	}
	// A further disposition for .50: its open case is not traced again.
	if out, err = caseCmd(pc.IP1.String(), at1, traceFlags...); err != nil || !strings.Contains(out, "not traced again") {
		t.Errorf("second disposition of %s: %v\n%s", pc.IP1, err, out)
	}
	// Without trace flags: recorded, not traced.
	if out, err := exec.Command(exe, "case", "located", "10.77.0.99", "--class", "passive", "--unit", "u-lab", "--store", store).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	st, err := casestore.Open(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := st.Cases(context.Background(), campaign.Scope{All: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d cases, want the PC's and the untraced one: %+v", len(cs), cs)
	}
	var c, plain casestore.Case
	for _, x := range cs {
		if slices.Contains(x.IPs, pc.IP1.String()) {
			c = x
		} else {
			plain = x
		}
	}
	if c.Source != casestore.SourceManual || c.DeviceKey != "mac:"+tracetest.MAC || c.Device != "实验楼301 学生PC" || c.Person != "张三" ||
		strings.Join(c.IPs, ",") != pc.IP1.String()+","+pc.IP2.String() {
		t.Errorf("the PC's manual case %+v", c)
	}
	if plain.DeviceKey != "" || plain.Device != "" {
		t.Errorf("untraced case %+v", plain)
	}
	trs, err := st.Traces(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 2 {
		t.Fatalf("%d traces of the manual case, want 2: %+v", len(trs), trs)
	}
	for i, ip := range []string{pc.IP1.String(), pc.IP2.String()} {
		var h trace.Host
		if err := json.Unmarshal([]byte(trs[i].Trace), &h); err != nil {
			t.Fatal(err)
		}
		if h.IP != ip || h.MAC != tracetest.MAC || h.Account != tracetest.Account || h.DeviceKey != "mac:"+tracetest.MAC {
			t.Errorf("%s traced to %+v", ip, h)
		}
		for _, l := range h.Links {
			if (l.Step == trace.StepMAC && !evidenceIn(l, pc.LeaseFile)) || (l.Step == trace.StepAccount && !evidenceIn(l, pc.Detail)) {
				t.Errorf("%s: %s link %+v does not point into the real file", ip, l.Step, l)
			}
		}
	}
	if want := pc.T1.Add(time.Second); !trs[0].At.Equal(want) {
		t.Errorf("%s traced at %v, want --at %v", pc.IP1, trs[0].At, want)
	}
	if want := pc.T2.Add(time.Second); !trs[1].At.Equal(want) {
		t.Errorf("%s traced at %v, want --at %v", pc.IP2, trs[1].At, want)
	}
	if others, err := st.Traces(context.Background(), plain.ID); err != nil || len(others) != 0 {
		t.Errorf("the case recorded without trace flags has traces: %v %+v", err, others)
	}
	if _, err := st.Verify(context.Background()); err != nil {
		t.Error(err)
	}
}

func evidenceIn(l trace.Link, file string) bool {
	return len(l.Evidence) > 0 && strings.HasPrefix(l.Evidence[0], file+":")
}
