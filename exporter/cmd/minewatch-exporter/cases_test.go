package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

// TestCaseStoreViewOnMetrics: with cases.store set, the exporter serves the
// store's dispositions as minewatch_case_disposition (no note), which is
// what vmalert's deadline rules read; a disposition recorded while it runs
// shows on the next scrape; a store path that does not exist stops start-up.
func TestCaseStoreViewOnMetrics(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	st, path := storetest.Seeded(t, []vmtest.Disposal{{IP: "10.20.3.21", Unit: "no1", Stage: "located", Class: "active", Note: "李老师的工作站", At: at}})
	e := startExporter(t, dir, ledgerConfig+"cases:\n  store: "+path+"\n")
	line := e.waitMetric("minewatch_case_disposition{")
	want := `minewatch_case_disposition{ip="10.20.3.21",unit="no1",stage="located",class="active"} ` + itoa(at.Unix())
	if line != want {
		t.Fatalf("got %q, want %q", line, want)
	}
	if _, body := e.get("/metrics"); strings.Contains(body, "李老师的工作站") {
		t.Error("a disposition note reached /metrics")
	}
	storetest.Record(t, st, []vmtest.Disposal{{IP: "10.20.3.21", Unit: "no1", Stage: "reported", Class: "active", At: at.Add(time.Minute)}})
	e.waitMetric(`minewatch_case_disposition{ip="10.20.3.21",unit="no1",stage="reported"`)

	out, err := runBinary("--config.file=" + writeConfig(t, ledgerConfig+"cases:\n  store: missing.db\n"))
	if err == nil || !strings.Contains(out, "cases.store") {
		t.Fatalf("a missing case store did not stop start-up (err %v):\n%s", err, out)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// writeConfig writes cfg (with %d for the HTTP then the NetFlow port, free
// ones) and a ledger into a new directory and returns the config's path.
func writeConfig(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, _ := writeConfigIn(t, dir, cfg)
	return p
}
