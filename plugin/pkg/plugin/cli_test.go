package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

// cliRows runs the minewatch CLI and decodes its JSON output.
func cliRows(t *testing.T, bin string, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		ee, _ := err.(*exec.ExitError)
		t.Fatalf("minewatch %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rows
}

// normalise makes frame rows and CLI JSON rows comparable (JSON numbers).
func normalise(rows []map[string]any) []map[string]any {
	b, _ := json.Marshal(rows)
	var out []map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// TestCLIPrintsWhatThePluginShows runs `minewatch review`, `minewatch
// tracker` and `minewatch case` on the seeded VictoriaMetrics and compares
// every column with the datasource's frames.
func TestCLIPrintsWhatThePluginShows(t *testing.T) {
	vm := seededVM(t)
	bin := filepath.Join(t.TempDir(), "minewatch")
	if b, err := exec.Command("go", "build", "-o", bin, "../../../exporter/cmd/minewatch").CombinedOutput(); err != nil {
		t.Fatalf("go build minewatch: %v\n%s", err, b)
	}
	// The CLI and the datasource share one case store (the CLI through MINEWATCH_CASE_STORE).
	store, storePath := storetest.Campaign(t)
	t.Setenv("MINEWATCH_CASE_STORE", storePath)
	ds := newDS(t, vm.URL, fmt.Sprintf(`{"caseStore":%q}`, storePath))

	plugin := normalise(frameRows(t, run(t, ds, dataQuery("A", `{"queryType":"weekly_review","week":"2026-W45"}`, w45From, w45To, time.Minute)).Frames[0]))
	for _, r := range plugin { // the dashboards' link column is Grafana's alone (TestReviewUnitLinks)
		delete(r, campaign.UnitLinkKey)
	}
	cli := normalise(cliRows(t, bin, "review", "--week", "2026-W45", "--format", "json", "--url", vm.URL))
	if len(plugin) != 6 || !reflect.DeepEqual(plugin, cli) {
		t.Errorf("review differs:\nplugin %v\ncli    %v", plugin, cli)
	}

	from, to := w45From.Format(time.RFC3339), w45To.Format(time.RFC3339)
	plugin = normalise(frameRows(t, run(t, ds, dataQuery("A", `{"queryType":"tracker"}`, w45From, w45To, time.Minute)).Frames[0]))
	cli = normalise(cliRows(t, bin, "tracker", "--from", from, "--to", to, "--format", "json", "--url", vm.URL))
	if len(plugin) != 6 || !reflect.DeepEqual(plugin, cli) {
		t.Errorf("tracker differs:\nplugin %v\ncli    %v", plugin, cli)
	}
	cli = cliRows(t, bin, "tracker", "--from", from, "--to", to, "--state", "relapsed", "--unit", "u-d", "--format", "json", "--url", vm.URL)
	if len(cli) != 1 || cli[0]["ip"] != "10.4.0.1" || cli[0]["episodes"] != float64(3) {
		t.Errorf("tracker --state relapsed --unit u-d: %v", cli)
	}
	table, err := exec.Command(bin, "review", "--week", "2026-W45", "--url", vm.URL).Output()
	t.Logf("minewatch review --week 2026-W45:\n%s", table)
	if err != nil || !strings.Contains(string(table), "单位 unit") || !strings.Contains(string(table), "热电厂") {
		t.Errorf("table output: %v\n%s", err, table)
	}
	csv, err := exec.Command(bin, "review", "--week", "2026-W45", "--format", "csv", "--url", vm.URL).Output()
	if err != nil || !strings.HasPrefix(string(csv), "\ufeff单位 unit,单位名称 unit name,") || strings.Count(string(csv), "\n") != 7 {
		t.Errorf("csv output: %v\n%s", err, csv)
	}

	// A disposition recorded now for an IP mining now ends its overdue.
	recent := time.Now().Add(-4 * 24 * time.Hour).Truncate(time.Hour)
	var lines []string
	for tm := recent.Add(10 * time.Minute); tm.Before(time.Now()); tm = tm.Add(15 * time.Minute) {
		lines = append(lines, fmt.Sprintf(`minewatch_host_mining{ip="10.7.0.7",unit="u-c",class="active"} 1 %d`, tm.UnixMilli()))
	}
	vm.Import(t, lines)
	vm.Flush(t)
	now := time.Now().Add(time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	args := []string{"tracker", "--from", recent.Format(time.RFC3339), "--to", now, "--unit", "u-c", "--format", "json", "--url", vm.URL}
	before := cliRows(t, bin, args...)
	if len(before) != 1 || before[0]["locate_overdue"] != true || before[0]["report_overdue"] != true {
		t.Fatalf("before the disposition: %v", before)
	}
	if out, err := exec.Command(bin, "case", "reported", "10.7.0.7", "--class", "active", "--note", `宿舍 "矿机"`, "--url", vm.URL).CombinedOutput(); err != nil {
		t.Fatalf("minewatch case: %v\n%s", err, out)
	}
	vm.Flush(t)
	after := cliRows(t, bin, args...)
	if len(after) != 1 || after[0]["locate_overdue"] != false || after[0]["report_overdue"] != false ||
		after[0]["disposition"] != "reported" || after[0]["disposition_note"] != `宿舍 "矿机"` || after[0]["unit"] != "u-c" {
		t.Errorf("after the disposition: %v", after)
	}
	if out, err := exec.Command(bin, "case", "closed", "10.7.0.7", "--class", "bogus", "--url", vm.URL).CombinedOutput(); err == nil {
		t.Errorf("a bad class was accepted: %s", out)
	}
	// the CLI's record names the OS user as author, and the chain verifies
	ds7, err := store.Dispositions(context.Background(), campaign.Scope{Units: []string{"u-c"}}, recent, time.Now().Add(time.Hour))
	if me, _ := user.Current(); err != nil || len(ds7) != 1 || ds7[0].Author != me.Username || ds7[0].AuthorRole != "operator" {
		t.Errorf("CLI disposition in the store: %v %+v", err, ds7)
	}
	if out, err := exec.Command(bin, "case-verify").CombinedOutput(); err != nil || !strings.Contains(string(out), "verified") {
		t.Errorf("minewatch case-verify: %v %s", err, out)
	}
}
