package dashboards

import (
	"github.com/minewatch/minewatch/alerts"
	"github.com/minewatch/minewatch/exporter/names"

	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"github.com/minewatch/minewatch/plugin/pkg/plugin"
	"github.com/prometheus/prometheus/promql/parser"
)

// dashboard is the part of Grafana's dashboard JSON the checks look at.
type dashboard struct {
	File       string
	UID        string                    `json:"uid"`
	Title      string                    `json:"title"`
	Style      string                    `json:"style"`
	Panels     []panel                   `json:"panels"`
	Links      []dashLink                `json:"links"`
	Templating struct{ List []variable } `json:"templating"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	GridPos     struct{ X, Y, W, H int } `json:"gridPos"`
	Datasource  *dsRef                   `json:"datasource"`
	Targets     []json.RawMessage        `json:"targets"`
	Panels      []panel                  `json:"panels"` // collapsed rows
	FieldConfig struct {
		Defaults struct {
			Links []dashLink `json:"links"`
		} `json:"defaults"`
		Overrides []struct {
			Matcher struct {
				ID      string          `json:"id"`
				Options json.RawMessage `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
}

type dashLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *dsRef          `json:"datasource"`
	Query      json.RawMessage `json:"query"`
}

// target is a panel query: the plugin's query model plus the datasource reference
// Grafana stores with it. Unknown fields fail the decode.
type target struct {
	models.Query
	Datasource dsRef `json:"datasource"`
}

func decodeTarget(raw []byte) (target, error) {
	var t target
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&t)
	return t, err
}

func load(t *testing.T) map[string]*dashboard {
	t.Helper()
	names, err := fs.Glob(Files(), "*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no dashboards embedded: %v", err)
	}
	out := map[string]*dashboard{}
	for _, n := range names {
		b, err := fs.ReadFile(Files(), n)
		if err != nil {
			t.Fatal(err)
		}
		d := &dashboard{File: n}
		if err := json.Unmarshal(b, d); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if _, dup := out[d.UID]; dup {
			t.Fatalf("%s: uid %q used twice", n, d.UID)
		}
		out[d.UID] = d
	}
	return out
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

var han = regexp.MustCompile(`\p{Han}`)

func TestDashboardsAndTitles(t *testing.T) {
	ds := load(t)
	want := map[string]string{UIDWall: "挖矿态势大屏", UIDWeekly: "每周研判", UIDUnit: "单位详情", UIDIP: "IP详情", UIDExporter: "采集健康"}
	if len(ds) != len(want) {
		t.Errorf("%d dashboards, want %d", len(ds), len(want))
	}
	for uid, title := range want {
		d, ok := ds[uid]
		if !ok {
			t.Errorf("dashboard %s missing", uid)
			continue
		}
		if d.Title != title {
			t.Errorf("%s: title %q, want %q", uid, d.Title, title)
		}
		for _, p := range allPanels(d.Panels) {
			if !han.MatchString(p.Title) {
				t.Errorf("%s: panel %d title %q is not Chinese", uid, p.ID, p.Title)
			}
		}
	}
}

// catalogue is the metric catalogue (exporter/names, which docs/metrics.md lists)
// and the names recorded by the vmalert rules (dashboards may use both).
func catalogue(t *testing.T) map[string]bool {
	t.Helper()
	known := names.MetricNames()
	if len(known) < 10 {
		t.Fatalf("only %d metrics in the catalogue", len(known))
	}
	recorded, err := alerts.RecordedSeries()
	if err != nil {
		t.Fatal(err)
	}
	for r := range recorded {
		known[r] = true
	}
	return known
}

var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// exampleValue stands in for a template variable so that an expression can be parsed.
func exampleValue(name string) string {
	switch name {
	case "ip":
		return "10.20.3.21"
	case "unit":
		return "zd-no1-middle"
	case "week":
		return "2026-W47"
	case "__range", "__interval", "__rate_interval":
		return "1h"
	default:
		return "300"
	}
}

// TestEveryQuery decodes every query into the plugin's model and checks it against
// the plugin's query types, the provisioned datasource and the metric catalogue.
func TestEveryQuery(t *testing.T) {
	known := catalogue(t)
	types := map[string]bool{models.QueryTracker: true, models.QueryWeeklyReview: true, models.QuerySituation: true,
		models.QueryPools: true, models.QueryMetricsQL: true}
	states := map[string]bool{"mining": true, "quiet": true, "cleared": true, "relapsed": true}
	groupBy := map[string]bool{"": true, "unit": true, "sector": true, "district": true, "total": true}
	kinds := map[string]bool{models.VariableUnits: true, models.VariableSectors: true, models.VariableDistricts: true,
		models.VariableWeeks: true, models.VariableIPs: true}
	week := regexp.MustCompile(`^(|\$week|\d{4}-W\d{2})$`)
	counts := map[string]int{}
	used := map[string]bool{}
	for uid, d := range load(t) {
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
			if v.Type != "query" {
				continue
			}
			if v.Datasource == nil || v.Datasource.UID != DatasourceUID || v.Datasource.Type != models.PluginID {
				t.Errorf("%s: variable %s: datasource %+v", uid, v.Name, v.Datasource)
			}
			q, err := decodeTarget(v.Query)
			if err != nil {
				t.Errorf("%s: variable %s: %v", uid, v.Name, err)
				continue
			}
			if q.QueryType != models.QueryVariable || !kinds[q.VariableKind] {
				t.Errorf("%s: variable %s: queryType %q kind %q", uid, v.Name, q.QueryType, q.VariableKind)
			}
			counts["variable"]++
		}
		for _, p := range allPanels(d.Panels) {
			if p.Type == "row" {
				continue
			}
			where := uid + ": panel " + p.Title
			if p.Datasource == nil || p.Datasource.UID != DatasourceUID || p.Datasource.Type != models.PluginID {
				t.Errorf("%s: panel datasource %+v, want uid %s", where, p.Datasource, DatasourceUID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no queries", where)
			}
			for _, raw := range p.Targets {
				q, err := decodeTarget(raw)
				if err != nil {
					t.Errorf("%s: query does not decode into the plugin's model: %v\n%s", where, err, raw)
					continue
				}
				if q.Datasource.UID != DatasourceUID || q.Datasource.Type != models.PluginID {
					t.Errorf("%s/%s: datasource %+v", where, q.RefID, q.Datasource)
				}
				if q.RefID == "" || !types[q.QueryType] {
					t.Errorf("%s: refId %q, queryType %q", where, q.RefID, q.QueryType)
				}
				counts[q.QueryType]++
				for _, s := range q.States {
					if !states[s] {
						t.Errorf("%s: state %q", where, s)
					}
				}
				if !groupBy[q.GroupBy] {
					t.Errorf("%s: groupBy %q", where, q.GroupBy)
				}
				if !week.MatchString(q.Week) {
					t.Errorf("%s: week %q", where, q.Week)
				}
				if q.Format != "table" && q.Format != "time_series" {
					t.Errorf("%s: format %q", where, q.Format)
				}
				for _, m := range varRef.FindAllStringSubmatch(string(raw), -1) {
					if !strings.HasPrefix(m[1], "__") && !vars[m[1]] {
						t.Errorf("%s: uses $%s, which the dashboard does not define", where, m[1])
					}
				}
				if q.QueryType != models.QueryMetricsQL {
					if q.Expr != "" {
						t.Errorf("%s: %s query with an expr", where, q.QueryType)
					}
					continue
				}
				expr := varRef.ReplaceAllStringFunc(q.Expr, func(s string) string {
					return exampleValue(strings.TrimLeft(s, "${"))
				})
				e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
				if err != nil {
					t.Errorf("%s: %q: %v", where, q.Expr, err)
					continue
				}
				parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok {
						used[vs.Name] = true
						if !known[vs.Name] {
							t.Errorf("%s: metric %s is not in docs/metrics.md nor recorded by alerts/rules", where, vs.Name)
						}
					}
					return nil
				})
			}
		}
	}
	t.Logf("queries by type: %v", counts)
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("metrics used: %v", names)
	for _, qt := range []string{"tracker", "weekly_review", "situation", "pools", "metricsql", "variable"} {
		if counts[qt] == 0 {
			t.Errorf("no %s query in any dashboard", qt)
		}
	}
}

// TestLayout: panels stay inside the 24-column grid and do not overlap; the
// dashboards meant for one screen (the wall, watched from across the room; the
// exporter's health, read at a glance) fit 1920×1080 without scrolling.
func TestLayout(t *testing.T) {
	for uid, d := range load(t) {
		ps := allPanels(d.Panels)
		for i, p := range ps {
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("%s: panel %q outside the grid: %+v", uid, p.Title, g)
			}
			for _, q := range ps[i+1:] {
				h := q.GridPos
				if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
					t.Errorf("%s: panels %q and %q overlap", uid, p.Title, q.Title)
				}
			}
		}
	}
	wall := load(t)[UIDWall]
	if wall.Style != "dark" {
		t.Errorf("wall screen style %q, want dark", wall.Style)
	}
	// A grid unit is 30 px plus an 8 px margin. 24 units (912 px) leave room for
	// Grafana's top bar and time controls (about 120 px) on a 1080 px screen;
	// kiosk mode needs neither.
	const rows = 24
	for _, uid := range []string{UIDWall, UIDExporter} {
		for _, p := range allPanels(load(t)[uid].Panels) {
			if p.Type == "row" {
				t.Errorf("%s has a row %q: rows collapse and scroll", uid, p.Title)
			}
			if p.GridPos.Y+p.GridPos.H > rows {
				t.Errorf("%s: panel %q ends at grid row %d, below the %d rows that fit 1080 px", uid, p.Title, p.GridPos.Y+p.GridPos.H, rows)
			}
		}
	}
	var titles []string
	for _, p := range wall.Panels {
		titles = append(titles, p.Title)
	}
	all := strings.Join(titles, " ")
	for _, want := range []string{"当前挖矿IP", "本周新增", "本周清零", "清零率", "趋势", "单位排名", "辖区排名", "超期", "矿池", "币种", "功耗"} {
		if !strings.Contains(all, want) {
			t.Errorf("wall screen lacks a %s panel (titles: %s)", want, all)
		}
	}
}

var dashPath = regexp.MustCompile(`^/d/([A-Za-z0-9_-]+)(/[^?]*)?(\?.*)?$`)

// checkDashLink: raw is a path to an existing dashboard that sets only variables
// it defines; the query of the link is returned.
func checkDashLink(ds map[string]*dashboard, raw string) (url.Values, error) {
	m := dashPath.FindStringSubmatch(raw)
	if m == nil {
		return nil, fmt.Errorf("link %q is not a dashboard path", raw)
	}
	target, ok := ds[m[1]]
	if !ok {
		return nil, fmt.Errorf("link to unknown dashboard %q", m[1])
	}
	q, err := url.ParseQuery(strings.TrimPrefix(m[3], "?"))
	if err != nil {
		return nil, fmt.Errorf("%q: %v", raw, err)
	}
	vars := map[string]bool{}
	for _, v := range target.Templating.List {
		vars[v.Name] = true
	}
	for k := range q {
		if name, ok := strings.CutPrefix(k, "var-"); ok && !vars[name] {
			return nil, fmt.Errorf("link sets var-%s, which %s does not define", name, target.UID)
		}
	}
	return q, nil
}

// unitLinkField is the data link of the weekly review's 详情 column: the cell's
// own raw value, the URL the backend put in its unit_url column (empty for the
// total row, which Grafana 12 then shows without a link). Raw: not through the
// field's value mapping (${__data.fields.unit_url} would give its text, 单位详情),
// not URI-encoded (a data link's default). TestQueriesAgainstBackend checks the
// URLs themselves.
const unitLinkField = "${__value.raw:raw}"

// TestLinks: every link to a dashboard names an existing uid and only its variables;
// the case tables link their rows to the IP view. A weekly review table links its
// units through unitLinkField on the unit_url column only: a link that builds
// var-unit from a cell (${__value.raw}, ${__data.fields.unit}) gives the total row
// (合计) a link to a unit called "total".
func TestLinks(t *testing.T) {
	ds := load(t)
	check := func(where, raw string) {
		if _, err := checkDashLink(ds, raw); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
	if !strings.HasPrefix(plugin.UnitDashboardPath, "/d/"+UIDUnit+"/") {
		t.Errorf("the backend's unit links go to %s, not the unit dashboard %s", plugin.UnitDashboardPath, UIDUnit)
	}
	// The alert emails link here too (annotation `dashboard` of alerts/rules).
	rules, _ := filepath.Glob("../alerts/rules/*.yml")
	alertLinks := 0
	for _, f := range rules {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`dashboard: (?:&\w+ )?'([^']+)'`).FindAllStringSubmatch(string(b), -1) {
			alertLinks++
			check(filepath.Base(f)+": alert link", regexp.MustCompile(`\{\{[^}]*\}\}`).ReplaceAllString(m[1], "x"))
		}
	}
	if alertLinks < 2 {
		t.Errorf("found only %d dashboard links in the alert rules", alertLinks)
	}
	ipLinks := 0
	for uid, d := range ds {
		for _, l := range d.Links {
			check(uid+": dashboard link", l.URL)
		}
		for _, p := range allPanels(d.Panels) {
			var links []dashLink
			links = append(links, p.FieldConfig.Defaults.Links...)
			onUnitURL := map[string]bool{} // links of an override of the unit_url column alone
			for _, o := range p.FieldConfig.Overrides {
				for _, prop := range o.Properties {
					if prop.ID != "links" {
						continue
					}
					var ls []dashLink
					if err := json.Unmarshal(prop.Value, &ls); err != nil {
						t.Errorf("%s: %q: links: %v", uid, p.Title, err)
					}
					links = append(links, ls...)
					if o.Matcher.ID == "byNames" && string(o.Matcher.Options) != "" {
						var m struct{ Names []string }
						if json.Unmarshal(o.Matcher.Options, &m) == nil && len(m.Names) == 1 && m.Names[0] == campaign.UnitLinkKey {
							for _, l := range ls {
								onUnitURL[l.URL] = true
							}
						}
					}
				}
			}
			review := false
			for _, raw := range p.Targets {
				if q, err := decodeTarget(raw); err == nil && q.QueryType == models.QueryWeeklyReview {
					review = true
				}
			}
			hasIP := false
			for _, l := range links {
				if review && l.URL == unitLinkField {
					if !onUnitURL[l.URL] {
						t.Errorf("%s: %q: link %s on a column other than %s alone", uid, p.Title, l.URL, campaign.UnitLinkKey)
					}
					continue
				}
				if review && strings.Contains(l.URL, "var-unit=${") {
					t.Errorf("%s: %q: link %q gives the total row a link to a unit called %q; use %s", uid, p.Title, l.URL, "total", unitLinkField)
				}
				check(uid+": panel "+p.Title, l.URL)
				if strings.HasPrefix(l.URL, "/d/"+UIDIP+"/") {
					hasIP = true
					ipLinks++
				}
			}
			for _, raw := range p.Targets {
				if q, err := decodeTarget(raw); err == nil && q.QueryType == models.QueryTracker && !hasIP {
					t.Errorf("%s: tracker table %q has no data link to the IP view", uid, p.Title)
				}
			}
		}
	}
	if ipLinks < 4 {
		t.Errorf("only %d links to the IP view", ipLinks)
	}
}

// TestSignalLabelsFromNames: a panel that maps signal ids to words uses the
// words exporter/names gives them (Chinese first, the id after), for every
// signal: the dashboards hold a copy, this keeps it the owner's.
func TestSignalLabelsFromNames(t *testing.T) {
	b, err := os.ReadFile("ip.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title       string `json:"title"`
			FieldConfig struct {
				Overrides []struct {
					Matcher struct {
						ID      string          `json:"id"`
						Options json.RawMessage `json:"options"`
					} `json:"matcher"`
					Properties []struct {
						ID    string          `json:"id"`
						Value json.RawMessage `json:"value"`
					} `json:"properties"`
				} `json:"overrides"`
			} `json:"fieldConfig"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range d.Panels {
		for _, o := range p.FieldConfig.Overrides {
			if o.Matcher.ID != "byName" || string(o.Matcher.Options) != `"signal"` {
				continue
			}
			for _, pr := range o.Properties {
				if pr.ID != "mappings" {
					continue
				}
				var m []struct {
					Options map[string]struct {
						Text string `json:"text"`
					} `json:"options"`
				}
				if err := json.Unmarshal(pr.Value, &m); err != nil || len(m) != 1 {
					t.Fatalf("%s: signal mappings: %v", p.Title, err)
				}
				found++
				if len(m[0].Options) != len(names.Signals()) {
					t.Errorf("%s maps %d signals, exporter/names has %d", p.Title, len(m[0].Options), len(names.Signals()))
				}
				for _, s := range names.Signals() {
					if got, want := m[0].Options[s.ID].Text, s.Zh+" "+s.ID; got != want {
						t.Errorf("%s: signal %s shown as %q, want %q", p.Title, s.ID, got, want)
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no panel of ip.json maps the signal ids")
	}
}
