package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// TestReportPoolsCommand: `minewatch report pools` against a real
// VictoriaMetrics seeded with the campaign and the prober's confirmations
// writes the upward report as XLSX (one row per pool, the confirmed ones
// with their domain and how they were found, Beijing time) and as CSV with
// the UTF-8 BOM.
func TestReportPoolsCommand(t *testing.T) {
	exe := minewatchExe(t)
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Import(t, vmtest.ConfirmedPools())
	vm.Flush(t)
	dir := t.TempDir()
	bureau := filepath.Join(dir, "bureau.txt")
	if err := os.WriteFile(bureau, []byte("# 局矿池名单\nxmr.pool.example,XMR\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"report", "pools", "--url", vm.URL, "--bureau-list", bureau,
		"--from", "2026-11-02T00:00:00+08:00", "--to", "2026-11-09T00:00:00+08:00"}

	xlsx := filepath.Join(dir, "上报矿池.xlsx")
	if out, err := exec.Command(exe, append(args, "--format", "xlsx", "-o", xlsx)...).CombinedOutput(); err != nil || !strings.Contains(string(out), "上报矿池已写入 new pools written: "+xlsx+" (4)") {
		t.Fatalf("report pools --format xlsx: %v\n%s", err, out)
	}
	f, err := excelize.OpenFile(xlsx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("上报矿池 New pools")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("%d rows, want the header and 4 pools: %q", len(rows), rows)
	}
	head := strings.Join(rows[0], "|")
	if !strings.HasPrefix(head, "矿池地址 endpoint|域名 domain|币种 coin|发现方式 found by|首次发现 first seen|最近发现 last seen|涉及单位 units|涉及主机 hosts|") ||
		!strings.HasSuffix(head, "|证据 evidence") {
		t.Errorf("header %q", head)
	}
	got := map[string][]string{}
	for _, r := range rows[1:] {
		got[r[0]] = r
	}
	for pool, want := range map[string]string{
		"secret.pool.example:443": "secret.pool.example|ETC|情报 intel (其他名单 another list)|2026-11-01 08:10|2026-11-08 23:55|u-x|10.9.0.1 (u-x)|672|1|99|",
		"203.0.113.50:14444":      "|XMR|已确认 confirmed (主动探测 probe)|2026-11-03 10:00|2026-11-04 09:50|u-b|10.2.0.9 (u-b)|192|1|75|主动探测确认 probe confirmed stratum，首次确认 first confirmed 2026-11-03 10:00；",
		"198.51.100.77:443":       "gulf.pool.example|unknown|已确认 confirmed (主动探测 probe)|2026-11-05 14:00|2026-11-05 19:50|u-a|10.1.0.8 (u-a)|24|0|40|主动探测确认 probe confirmed stratum over TLS",
		"203.0.113.99:3333":       "||已确认 confirmed (主动探测 probe)|2026-11-07 09:00|2026-11-07 09:00|||0|0|0|主动探测确认 probe confirmed cryptonote",
	} {
		r, ok := got[pool]
		if !ok {
			t.Errorf("no row for %s: %q", pool, rows)
			continue
		}
		// excelize leaves trailing empty cells out; pad to the header
		for len(r) < len(rows[0]) {
			r = append(r, "")
		}
		if line := strings.Join(r[1:], "|"); !strings.HasPrefix(line, want) {
			t.Errorf("%s: row %q, want it to start %q", pool, line, want)
		}
	}
	if _, listed := got["192.0.2.66:3333"]; listed {
		t.Error("192.0.2.66:3333 is reported though the bureau lists its domain xmr.pool.example")
	}

	csv, err := exec.Command(exe, append(args, "--format", "csv")...).Output()
	if err != nil {
		t.Fatalf("report pools --format csv: %v", err)
	}
	if s := string(csv); !strings.HasPrefix(s, "\ufeff矿池地址 endpoint,域名 domain,") ||
		!strings.Contains(s, "\r\n198.51.100.77:443,gulf.pool.example,unknown,已确认 confirmed (主动探测 probe),2026-11-05 14:00,") || strings.Count(s, "\r\n") != 5 {
		t.Errorf("CSV:\n%s", s)
	}
}
