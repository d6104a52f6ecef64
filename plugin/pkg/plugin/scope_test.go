package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
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
		`{"queryType":"annotations"}`,
		`{"queryType":"annotations","units":["u-x"]}`,
		`{"queryType":"annotations","ips":["10.9.0.1"]}`,
		`{"queryType":"metricsql","format":"table","expr":"max_over_time(minewatch_host_score{unit=\"u-x\"}[$__range])"}`,
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
		if strings.Contains(js, "u-x") || strings.Contains(js, "d-secret") || strings.Contains(js, "tracker") || strings.Contains(js, "pools") || strings.Contains(js, "annotations") {
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

// TestBlankScopeRefused: a scope with a blank entry is an error, never
// "all units" (it used to fail open).
func TestBlankScopeRefused(t *testing.T) {
	for _, jd := range []string{`{"scopeUnits":[""]}`, `{"scopeUnits":[" "]}`, `{"scopeUnits":["u-a",""]}`, `{"scopeUnits":["u-a"," \t"]}`} {
		if _, err := NewDatasource(context.Background(), instanceSettings("http://127.0.0.1:1", jd)); err == nil {
			t.Errorf("%s accepted", jd)
		}
	}
	for _, admin := range [][]string{{""}, {" "}, {"u-a", ""}} {
		if _, err := campaign.NewScope(admin, nil); err == nil {
			t.Errorf("NewScope(%q) accepted", admin)
		}
	}
	// an unset template variable still filters nothing inside the admin scope
	if sc, err := campaign.NewScope([]string{"u-a"}, []string{""}); err != nil || sc.All || len(sc.Units) != 1 {
		t.Errorf("empty filter in scope u-a: %+v %v", sc, err)
	}
}

// hiddenNames are the persons of the seeded ledger (and of the probe series).
var hiddenNames = []string{"李老师", "王处长"}

func showsPerson(b []byte) string {
	for _, n := range hiddenNames {
		if strings.Contains(string(b), n) {
			return n
		}
	}
	return ""
}

// TestHidePersonsProbes sends the queries that used to get around
// hidePersons — label_replace and label_join copying owner into another
// label, count/regex matchers testing whether a name exists, grouping and
// joins on owner — and checks that none returns a hidden value, and that a
// probe for an existing name answers exactly as one for a made-up name.
func TestHidePersonsProbes(t *testing.T) {
	vm := seededVM(t)
	// a series where a name sits in a non-person label too: blanked on the result
	vm.Import(t, []string{fmt.Sprintf(`minewatch_host_info{ip="10.1.0.9",unit="u-a",asset="王处长的电脑",owner="王处长"} 1 %d`, w45To.Add(-time.Hour).UnixMilli())})
	vm.Flush(t)
	hidden := newDS(t, vm.URL, `{"hidePersons":true}`)
	open := newDS(t, vm.URL, `{}`)
	q := func(expr string) string {
		b, _ := json.Marshal(map[string]string{"queryType": "metricsql", "format": "table", "expr": expr})
		return string(b)
	}
	probes := []string{
		`label_replace(last_over_time(minewatch_host_info[30d]), "x", "$1", "owner", "(.*)")`,
		`label_join(last_over_time(minewatch_host_info[30d]), "x", ",", "asset", "owner")`,
		`label_replace(last_over_time(minewatch_host_info[30d]), "ip", "$1", "owner", "(.*)")`,
		`count by (owner) (last_over_time(minewatch_host_info[30d]))`,
		`count_values("owner", last_over_time(minewatch_host_info[30d]))`,
		`last_over_time(minewatch_host_score[30d]) * on (ip) group_left (owner) last_over_time(minewatch_host_info[30d])`,
		`last_over_time(minewatch_host_info[30d])`,
		`last_over_time({__name__=~"minewatch_host_.+"}[30d])`,
		`WITH (x = minewatch_host_info) label_replace(x, "y", "$1", "owner", "(.*)")`,
	}
	for _, expr := range probes {
		dr := run(t, hidden, dataQuery("A", q(expr), w45From, w45To, time.Hour))
		if dr.Error != nil && dr.Status != backend.StatusBadRequest {
			t.Errorf("%s: error %v with status %d, want a 400 refusal or data", expr, dr.Error, dr.Status)
		}
		if n := showsPerson(dataJSON(dr)); n != "" {
			t.Errorf("hidePersons: %s shows %q: %s", expr, n, dataJSON(dr))
		}
	}
	// the check above can fail: without hidePersons the copies show the name
	if showsPerson(dataJSON(run(t, open, dataQuery("A", q(probes[0]), w45From, w45To, time.Hour)))) == "" {
		t.Error("the label_replace probe shows no person even without hidePersons: the test proves nothing")
	}
	// plain reads still return their rows, with persons (and values naming them) blanked
	dr := run(t, hidden, dataQuery("A", q(`last_over_time(minewatch_host_info[30d])`), w45From, w45To, time.Hour))
	if dr.Error != nil || !strings.Contains(string(dataJSON(dr)), "10.1.0.1") || !strings.Contains(string(dataJSON(dr)), "10.1.0.9") {
		t.Errorf("plain read lost its rows: %v %s", dr.Error, dataJSON(dr))
	}
	// the tracker hides the disposition's free text and author too (a note often names the person)
	note := func(ds *Datasource) any {
		for _, r := range frameRows(t, run(t, ds, dataQuery("A", `{"queryType":"tracker"}`, w45From, w45To, time.Hour)).Frames[0]) {
			if r["ip"] == "10.1.0.1" {
				return r["disposition_note"]
			}
		}
		return nil
	}
	if h, o := note(hidden), note(open); h != "" || o != "书面报告已提交" {
		t.Errorf("disposition note of 10.1.0.1: hidden %q, open %q", h, o)
	}
	// existence probes: a real name and a made-up one get the same answer
	for _, p := range []string{
		`count(last_over_time(minewatch_host_info{owner="%s"}[30d]))`,
		`count(last_over_time(minewatch_host_info{owner=~"%s.*"}[30d]))`,
		`absent(minewatch_host_info{owner="%s"})`,
		`count(last_over_time(minewatch_host_info[30d]) and on (owner) label_replace(vector(1), "owner", "%s", "", ""))`,
		`count(last_over_time(minewatch_host_info{asset=~".*%s.*"}[30d]))`,
		`count(label_replace(last_over_time(minewatch_host_info[30d]), "x", "y", "asset", "%s.*") and on (x) label_replace(vector(1), "x", "y", "", ""))`,
	} {
		real := run(t, hidden, dataQuery("A", q(fmt.Sprintf(p, "王处长")), w45From, w45To, time.Hour))
		fake := run(t, hidden, dataQuery("A", q(fmt.Sprintf(p, "张三丰")), w45From, w45To, time.Hour))
		rb, fb := dataJSON(real), dataJSON(fake)
		if real.Status != fake.Status || (real.Error == nil) != (fake.Error == nil) || string(rb) != string(fb) {
			t.Errorf("existence probe %q tells a real name from a made-up one:\nreal %d %v %s\nfake %d %v %s", p, real.Status, real.Error, rb, fake.Status, fake.Error, fb)
		}
		if n := showsPerson(rb); n != "" {
			t.Errorf("%q shows %q", p, n)
		}
	}
	// and without hidePersons the same probe does tell them apart (so the check can fail)
	p := q(`count(last_over_time(minewatch_host_info{owner="王处长"}[30d]))`)
	if string(dataJSON(run(t, open, dataQuery("A", p, w45From, w45To, time.Hour)))) ==
		string(dataJSON(run(t, open, dataQuery("A", strings.Replace(p, "王处长", "张三丰", 1), w45From, w45To, time.Hour)))) {
		t.Error("the count probe cannot tell a real name even without hidePersons: the test proves nothing")
	}
}
