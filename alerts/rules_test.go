package alerts

import (
	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/testsupport"

	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) map[string]ruleFile {
	t.Helper()
	paths, err := filepath.Glob("rules/*.yml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	out := map[string]ruleFile{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[p] = rf
	}
	return out
}

// TestPromtoolRuleTests runs the promtool unit tests of every rule file.
func TestPromtoolRuleTests(t *testing.T) {
	t.Parallel()
	promtool := testsupport.Require(t, "promtool")
	rules, _ := filepath.Glob("rules/*.yml")
	check := exec.Command(promtool, append([]string{"check", "rules"}, rules...)...)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	tests, _ := filepath.Glob("tests/*_test.yml")
	cmd := exec.Command(promtool, append([]string{"test", "rules"}, tests...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "SUCCESS"); n != len(tests) {
		t.Fatalf("want %d SUCCESS lines, got %d:\n%s", len(tests), n, out)
	}
	t.Logf("%s", out)
}

// TestVmalertAcceptsRules has the Debian vmalert parse the rules and their templates.
func TestVmalertAcceptsRules(t *testing.T) {
	t.Parallel()
	vmalert := testsupport.Require(t, "vmalert")
	out, err := exec.Command(vmalert, "-rule=rules/*.yml", "-dryRun", "-loggerLevel=ERROR").CombinedOutput()
	if err != nil {
		t.Fatalf("vmalert -dryRun: %v\n%s", err, out)
	}
}

// TestEveryAlertIsTested requires, for every alerting rule, a promtool case where it
// fires and one where it stays silent.
func TestEveryAlertIsTested(t *testing.T) {
	fires, silent := map[string]int{}, map[string]int{}
	tests, _ := filepath.Glob("tests/*_test.yml")
	for _, p := range tests {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string           `yaml:"alertname"`
					ExpAlerts []map[string]any `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(b, &tf); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname]++
				} else {
					silent[a.Alertname]++
				}
			}
		}
	}
	n := 0
	for file, rf := range loadRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				n++
				if fires[r.Alert] == 0 || silent[r.Alert] == 0 {
					t.Errorf("%s: alert %s has %d firing and %d silent promtool cases, want at least one of each", file, r.Alert, fires[r.Alert], silent[r.Alert])
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d alerting rules", n)
	}
}

// TestAlertLabelsAndAnnotations checks what routing and the email templates rely on.
func TestAlertLabelsAndAnnotations(t *testing.T) {
	han := regexp.MustCompile(`\p{Han}`)
	for file, rf := range loadRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				switch r.Labels["severity"] {
				case "critical", "warning", "info":
				default:
					t.Errorf("%s: %s: severity %q", file, r.Alert, r.Labels["severity"])
				}
				for _, k := range []string{"summary", "description"} {
					if !han.MatchString(r.Annotations[k]) {
						t.Errorf("%s: %s: annotation %s is not in Chinese: %q", file, r.Alert, k, r.Annotations[k])
					}
				}
				// Alerts about a host carry everything the email shows.
				if strings.Contains(r.Annotations["summary"], "$labels.ip") {
					for _, k := range []string{"reasons", "deadline", "report_deadline", "unit_name", "asset", "owner", "dashboard"} {
						if r.Annotations[k] == "" {
							t.Errorf("%s: %s: missing annotation %s", file, r.Alert, k)
						}
					}
					if !strings.HasPrefix(r.Annotations["dashboard"], "/d/minewatch-ip/") {
						t.Errorf("%s: %s: dashboard link %q is not the IP view", file, r.Alert, r.Annotations["dashboard"])
					}
				}
			}
		}
	}
}

// catalogue is the metric catalogue (exporter/names, which docs/metrics.md lists).
func catalogue(t *testing.T) map[string]bool {
	t.Helper()
	known := names.MetricNames()
	if len(known) < 10 {
		t.Fatalf("only %d metrics in the catalogue", len(known))
	}
	return known
}

// metricNames returns the metric names an expression selects.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names, nil
}

// templateQuery finds the PromQL inside annotation templates: (printf "…" …) and query "…".
var templateQuery = regexp.MustCompile(`query \(printf "((?:[^"\\]|\\.)*)"|query "((?:[^"\\]|\\.)*)"`)

// TestRulesUseCatalogueMetrics fails when a rule (expression or annotation query) names
// a metric that is neither in docs/metrics.md nor recorded by these rules.
func TestRulesUseCatalogueMetrics(t *testing.T) {
	known := catalogue(t)
	recorded := map[string]bool{}
	files := loadRules(t)
	for _, rf := range files {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
				}
			}
		}
	}
	used := map[string]bool{}
	for file, rf := range files {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				exprs := []string{r.Expr}
				for _, a := range r.Annotations {
					for _, m := range templateQuery.FindAllStringSubmatch(a, -1) {
						q := m[1] + m[2]
						q = strings.NewReplacer(`\"`, `"`, `%q`, `"x"`, `%d`, `1`, `%.0f`, `1`).Replace(q)
						exprs = append(exprs, q)
					}
				}
				for _, e := range exprs {
					names, err := metricNames(e)
					if err != nil {
						t.Errorf("%s: %s%s: %v in %q", file, r.Alert, r.Record, err, e)
						continue
					}
					for _, n := range names {
						used[n] = true
						if !known[n] && !recorded[n] {
							t.Errorf("%s: %s%s uses %s, which is not in docs/metrics.md", file, r.Alert, r.Record, n)
						}
					}
				}
			}
		}
	}
	var list []string
	for n := range used {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("metrics used by the rules: %v", list)
	if len(list) < 10 {
		t.Fatalf("only %d metric names found: the extraction is broken", len(list))
	}
}
