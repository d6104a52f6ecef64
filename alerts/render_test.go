package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/testsupport"
	"gopkg.in/yaml.v3"
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

// TestWeComReceiverIsValid: with WeCom set every receiver also sends to
// 企业微信, and amtool loads the configuration.
func TestWeComReceiverIsValid(t *testing.T) {
	amtool := testsupport.Require(t, "amtool")
	o := testOptions()
	o.WeCom = &WeCom{CorpID: "ww0123456789abcdef", AgentID: "1000002", APISecret: "s3cret", ToParty: "2"}
	path := renderTo(t, ledgerUnits(t), o)
	if out, err := exec.Command(amtool, "check-config", path).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "wechat_configs:"); n != strings.Count(string(b), "email_configs:") || n == 0 {
		t.Errorf("%d wechat_configs for %d email_configs", n, strings.Count(string(b), "email_configs:"))
	}
	o.WeCom.ToParty = ""
	if _, err := Render(ledgerUnits(t), o); err == nil {
		t.Error("WeCom without a party or user accepted")
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

// TestSMTPPasswordNeverInTheConfig: the password goes to a file of its own
// (smtp_auth_password_file), amtool accepts the result, and every file a
// render writes has mode 0600, also when it replaces a 0644 file.
func TestSMTPPasswordNeverInTheConfig(t *testing.T) {
	const secret = "s3cret-密码"
	o := testOptions()
	o.Username, o.Password = "minewatch", secret
	dir := t.TempDir()
	path := filepath.Join(dir, "alertmanager.yml")
	for _, f := range []string{path, filepath.Join(dir, TemplateFile), filepath.Join(dir, PasswordFileName)} {
		if err := os.WriteFile(f, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	r, err := Render(ledgerUnits(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFiles(path); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), secret) || strings.Contains(string(cfg), "smtp_auth_password:") {
		t.Errorf("the configuration holds the password:\n%s", cfg)
	}
	pwFile := filepath.Join(dir, PasswordFileName)
	var parsed struct {
		Global map[string]any `yaml:"global"`
	}
	if err := yaml.Unmarshal(cfg, &parsed); err != nil || parsed.Global["smtp_auth_password_file"] != pwFile {
		t.Errorf("the configuration does not name %s (%v):\n%s", pwFile, err, cfg)
	}
	if b, err := os.ReadFile(pwFile); err != nil || string(b) != secret {
		t.Errorf("password file: %q %v", b, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("%d files left in the directory, want 3 (no temporary files): %v", len(entries), entries)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	amtool := testsupport.Require(t, "amtool")
	if out, err := exec.Command(amtool, "check-config", path).CombinedOutput(); err != nil {
		t.Errorf("amtool check-config: %v\n%s", err, out)
	}

	// A password file the operator manages is named as given, and nothing is written for it.
	o.Password, o.PasswordFile = "", "/etc/alertmanager/smtp-password"
	r, err = Render(ledgerUnits(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Password != nil || !strings.Contains(string(r.Config), "smtp_auth_password_file: /etc/alertmanager/smtp-password\n") || strings.Contains(string(r.Config), passwordPlaceholder) {
		t.Errorf("operator's password file: %q\n%s", r.Password, r.Config)
	}
	o.PasswordFile = "relative/pw"
	if _, err := Render(ledgerUnits(t), o); err == nil {
		t.Error("a relative password file was accepted")
	}
}
