package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/blocklist"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// TestCutoffCommand: `minewatch cutoff` reads the flagged time from a real
// VictoriaMetrics (the seeded campaign) and the open cases from the case
// store: the terminal whose case the notice trace tied to a MAC is listed by
// that MAC, one with an IP-only case by its IP, and those that keep mining
// without an open case are reported on stderr, not listed.
func TestCutoffCommand(t *testing.T) {
	exe := minewatchExe(t)
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Flush(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cases.db")
	ctx := context.Background()
	st, err := casestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	by := casestore.Author{Login: "bureau", Role: "operator", Via: casestore.ViaCLI}
	// 10.1.0.2 (u-a): flagged from 4 Nov 20:10 on, never disposed: still mining past its report deadline
	notified := vmtest.At(2026, 11, 5, 9, 0)
	c, _, _, err := st.OpenNoticeCase(ctx, casestore.Notice{Number: "豫教通〔2026〕9号", EgressIP: "198.51.100.1", Start: notified.Add(-time.Hour), End: notified, Notified: notified},
		casestore.Case{Unit: "u-a", IPs: []string{"10.1.0.2"}, DeviceKey: "mac:52:54:00:12:34:56"}, by)
	if err != nil {
		t.Fatal(err)
	}
	// 10.9.0.1 (u-x): flagged all week, a case opened by hand (IP only)
	d, err := st.Record(ctx, casestore.NewDisposition{IP: "10.9.0.1", Unit: "u-x", Stage: "located", Class: "active"}, by)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "cutoff", "--store", db, "--url", vm.URL, "--at", "2026-11-09T00:00:00+08:00", "--out-dir", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cutoff: %v\n%s", err, stderr.String())
	}
	rep := stderr.String()
	for _, s := range []string{
		"停止互联网接入名单",
		fmt.Sprintf("52:54:00:12:34:56  案件 case %d, 单位 unit u-a, 报告期限后仍在挖矿 still mining after the report deadline, 自 since 2026-11-04 20:00, 按MAC by MAC 52:54:00:12:34:56 (地址 IPs 10.1.0.2)", c.ID),
		fmt.Sprintf("10.9.0.1  案件 case %d, 单位 unit u-x, 报告期限后仍在挖矿", d.CaseID),
		"持续挖矿但无未结案件",
		"10.2.0.2  单位 unit u-b, 清零后复发",
	} {
		if !strings.Contains(rep, s) {
			t.Errorf("report lacks %q:\n%s", s, rep)
		}
	}
	nft, err := os.ReadFile(filepath.Join(out, blocklist.CutOffFormats[0].File))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"type ether_addr\n\t\telements = {\n\t\t\t52:54:00:12:34:56 #", "type ipv4_addr\n\t\telements = {\n\t\t\t10.9.0.1 #", "ether saddr @mwcutoff_mac counter drop"} {
		if !strings.Contains(string(nft), s) {
			t.Errorf("nft file lacks %q:\n%s", s, nft)
		}
	}
	if strings.Contains(string(nft), "\t10.1.0.2") {
		t.Errorf("the MAC-keyed terminal's address is in the address set:\n%s", nft)
	}
	users, err := os.ReadFile(filepath.Join(out, "minewatch-cutoff.users"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(users), `DEFAULT Calling-Station-Id =~ "^52[-:.]?54[-:.]?00[-:.]?12[-:.]?34[-:.]?56$", Auth-Type := Reject`) ||
		!strings.Contains(string(users), "DEFAULT Framed-IP-Address == 10.9.0.1, Auth-Type := Reject") {
		t.Errorf("users file:\n%s", users)
	}
}
