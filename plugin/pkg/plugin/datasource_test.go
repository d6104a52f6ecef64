package plugin

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

var (
	w45From  = vmtest.At(2026, 11, 2, 0, 0)
	w45To    = vmtest.At(2026, 11, 9, 0, 0)
	fixedNow = vmtest.At(2026, 11, 22, 12, 0)
)

func seededVM(t *testing.T) *vmtest.VM {
	t.Helper()
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Flush(t)
	return vm
}

func instanceSettings(url, jsonData string) backend.DataSourceInstanceSettings {
	return backend.DataSourceInstanceSettings{UID: "minewatch", Name: "minewatch", URL: url, JSONData: []byte(jsonData),
		DecryptedSecureJSONData: map[string]string{}}
}

func newDS(t *testing.T, url, jsonData string) *Datasource {
	t.Helper()
	inst, err := NewDatasource(context.Background(), instanceSettings(url, jsonData))
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*Datasource)
	ds.Now = func() time.Time { return fixedNow }
	if ds.Store == nil { // the seeded campaign's dispositions, in a real SQLite case store
		ds.Store, _ = storetest.Campaign(t)
		ds.Source.Dispositions = ds.Store
	}
	return ds
}

func dataQuery(refID, js string, from, to time.Time, interval time.Duration) backend.DataQuery {
	return backend.DataQuery{RefID: refID, JSON: json.RawMessage(js), TimeRange: backend.TimeRange{From: from, To: to}, Interval: interval}
}

func run(t *testing.T, ds *Datasource, q backend.DataQuery) backend.DataResponse {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Responses[q.RefID]
}

// checkGolden compares a response with testdata/<name>.golden.json
// (go test -update rewrites it).
func checkGolden(t *testing.T, name string, dr backend.DataResponse) {
	t.Helper()
	got, err := json.MarshalIndent(&dr, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	ga, _ := json.Marshal(a)
	gb, _ := json.Marshal(b)
	if string(ga) != string(gb) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

func TestQueryDataGolden(t *testing.T) {
	vm := seededVM(t)
	ds := newDS(t, vm.URL, `{}`)
	cases := []struct {
		name string
		q    backend.DataQuery
	}{
		{"tracker", dataQuery("A", `{"queryType":"tracker"}`, w45From, w45To, time.Minute)},
		{"tracker_overdue_relapsed", dataQuery("A", `{"queryType":"tracker","states":["relapsed"],"districts":["d-west","d-east"]}`, w45From, w45To, time.Minute)},
		{"weekly_review", dataQuery("A", `{"queryType":"weekly_review","week":"2026-W45"}`, w45From, fixedNow, time.Minute)},
		{"weekly_review_default_week", dataQuery("A", `{"queryType":"weekly_review","sectors":["school"]}`, w45From, w45To, time.Minute)},
		{"situation_district", dataQuery("A", `{"queryType":"situation","groupBy":"district"}`, vmtest.At(2026, 11, 5, 0, 0), vmtest.At(2026, 11, 5, 12, 0), time.Hour)},
		{"situation_unit", dataQuery("A", `{"queryType":"situation","groupBy":"unit","units":["u-a","u-b"]}`, vmtest.At(2026, 11, 5, 0, 0), vmtest.At(2026, 11, 5, 6, 0), time.Hour)},
		{"pools", dataQuery("A", `{"queryType":"pools"}`, w45From, w45To, time.Minute)},
		{"metricsql_table", dataQuery("A", `{"queryType":"metricsql","format":"table","expr":"max by (unit) (max_over_time(minewatch_host_score[7d]))"}`, w45From, w45To, time.Minute)},
		{"metricsql_series", dataQuery("A", `{"queryType":"metricsql","expr":"sum by (unit) (minewatch_host_mining)","legendFormat":"{{unit}}"}`, vmtest.At(2026, 11, 5, 0, 0), vmtest.At(2026, 11, 5, 3, 0), time.Hour)},
		{"variable_units", dataQuery("A", `{"queryType":"variable","variableKind":"units"}`, w45From, w45To, time.Minute)},
		{"variable_weeks", dataQuery("A", `{"queryType":"variable","variableKind":"weeks"}`, vmtest.At(2026, 10, 10, 0, 0), w45To, time.Minute)},
		{"bad_state", dataQuery("A", `{"queryType":"tracker","states":["gone"]}`, w45From, w45To, time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkGolden(t, c.name, run(t, ds, c.q))
		})
	}
}

// frameRows decodes a table frame into rows keyed by field name.
func frameRows(t *testing.T, fr *data.Frame) []map[string]any {
	t.Helper()
	n, _ := fr.RowLen()
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{}
		for _, f := range fr.Fields {
			v := f.At(i)
			if p, ok := v.(*time.Time); ok {
				if p == nil {
					v = nil
				} else {
					v = p.In(vmtest.CST).Format(time.RFC3339)
				}
			}
			rows[i][f.Name] = v
		}
	}
	return rows
}

func TestTrackerFrameValues(t *testing.T) {
	vm := seededVM(t)
	ds := newDS(t, vm.URL, `{}`)
	dr := run(t, ds, dataQuery("A", `{"queryType":"tracker"}`, w45From, w45To, time.Minute))
	if dr.Error != nil {
		t.Fatal(dr.Error)
	}
	fr := dr.Frames[0]
	if fr.Meta == nil || !strings.Contains(fr.Meta.ExecutedQueryString, "max_over_time(minewatch_host_mining[3600s])") {
		t.Errorf("ExecutedQueryString: %+v", fr.Meta)
	}
	if f, _ := fr.FieldByName("unit"); f == nil || f.Config.DisplayName != "单位 unit" {
		t.Errorf("unit field display name: %+v", f)
	}
	rows := frameRows(t, fr)
	type key struct{ ip, state string }
	got := map[key]bool{}
	for _, r := range rows {
		got[key{r["ip"].(string), r["state"].(string)}] = true
	}
	for _, k := range []key{{"10.1.0.1", "quiet"}, {"10.1.0.2", "mining"}, {"10.2.0.2", "relapsed"}, {"10.3.0.1", "quiet"}, {"10.4.0.1", "relapsed"}, {"10.9.0.1", "mining"}} {
		if !got[k] {
			t.Errorf("missing %v in %v", k, got)
		}
	}
	if len(rows) != 6 {
		t.Errorf("%d rows", len(rows))
	}
}

func TestHidePersons(t *testing.T) {
	vm := seededVM(t)
	ds := newDS(t, vm.URL, `{"hidePersons":true}`)
	for _, js := range []string{
		`{"queryType":"tracker"}`,
		`{"queryType":"metricsql","format":"table","expr":"last_over_time(minewatch_host_info[30d])"}`,
		`{"queryType":"metricsql","expr":"minewatch_host_info"}`,
	} {
		dr := run(t, ds, dataQuery("A", js, w45From, w45To, time.Hour))
		if dr.Error != nil {
			t.Fatal(dr.Error)
		}
		b, _ := json.Marshal(&dr)
		if strings.Contains(string(b), "李老师") || strings.Contains(string(b), "王处长") {
			t.Errorf("%s shows a person: %s", js, b)
		}
		if !strings.Contains(string(b), "10.1.0.1") {
			t.Errorf("%s lost the rows: %s", js, b)
		}
	}
}

func TestCheckHealth(t *testing.T) {
	vm := vmtest.Start(t)
	health := func(ds *Datasource) (*backend.CheckHealthResult, Health) {
		t.Helper()
		res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var h Health
		if err := json.Unmarshal(res.JSONDetails, &h); err != nil {
			t.Fatalf("details %s: %v", res.JSONDetails, err)
		}
		return res, h
	}
	// a real SQLite store and the app's ledger (two of five units with a lead email)
	_, storePath := storetest.Seeded(t, nil)
	ds := newDS(t, vm.URL, fmt.Sprintf(`{"scopeUnits":["u-a"],"caseStore":%q,"ledgerFiles":[%q],"bureauUsers":["wa@edu.example"]}`, storePath, appLedger(t)))
	res, h := health(ds)
	if res.Status != backend.HealthStatusOk || !h.VictoriaMetrics.OK || !h.CaseStore.OK || !h.CaseStore.Configured || h.CaseStore.Where != storePath ||
		!h.Ledger.OK || h.Ledger.Units != 5 || h.Ledger.Leads != 2 || h.BureauUsers != 1 || h.Scope != "限定 1 个单位 scoped to 1 units" {
		t.Fatalf("health %+v %+v", res, h)
	}
	if !strings.Contains(res.Message, "案件库可读写") || !strings.Contains(res.Message, "5 个单位，其中 2 个登记了负责人邮箱") {
		t.Errorf("message %q", res.Message)
	}
	// the store's connection gone: an error naming the store
	ds.Store.Close()
	if res, h = health(ds); res.Status != backend.HealthStatusError || h.CaseStore.OK || !strings.Contains(h.CaseStore.Message, "案件库读取失败") || !h.VictoriaMetrics.OK {
		t.Errorf("health with the store closed: %+v %+v", res, h)
	}
	// neither store nor ledger: said, not an error (the dashboards need neither)
	inst, err := NewDatasource(context.Background(), instanceSettings(vm.URL, `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if res, h = health(inst.(*Datasource)); res.Status != backend.HealthStatusOk || h.CaseStore.Configured || !strings.Contains(h.CaseStore.Message, "未配置案件库") ||
		h.Ledger.Configured || !strings.Contains(h.Ledger.Message, "未配置台账") {
		t.Errorf("health without store and ledger: %+v %+v", res, h)
	}
	// a prefix that does not serve the API (as a wrong vmauth path would) fails
	res, h = health(newDS(t, vm.URL+"/no-such-prefix", `{}`))
	if res.Status != backend.HealthStatusError || h.VictoriaMetrics.OK || !strings.Contains(h.VictoriaMetrics.Message, "VictoriaMetrics 查询失败") {
		t.Fatalf("health under a wrong prefix: %+v", res)
	}
}

// TestTrackerTakesPersonsFromTheLedger: with ledgerFiles set, device and
// person come from the asset ledger (the exporter keeps them out of its
// series by default), overriding minewatch_host_info; hidePersons still hides
// the person.
func TestTrackerTakesPersonsFromTheLedger(t *testing.T) {
	vm := seededVM(t)
	led := filepath.Join(t.TempDir(), "ledger.yaml")
	if err := os.WriteFile(led, []byte(`units:
  - {id: u-a, name: 一中, sector: school, lead: {name: 张老师, email: lead@u-a.example}, cidrs: [10.1.0.0/16]}
assets:
  - {ip: 10.1.0.2, unit: u-a, name: 机房B-07, kind: pc, location: 机房B, department: 教务处, owner: 赵老师}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		settings, want string
	}{
		{`{"ledgerFiles":[` + strconv.Quote(led) + `]}`, "赵老师"},
		{`{"ledgerFiles":[` + strconv.Quote(led) + `],"hidePersons":true}`, ""},
	} {
		ds := newDS(t, vm.URL, c.settings)
		dr := run(t, ds, dataQuery("A", `{"queryType":"tracker"}`, w45From, w45To, time.Minute))
		if dr.Error != nil {
			t.Fatal(dr.Error)
		}
		found := false
		for _, r := range frameRows(t, dr.Frames[0]) {
			if r["ip"] == "10.1.0.2" {
				found = true
				if r["person"] != c.want || r["location"] != "机房B" {
					t.Errorf("%s: 10.1.0.2 person %q location %q, want %q 机房B", c.settings, r["person"], r["location"], c.want)
				}
			}
		}
		if !found {
			t.Fatalf("%s: 10.1.0.2 not in the tracker", c.settings)
		}
	}
	if _, err := NewDatasource(context.Background(), instanceSettings(vm.URL, `{"ledgerFiles":["/nonexistent/ledger.yaml"]}`)); err == nil {
		t.Error("a missing ledger file was accepted")
	}
}
