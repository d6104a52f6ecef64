package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const ledgerConfig = `listen:
  http: "127.0.0.1:%d"
  netflow: "127.0.0.1:%d"
  sflow: ""
ledger:
  files: [ledger.yaml]
`

// `: > ledger.yaml; kill -HUP` on a running exporter: the truncated ledger is
// refused, the previous one stays in use, the log says why and the success
// gauge drops to 0.
func TestTruncatedLedgerRefusedOnReload(t *testing.T) {
	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "ledger.yaml")
	if err := os.WriteFile(ledgerPath, []byte(testLedger), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, dir, ledgerConfig)
	if l := e.metricLine("minewatch_ledger_last_reload_success"); l != "minewatch_ledger_last_reload_success 1" {
		t.Fatalf("after start: %q", l)
	}

	if err := os.Truncate(ledgerPath, 0); err != nil { // : > ledger.yaml
		t.Fatal(err)
	}
	e.signal(syscall.SIGHUP)
	e.waitLog("ledger: keeping the previous version: ledger is empty: no units", 10*time.Second)
	if l := e.metricLine("minewatch_ledger_last_reload_success"); l != "minewatch_ledger_last_reload_success 0" {
		t.Errorf("after the refused reload: %q, want 0", l)
	}
	if l := e.metricLine("minewatch_ledger_units"); l != "minewatch_ledger_units 1" {
		t.Errorf("units in use after the refused reload: %q, want the old ledger's 1", l)
	}
	if l := e.metricLine(`minewatch_unit_info{unit="no1"`); l == "" {
		t.Error("the old ledger's unit is gone from /metrics")
	}

	// The fixed file goes live again on the next SIGHUP.
	if err := os.WriteFile(ledgerPath, []byte(strings.Replace(testLedger, "第一中学", "第一中学(改)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for e.metricLine("minewatch_ledger_last_reload_success") != "minewatch_ledger_last_reload_success 1" {
		if time.Now().After(deadline) {
			t.Fatalf("fixed ledger not reloaded:\n%s", e.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l := e.metricLine(`minewatch_unit_info{unit="no1"`); !strings.Contains(l, "第一中学(改)") {
		t.Errorf("fixed ledger not in use: %q", l)
	}
	e.stop(syscall.SIGTERM)
}

// With ledger.allow_empty the operator says an empty ledger is intended.
func TestEmptyLedgerAllowedByConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ledger.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, dir, ledgerConfig+"  allow_empty: true\n  extra_internal: [10.0.0.0/8]\n")
	if l := e.metricLine("minewatch_ledger_units"); l != "minewatch_ledger_units 0" {
		t.Errorf("allowed empty ledger: %q", l)
	}
	e.stop(syscall.SIGTERM)
}

// At start an empty ledger stops the exporter with the reason (nothing to keep).
func TestEmptyLedgerRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ledger.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("listen: {http: \"127.0.0.1:1\", netflow: \"\", sflow: \"\"}\nledger: {files: [ledger.yaml]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exporterBin, "--config.file="+cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ledger is empty: no units") {
		t.Fatalf("empty ledger at start: err=%v output:\n%s", err, out)
	}
}
