package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"github.com/minewatch/minewatch/plugin/pkg/plugin"
)

// seeded are the metrics of the plugin's seeded campaign history (vmtest.Campaign).
var seeded = []string{"minewatch_host_mining", "minewatch_host_score", "minewatch_host_info", "minewatch_host_machines",
	"minewatch_pool_contacts_total", "minewatch_unit_info", "minewatch_case_disposition"}

// TestQueriesAgainstBackend runs every panel query of every dashboard through the
// plugin's backend on a real VictoriaMetrics holding the plugin's seeded campaign
// (week 2026-W45). No query may fail; the campaign query types and the MetricsQL
// queries over seeded metrics must return data.
func TestQueriesAgainstBackend(t *testing.T) {
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Flush(t)
	set, err := models.LoadSettings(vm.URL, []byte(`{"quietPeriod":"7d","locateDeadline":"48h","reportDeadline":"72h","timezone":"Asia/Shanghai","relapseLimit":2}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := plugin.New(set)
	if err != nil {
		t.Fatal(err)
	}
	ds.Now = func() time.Time { return vmtest.At(2026, 11, 12, 0, 0) }
	// The review week in Beijing time; the range ends while 10.1.0.2 is still mining.
	from, to := vmtest.At(2026, 11, 2, 0, 0), vmtest.At(2026, 11, 9, 0, 0)
	// The weekly review's unit, sector and district filters at All (every value: no filter
	// here); the unit dashboard's single unit u-a.
	vars := strings.NewReplacer(`["$unit"]`, `[]`, `["$sector"]`, `[]`, `["$district"]`, `[]`,
		"$week", "2026-W45", "$unit", "u-a", "$ip", "10.1.0.1")

	// What some panels must show for the seeded week.
	expect := map[string]struct{ has, hasNot []string }{
		UIDWeekly + ": 本周清零":    {has: []string{"10.2.0.1"}, hasNot: []string{"10.3.0.1", "10.1.0.2"}},
		UIDWeekly + ": 复发":      {has: []string{"10.2.0.2"}, hasNot: []string{"10.1.0.1"}},
		UIDIP + ": 资产与责任人":      {has: []string{"实验楼301 GPU工作站", "李老师"}},
		UIDIP + ": 矿池与币种（连接次数）": {has: []string{"xmr.pool.example:3333"}, hasNot: []string{"secret.pool.example"}},
		UIDUnit + ": IP清零台账":    {has: []string{"10.1.0.1", "10.1.0.2"}, hasNot: []string{"10.2.0.1"}},
	}
	n := 0
	dash := load(t)
	for uid, d := range dash {
		for _, p := range allPanels(d.Panels) {
			for _, raw := range p.Targets {
				q, err := decodeTarget(raw)
				if err != nil {
					t.Fatalf("%s: %v", p.Title, err)
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, raw); err != nil {
					t.Fatal(err)
				}
				js := []byte(vars.Replace(compact.String()))
				resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
					RefID: q.RefID, QueryType: q.QueryType, JSON: js, Interval: time.Hour, MaxDataPoints: 500,
					TimeRange: backend.TimeRange{From: from, To: to},
				}}})
				if err != nil {
					t.Fatalf("%s: %s: %v", uid, p.Title, err)
				}
				n++
				r := resp.Responses[q.RefID]
				where := uid + ": " + p.Title + " (" + q.QueryType + ")"
				if r.Error != nil {
					t.Errorf("%s: %v\nquery: %s", where, r.Error, js)
					continue
				}
				rows := 0
				for _, f := range r.Frames {
					if f.Rows() > 0 {
						rows += f.Rows()
					}
				}
				mustHaveData := q.QueryType != models.QueryMetricsQL
				if q.QueryType == models.QueryMetricsQL {
					mustHaveData = usesOnly(q.Expr, seeded)
				}
				if e, ok := expect[uid+": "+p.Title]; ok {
					b, _ := json.Marshal(r.Frames)
					for _, w := range e.has {
						if !strings.Contains(string(b), w) {
							t.Errorf("%s: lacks %s", where, w)
						}
					}
					for _, w := range e.hasNot {
						if strings.Contains(string(b), w) {
							t.Errorf("%s: shows %s", where, w)
						}
					}
					delete(expect, uid+": "+p.Title)
				}
				if q.QueryType == models.QueryWeeklyReview {
					checkUnitLinks(t, where, dash, r.Frames)
				}
				if mustHaveData && rows == 0 {
					b, _ := json.Marshal(r.Frames)
					t.Errorf("%s: no data from the seeded campaign\nquery: %s\nframes: %.300s", where, js, b)
				}
			}
		}
	}
	for k := range expect {
		t.Errorf("panel %s not found", k)
	}
	if n < 40 {
		t.Fatalf("only %d queries run", n)
	}
	t.Logf("%d panel queries answered by the plugin backend", n)
}

// usesOnly reports whether every minewatch metric in expr is one of names.
func usesOnly(expr string, names []string) bool {
	for _, f := range strings.FieldsFunc(expr, func(r rune) bool {
		return !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if !strings.HasPrefix(f, "minewatch") {
			continue
		}
		found := false
		for _, n := range names {
			found = found || f == n
		}
		if !found {
			return false
		}
	}
	return true
}

// checkUnitLinks: the weekly review's link column (campaign.UnitLinkKey, what the
// dashboards' unit links show) holds for every unit row a link to an existing
// dashboard that sets var-unit to that row's unit, and nothing for the total row,
// which Grafana then shows without a link.
func checkUnitLinks(t *testing.T, where string, ds map[string]*dashboard, frames data.Frames) {
	t.Helper()
	for _, fr := range frames {
		unit, _ := fr.FieldByName("unit")
		link, _ := fr.FieldByName(campaign.UnitLinkKey)
		if unit == nil || link == nil {
			t.Errorf("%s: frame %q lacks unit or %s", where, fr.Name, campaign.UnitLinkKey)
			continue
		}
		totals := 0
		for i := 0; i < fr.Rows(); i++ {
			u, l := unit.At(i).(string), link.At(i).(string)
			if u == campaign.TotalUnit {
				totals++
				if l != "" {
					t.Errorf("%s: the total row links to %q", where, l)
				}
				continue
			}
			q, err := checkDashLink(ds, l)
			if err != nil {
				t.Errorf("%s: unit %s: %v", where, u, err)
			} else if q.Get("var-unit") != u || q.Get("from") == "" || q.Get("to") == "" {
				t.Errorf("%s: unit %s links to %q", where, u, l)
			}
		}
		if totals != 1 {
			t.Errorf("%s: %d total rows", where, totals)
		}
	}
}
