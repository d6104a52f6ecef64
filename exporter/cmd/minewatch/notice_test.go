package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// TestNoticeImport runs `minewatch notice import` as a person would: a
// notice of an address inside the unit's own ranges at 09:15 Beijing time,
// the committed Kea and FreeRADIUS samples; then a bad file, refused with
// its row and column.
func TestNoticeImport(t *testing.T) {
	exe := minewatchExe(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ledgerFile := write("ledger.yaml", `units:
  - {id: u-lab, name: 实验中学, sector: school, cidrs: [10.20.0.0/16], egress: [203.0.113.20]}
assets:
  - {ip: 10.20.3.50, unit: u-lab, name: 实验楼301 PC, kind: pc, owner: 李四}
`)
	notices := write("通报.csv", "通报编号,IP,时间\n豫网通〔2025〕9号,10.20.3.50,2025-11-05 09:15\n")
	store := filepath.Join(dir, "cases.db")
	cmd := exec.Command(exe, "notice", "import", notices, "--ledger", ledgerFile, "--url", "",
		"--leases", "../../../plugin/pkg/trace/lease/testdata/kea-leases4.csv",
		"--radacct", "../../../plugin/pkg/trace/radacct/testdata/detail-20251105", "--store", store)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", out)
	for _, want := range []string{"新建案件 case 1", "52:54:00:aa:00:01", "lisi", "实验楼301 PC", "李四", "mac:52:54:00:aa:00:01", "导入 imported 1/1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	st, err := casestore.Open(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := st.Cases(context.Background(), campaign.Scope{All: true}, "")
	if err != nil || len(cs) != 1 || cs[0].Source != casestore.SourceNotice || cs[0].Person != "李四" || cs[0].DeviceKey != "mac:52:54:00:aa:00:01" {
		t.Errorf("stored cases: %v %+v", err, cs)
	}

	bad := write("bad.csv", "通报编号,IP,时间\n1,10.20.3.500,2025-11-05 09:15\n")
	out, err = exec.Command(exe, "notice", "import", bad, "--ledger", ledgerFile, "--url", "", "--store", store).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `第2行 row 2, 列 column “IP”: "10.20.3.500" is not an IP address`) {
		t.Errorf("bad file: %v\n%s", err, out)
	}
}
