package alerts

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

func testOptions() Options {
	return Options{
		Smarthost:   "127.0.0.1:2525",
		From:        "minewatch@edu.example.gov.cn",
		BureauEmail: "bureau@edu.example.gov.cn",
		GrafanaURL:  "http://grafana.example:3000/",
	}
}

func ledgerUnits(t *testing.T) []Unit {
	t.Helper()
	l, err := ledger.Load([]string{"testdata/ledger.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	units := LedgerUnits(l)
	if len(units) != 4 {
		t.Fatalf("read %d units, want 4", len(units))
	}
	return units
}

func renderTo(t *testing.T, units []Unit, o Options) string {
	t.Helper()
	r, err := Render(units, o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := r.WriteFiles(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRenderedConfigIsValid has amtool load the configuration and its templates.
func TestRenderedConfigIsValid(t *testing.T) {
	amtool := testsupport.Require(t, "amtool")
	path := renderTo(t, ledgerUnits(t), testOptions())
	out, err := exec.Command(amtool, "check-config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	for _, want := range []string{"Found:", "receivers", "templates", "SUCCESS"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("amtool output lacks %q:\n%s", want, out)
		}
	}
}

// TestRouting asks amtool which receivers get an alert with the given labels.
func TestRouting(t *testing.T) {
	amtool := testsupport.Require(t, "amtool")
	path := renderTo(t, ledgerUnits(t), testOptions())
	cases := []struct {
		labels []string
		want   []string
	}{
		{[]string{"alertname=MinewatchMiningIPNew", "unit=zd-no1-middle", "ip=10.20.3.21", "severity=critical"}, []string{"unit-zd-no1-middle"}},
		{[]string{"alertname=MinewatchMiningIPRelapsed", "unit=zd-no2-primary", "ip=10.30.0.5"}, []string{"unit-zd-no2-primary"}},
		// Overdue: the lead and a copy to the bureau.
		{[]string{"alertname=MinewatchInvestigationOverdue", "unit=zd-no1-middle", "ip=10.20.3.21", "escalate=bureau"}, []string{"bureau", "unit-zd-no1-middle"}},
		// A unit without a lead, an unknown unit and pipeline health reach the bureau.
		{[]string{"alertname=MinewatchMiningIPNew", "unit=zd-netcafe-7", "ip=10.70.0.3"}, []string{"bureau"}},
		{[]string{"alertname=MinewatchMiningIPNew", "unit=unassigned", "ip=192.0.2.9"}, []string{"bureau"}},
		{[]string{"alertname=MinewatchReportOverdue", "unit=unassigned", "ip=192.0.2.9", "escalate=bureau"}, []string{"bureau"}},
		{[]string{"alertname=MinewatchExporterDown", "instance=e1:9191"}, []string{"bureau"}},
	}
	for _, c := range cases {
		args := append([]string{"config", "routes", "test", "--config.file=" + path}, c.labels...)
		cmd := exec.Command(amtool, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool %v: %v\n%s%s", c.labels, err, out, stderr.String())
		}
		got := strings.Split(strings.TrimSpace(string(out)), ",")
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%v: receivers %v, want %v", c.labels, got, c.want)
		}
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	units := ledgerUnits(t)
	bad := []struct {
		name  string
		units []Unit
		opt   func(*Options)
	}{
		{"no smarthost", units, func(o *Options) { o.Smarthost = "" }},
		{"bad bureau", units, func(o *Options) { o.BureauEmail = "not an address" }},
		{"template in grafana url", units, func(o *Options) { o.GrafanaURL = "http://x/{{ . }}" }},
		{"relative grafana url", units, func(o *Options) { o.GrafanaURL = "/grafana" }},
		{"matcher injection in unit id", []Unit{{ID: `a",unit=~".*`, LeadEmail: "a@b.cn"}}, nil},
		{"duplicate unit", []Unit{{ID: "a", LeadEmail: "a@b.cn"}, {ID: "a", LeadEmail: "c@b.cn"}}, nil},
		{"template in a lead name", []Unit{{ID: "a", LeadName: "{{ .Alerts }}", LeadEmail: "a@b.cn"}}, nil},
		{"bad lead email", []Unit{{ID: "a", LeadEmail: "nobody"}}, nil},
	}
	for _, b := range bad {
		o := testOptions()
		if b.opt != nil {
			b.opt(&o)
		}
		if _, err := Render(b.units, o); err == nil {
			t.Errorf("%s: Render accepted it", b.name)
		}
	}
}
