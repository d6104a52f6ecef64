package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/blocklist"
)

// TestBlocklistCommand: `minewatch blocklist` writes every format into
// --out-dir with the report on stderr, and refuses bad input with the line
// to fix.
func TestBlocklistCommand(t *testing.T) {
	exe := minewatchExe(t)
	dir := t.TempDir()
	pools := filepath.Join(dir, "pools.txt")
	os.WriteFile(pools, []byte("203.0.113.7,XMR,bureau\n104.16.1.1,XMR,upstream\ngone.pool.example,XMR\n"), 0o644)
	// A DNS server that answers nothing: the domain stays unresolved, reported.
	quiet, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	cmd := exec.Command(exe, "blocklist", "--intel", pools, "--dns-server", quiet.LocalAddr().String(),
		"--lookup-timeout", "200ms", "--out-dir", out, "--report", filepath.Join(dir, "report.txt"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("blocklist: %v\n%s", err, stderr.String())
	}
	for _, f := range blocklist.Formats {
		if _, err := os.Stat(filepath.Join(out, f.File)); err != nil {
			t.Errorf("%s not written: %v", f.Name, err)
		}
	}
	rep := stderr.String()
	for _, s := range []string{"矿池黑名单报告", "104.16.1.1 ← 104.16.1.1", "共享CDN地址段", "未解析 did not resolve: 1", "gone.pool.example"} {
		if !strings.Contains(rep, s) {
			t.Errorf("report lacks %q:\n%s", s, rep)
		}
	}
	if saved, _ := os.ReadFile(filepath.Join(dir, "report.txt")); !strings.HasPrefix(string(saved), "矿池黑名单报告") {
		t.Errorf("--report file: %s", saved)
	}
	ips, _ := os.ReadFile(filepath.Join(out, "minewatch-pools.ips.txt"))
	if !strings.Contains(string(ips), "\n203.0.113.7\n") || strings.Contains(string(ips), "104.16.1.1") {
		t.Errorf("ips:\n%s", ips)
	}

	os.WriteFile(pools, []byte("203.0.113.7\n999.1.1.1\n"), 0o644)
	for _, args := range [][]string{
		{"blocklist", "--intel", pools, "--format", "nft"},
		{"blocklist", "--intel", pools},
	} {
		b, err := exec.Command(exe, args...).CombinedOutput()
		if err == nil {
			t.Errorf("%v succeeded: %s", args, b)
		}
		if len(args) == 5 && !strings.Contains(string(b), "pools.txt:2") {
			t.Errorf("bad line not named: %s", b)
		}
		if len(args) == 3 && !strings.Contains(string(b), "exactly one --format") {
			t.Errorf("missing --format not explained: %s", b)
		}
	}
}
