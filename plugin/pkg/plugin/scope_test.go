package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// secrets are strings only unit u-x's series carry.
var secrets = []string{"u-x", "10.9.0.1", "保密", "王处长", "secret.pool", "d-secret"}

// dataJSON is a response without the parts that echo the user's own query
// text (executed query string, error message): what is left is data.
func dataJSON(dr backend.DataResponse) []byte {
	dr.Error = nil
	for _, fr := range dr.Frames {
		if fr.Meta != nil {
			fr.Meta.ExecutedQueryString = ""
		}
	}
	b, _ := json.Marshal(&dr)
	return b
}

func leaks(b []byte) string {
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			return s
		}
	}
	return ""
}

type collect struct{ resp *backend.CallResourceResponse }

func (c *collect) Send(r *backend.CallResourceResponse) error { c.resp = r; return nil }

func callResource(t *testing.T, ds *Datasource, path, rawQuery string) *backend.CallResourceResponse {
	t.Helper()
	var c collect
	url := path
	if rawQuery != "" {
		url += "?" + rawQuery
	}
	if err := ds.CallResource(context.Background(), &backend.CallResourceRequest{Method: http.MethodGet, Path: path, URL: url}, &c); err != nil {
		t.Fatal(err)
	}
	return c.resp
}

// TestScopedDatasourceNeverShowsOtherUnits runs every path of a datasource
// scoped to u-a and u-d over data that includes u-x, including attempts to
// ask for u-x directly, by sector, by district and by hand-written queries.
func TestScopedDatasourceNeverShowsOtherUnits(t *testing.T) {
	vm := seededVM(t)
	ds := newDS(t, vm.URL, `{"scopeUnits":["u-a","u-d"]}`)
	unscoped := newDS(t, vm.URL, `{}`)
	queries := []string{
		`{"queryType":"tracker"}`,
		`{"queryType":"tracker","units":["u-x"]}`,
		`{"queryType":"tracker","districts":["d-secret"]}`,
		`{"queryType":"weekly_review","week":"2026-W45"}`,
		`{"queryType":"weekly_review","week":"2026-W45","sectors":["government"]}`,
		`{"queryType":"situation","groupBy":"unit"}`,
		`{"queryType":"situation","groupBy":"district"}`,
		`{"queryType":"situation","groupBy":"total","units":["u-x"]}`,
		`{"queryType":"pools"}`,
		`{"queryType":"metricsql","expr":"minewatch_host_mining"}`,
		`{"queryType":"metricsql","format":"table","expr":"last_over_time({__name__=~\"minewatch_.+\"}[30d])"}`,
		`{"queryType":"metricsql","format":"table","expr":"last_over_time(minewatch_host_info{unit=\"u-x\"}[30d])"}`,
		`{"queryType":"metricsql","format":"table","expr":"label_replace(last_over_time(minewatch_host_info[30d]), \"unit\", \"u-x\", \"unit\", \".*\")"}`,
		`{"queryType":"metricsql","format":"table","expr":"max_over_time(minewatch_host_score{unit=~\"u-x|u-a\"}[7d:1h])"}`,
		`{"queryType":"variable","variableKind":"units"}`,
		`{"queryType":"variable","variableKind":"sectors"}`,
		`{"queryType":"variable","variableKind":"districts"}`,
		`{"queryType":"variable","variableKind":"ips"}`,
	}
	for _, js := range queries {
		dr := run(t, ds, dataQuery("A", js, w45From, w45To, time.Hour))
		b := dataJSON(dr)
		if s := leaks(b); s != "" {
			t.Errorf("scoped %s leaks %q: %s", js, s, b)
		}
		// the same query unscoped does see u-x where it asks for data, so the check above can fail
		if strings.Contains(js, "situation") {
			// counts carry no ids: the scoped total over u-x must be empty
			if strings.Contains(js, `"u-x"`) {
				for _, fr := range dr.Frames {
					if n, _ := fr.RowLen(); n > 0 {
						t.Errorf("scoped %s returned %d points", js, n)
					}
				}
			}
			continue
		}
		if strings.Contains(js, "u-x") || strings.Contains(js, "d-secret") || strings.Contains(js, "tracker") || strings.Contains(js, "pools") {
			ub := dataJSON(run(t, unscoped, dataQuery("A", js, w45From, w45To, time.Hour)))
			if leaks(ub) == "" {
				t.Errorf("unscoped %s does not show u-x either: the leak check proves nothing: %s", js, ub)
			}
		}
	}
	// scoped rows are still there
	b, _ := json.Marshal(run(t, ds, dataQuery("A", `{"queryType":"tracker"}`, w45From, w45To, time.Hour)))
	if !strings.Contains(string(b), "10.1.0.1") || !strings.Contains(string(b), "10.4.0.1") || strings.Contains(string(b), "10.2.0.2") {
		t.Errorf("scoped tracker: %s", b)
	}
	// MetricsQL-only syntax cannot be confined, so it is refused
	dr := run(t, ds, dataQuery("A", `{"queryType":"metricsql","expr":"WITH (x = minewatch_host_mining) x"}`, w45From, w45To, time.Hour))
	if dr.Error == nil || dr.Status != backend.StatusBadRequest {
		t.Errorf("WITH on a scoped datasource: %+v", dr)
	}
	for _, res := range [][2]string{{"units", ""}, {"variables", "kind=units"}, {"variables", "kind=districts"}, {"variables", "kind=ips"}, {"variables", "kind=units&unit=u-x"}} {
		r := callResource(t, ds, res[0], res[1])
		if r.Status != 200 || leaks(r.Body) != "" {
			t.Errorf("resource %s?%s: %d %s", res[0], res[1], r.Status, r.Body)
		}
	}
	r := callResource(t, unscoped, "units", "")
	if leaks(r.Body) == "" {
		t.Errorf("unscoped units resource does not show u-x: %s", r.Body)
	}
	r = callResource(t, ds, "units", "")
	if !strings.Contains(string(r.Body), "u-a") || !strings.Contains(string(r.Body), "热电厂") {
		t.Errorf("scoped units resource: %s", r.Body)
	}
}

// TestInjectionThroughVariables sends template-variable values crafted to
// break out of a label matcher; each must be an error or nothing.
func TestInjectionThroughVariables(t *testing.T) {
	vm := seededVM(t)
	for _, jd := range []string{`{"scopeUnits":["u-a"]}`, `{}`} {
		ds := newDS(t, vm.URL, jd)
		for _, js := range []string{
			`{"queryType":"tracker","units":["u-a\"} or vector(1) or {x=\""]}`,
			`{"queryType":"tracker","units":["u-a|u-x"]}`,
			`{"queryType":"tracker","units":["u-.*"]}`,
			`{"queryType":"weekly_review","week":"2026-W45\"} or vector(1)","units":["u-a"]}`,
			`{"queryType":"situation","units":["u-a\"}) or (minewatch_host_mining"]}`,
			`{"queryType":"pools","units":["u-a\n"]}`,
			`{"queryType":"variable","variableKind":"ips","units":["u-a' or '1'='1"]}`,
			`{"queryType":"tracker","sectors":["school\"} or vector(1) or {x=\""],"districts":[".*"]}`,
			`{"queryType":"situation","groupBy":"unit) or vector(1"}`,
		} {
			dr := run(t, ds, dataQuery("A", js, w45From, w45To, time.Hour))
			b := dataJSON(dr)
			if dr.Error == nil {
				// no error: then it must be empty
				for _, fr := range dr.Frames {
					if n, _ := fr.RowLen(); n > 0 {
						t.Errorf("%s %s returned data: %s", jd, js, b)
					}
				}
			} else if dr.Status != backend.StatusBadRequest {
				t.Errorf("%s %s: error %v with status %d, want 400", jd, js, dr.Error, dr.Status)
			}
			if s := leaks(b); s != "" {
				t.Errorf("%s %s leaks %q", jd, js, s)
			}
		}
		r := callResource(t, ds, "variables", "kind=units&unit=u-a%22%7D%20or%20vector(1)")
		if r.Status != http.StatusBadRequest {
			t.Errorf("resource injection: %d %s", r.Status, r.Body)
		}
	}
	// a scope that is itself malformed never gets an instance
	if _, err := NewDatasource(context.Background(), instanceSettings(vm.URL, `{"scopeUnits":["u-a\"} or {"]}`)); err == nil {
		t.Error("malformed scopeUnits accepted")
	}
	_ = vmtest.CST
}
