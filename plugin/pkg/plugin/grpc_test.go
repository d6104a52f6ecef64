package plugin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc"

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"github.com/minewatch/minewatch/plugin/pkg/plugintest"
)

func pluginContext(url, jsonData string) backend.PluginContext {
	s := instanceSettings(url, jsonData)
	return backend.PluginContext{PluginID: models.PluginID, OrgID: 1, DataSourceInstanceSettings: &s}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func reviewCounts(t *testing.T, resp *backend.QueryDataResponse) map[string]map[string]any {
	t.Helper()
	dr := resp.Responses["A"]
	if dr.Error != nil || len(dr.Frames) != 1 {
		t.Fatalf("response %+v", dr)
	}
	out := map[string]map[string]any{}
	for _, r := range frameRows(t, dr.Frames[0]) {
		out[r["unit"].(string)] = r
	}
	return out
}

// TestDatasourceTestHarness serves the datasource through the SDK's gRPC
// test harness and calls it as Grafana would.
func TestDatasourceTestHarness(t *testing.T) {
	vm := seededVM(t)
	tp, err := datasourcetest.Manage(NewDatasource, datasourcetest.ManageOpts{Address: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, storePath := storetest.Campaign(t)
	pc := pluginContext(vm.URL, fmt.Sprintf(`{"scopeUnits":["u-b","u-d"],"caseStore":%q}`, storePath))
	resp, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
		dataQuery("A", `{"queryType":"weekly_review","week":"2026-W45"}`, w45From, w45To, time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	rows := reviewCounts(t, resp)
	if len(rows) != 3 || rows["u-b"]["relapsed"] != int64(1) || rows["u-b"]["cleared"] != int64(1) ||
		rows["u-d"]["relapses_365d"] != int64(2) || rows["u-d"]["repeated_relapse"] != true || rows["total"]["overdue"] != int64(1) {
		t.Errorf("review over gRPC: %v", rows)
	}
	h, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
	if err != nil || h.Status != backend.HealthStatusOk {
		t.Errorf("health %+v %v", h, err)
	}
	var c collect
	if err := tp.Client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Method: "GET", Path: "variables", URL: "variables?kind=units"}, &c); err != nil {
		t.Fatal(err)
	}
	var opts []models.VariableOption
	if err := json.Unmarshal(c.resp.Body, &opts); err != nil || len(opts) != 2 || opts[0].Value != "u-b" || opts[1].Value != "u-d" {
		t.Errorf("variables over gRPC: %s %v", c.resp.Body, err)
	}
}

// launchBackend builds this module's backend and starts it as Grafana does
// (plugintest.Launch).
func launchBackend(t *testing.T) (*grpc.ClientConn, string, *testsupport.SyncBuffer) {
	t.Helper()
	return plugintest.Launch(t, plugintest.Build(t, ".."))
}

// TestBuiltBinaryAsGrafanaLaunchesIt starts the built executable as
// Grafana does and queries it over gRPC.
func TestBuiltBinaryAsGrafanaLaunchesIt(t *testing.T) {
	vm := seededVM(t)
	conn, network, stderr := launchBackend(t)
	_, storePath := storetest.Campaign(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc := pluginContext(vm.URL, fmt.Sprintf(`{"caseStore":%q}`, storePath))
	req := &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
		dataQuery("A", `{"queryType":"weekly_review","week":"2026-W45"}`, w45From, w45To, time.Minute)}}
	presp, err := pluginv2.NewDataClient(conn).QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		t.Fatalf("QueryData: %v\nstderr:\n%s", err, stderr.String())
	}
	resp, err := backend.FromProto().QueryDataResponse(presp)
	if err != nil {
		t.Fatal(err)
	}
	rows := reviewCounts(t, resp)
	want := map[string]any{"mining_at_end": int64(2), "new": int64(2), "relapsed": int64(2), "cleared": int64(1),
		"distinct_ips": int64(6), "prev_distinct_ips": int64(3), "change": int64(3), "overdue": int64(3),
		"episodes_365d": int64(10), "relapses_365d": int64(3), "repeated_relapse": true}
	for k, v := range want {
		if !reflect.DeepEqual(rows["total"][k], v) {
			t.Errorf("total %s = %v, want %v", k, rows["total"][k], v)
		}
	}
	h, err := pluginv2.NewDiagnosticsClient(conn).CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(pc)})
	if err != nil || h.Status != pluginv2.CheckHealthResponse_OK {
		t.Fatalf("CheckHealth: %v %v", h, err)
	}
	bad := pluginContext("http://"+freeAddr(t), `{}`)
	bad.DataSourceInstanceSettings.UID, bad.DataSourceInstanceSettings.ID = "broken", 2 // instances are cached per datasource
	h, err = pluginv2.NewDiagnosticsClient(conn).CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(bad)})
	if err != nil || h.Status != pluginv2.CheckHealthResponse_ERROR {
		t.Fatalf("CheckHealth of a dead URL: %v %v", h, err)
	}
	fmt.Fprintln(os.Stderr, "backend binary answered QueryData and CheckHealth over", network)
}

// callResourceGRPC sends a resource call over the plugin's gRPC API, as
// Grafana's resource proxy does, and returns the (single) response.
func callResourceGRPC(t *testing.T, conn *grpc.ClientConn, req *backend.CallResourceRequest) *backend.CallResourceResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := pluginv2.NewResourceClient(conn).CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return backend.FromProto().CallResourceResponse(msg)
}

// TestDispositionsThroughBuiltBinary records dispositions through the built
// backend's resource API over gRPC as Grafana's resource proxy would, with
// Grafana's authenticated user in the plugin context: a unit lead's record
// is kept with its author and shows in the tracker; another unit, a Viewer,
// a request without a user and an injection attempt are refused; a tampered
// audit entry is detected.
func TestDispositionsThroughBuiltBinary(t *testing.T) {
	vm := seededVM(t)
	conn, _, stderr := launchBackend(t)
	store, storePath := storetest.Seeded(t, nil)
	// the lead's datasource: scoped to u-a, with the ledger naming lead-a's email as u-a's lead
	leadDS := pluginContext(vm.URL, fmt.Sprintf(`{"scopeUnits":["u-a"],"caseStore":%q,"ledgerFiles":[%q]}`, storePath, appLedger(t)))
	leadDS.DataSourceInstanceSettings.UID, leadDS.DataSourceInstanceSettings.ID = "lead-a", 11
	post := func(pc backend.PluginContext, user *backend.User, body string) *backend.CallResourceResponse {
		pc.User = user
		return callResourceGRPC(t, conn, &backend.CallResourceRequest{PluginContext: pc, Method: "POST", Path: "dispositions", URL: "dispositions", Body: []byte(body)})
	}
	lead := &backend.User{Login: "lead-a", Email: "lead@u-a.example", Name: "一中 信息中心", Role: "Editor"}

	// a unit lead records "located" for an IP of their unit: kept, with the author
	r := post(leadDS, lead, `{"ip":"10.1.0.2","unit":"u-a","stage":"located","class":"passive","note":"宿舍楼 私接矿机"}`)
	var rec DispositionResponse
	if r.Status != 201 || json.Unmarshal(r.Body, &rec) != nil || rec.Author != "lead-a" || rec.AuthorRole != "Editor" || rec.Unit != "u-a" {
		t.Fatalf("lead's disposition: %d %s\nstderr:\n%s", r.Status, r.Body, stderr.String())
	}
	// the unit is found from the IP's series when left out
	if r := post(leadDS, lead, `{"ip":"10.1.0.2","stage":"reported","class":"passive"}`); r.Status != 201 || !strings.Contains(string(r.Body), `"unit":"u-a"`) {
		t.Errorf("disposition without unit: %d %s", r.Status, r.Body)
	}
	// what was acknowledged is in the store, with the author
	got, err := store.Dispositions(context.Background(), campaign.Scope{All: true}, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil || len(got) != 2 || got[0].Author != "lead-a" || got[0].Note != "宿舍楼 私接矿机" || got[1].Stage != "reported" {
		t.Fatalf("store after the lead's writes: %v %+v", err, got)
	}
	// and the tracker served by the binary reads it from the store
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	presp, err := pluginv2.NewDataClient(conn).QueryData(ctx, backend.ToProto().QueryDataRequest(&backend.QueryDataRequest{PluginContext: leadDS,
		Queries: []backend.DataQuery{dataQuery("A", `{"queryType":"tracker"}`, w45From, time.Now().Add(time.Hour), time.Hour)}}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := backend.FromProto().QueryDataResponse(presp)
	if err != nil || resp.Responses["A"].Error != nil {
		t.Fatalf("tracker: %v %+v", err, resp)
	}
	found := false
	for _, row := range frameRows(t, resp.Responses["A"].Frames[0]) {
		if row["ip"] == "10.1.0.2" {
			found = row["disposition"] == "reported" && row["disposition_class"] == "passive"
		}
	}
	if !found {
		t.Errorf("tracker does not show the recorded disposition of 10.1.0.2: %v", frameRows(t, resp.Responses["A"].Frames[0]))
	}

	refused := []struct {
		name string
		user *backend.User
		body string
		code int
	}{
		{"another unit", lead, `{"ip":"10.9.0.1","unit":"u-x","stage":"closed","class":"false-positive"}`, 403},
		{"another unit's IP without unit", lead, `{"ip":"10.9.0.1","stage":"closed","class":"false-positive"}`, 400},
		{"a Viewer", &backend.User{Login: "teacher", Role: "Viewer"}, `{"ip":"10.1.0.2","unit":"u-a","stage":"closed","class":"false-positive"}`, 403},
		{"no role", &backend.User{Login: "anon", Role: "None"}, `{"ip":"10.1.0.2","unit":"u-a","stage":"closed","class":"false-positive"}`, 403},
		{"forged: no user", nil, `{"ip":"10.1.0.2","unit":"u-a","stage":"closed","class":"false-positive"}`, 401},
		{"forged: blank login", &backend.User{Role: "Admin"}, `{"ip":"10.1.0.2","unit":"u-a","stage":"closed","class":"false-positive"}`, 401},
		{"label injection in the IP", lead, `{"ip":"10.0.0.1\"} 1\nminewatch_case_disposition{ip=\"x","unit":"u-a","stage":"closed","class":"false-positive"}`, 400},
		{"injection in the unit", lead, `{"ip":"10.1.0.2","unit":"u-a\"} or vector(1)","stage":"closed","class":"false-positive"}`, 400},
		{"bad class", lead, `{"ip":"10.1.0.2","unit":"u-a","stage":"closed","class":"bogus"}`, 400},
		{"unknown field", lead, `{"ip":"10.1.0.2","unit":"u-a","stage":"closed","class":"active","author":"someone-else"}`, 400},
	}
	for _, c := range refused {
		if r := post(leadDS, c.user, c.body); r.Status != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, r.Status, r.Body, c.code)
		}
	}
	pc := leadDS
	pc.User = lead
	if r := callResourceGRPC(t, conn, &backend.CallResourceRequest{PluginContext: pc, Method: "GET", Path: "dispositions", URL: "dispositions"}); r.Status != 405 {
		t.Errorf("GET dispositions: %d", r.Status)
	}
	// an injection-shaped note is stored as inert text
	inert := "\"} 1\nminewatch_case_disposition{ip=\"x\",unit=\"u-x\",stage=\"closed\"} 1"
	body, _ := json.Marshal(DispositionRequest{IP: "10.1.0.1", Unit: "u-a", Stage: "located", Class: "active", Note: inert})
	if r := post(leadDS, lead, string(body)); r.Status != 201 {
		t.Errorf("note with quotes and newlines: %d %s", r.Status, r.Body)
	}
	got, _ = store.Dispositions(context.Background(), campaign.Scope{All: true}, time.Unix(0, 0), time.Now().Add(time.Hour))
	if len(got) != 3 || got[2].Note != inert {
		t.Errorf("after refused writes the store holds %+v, want the 3 accepted", got)
	}
	// the bureau's unscoped datasource on the same store writes any unit
	bureau := pluginContext(vm.URL, fmt.Sprintf(`{"caseStore":%q}`, storePath))
	bureau.DataSourceInstanceSettings.UID, bureau.DataSourceInstanceSettings.ID = "bureau", 12
	if r := post(bureau, &backend.User{Login: "bureau-officer", Role: "Admin"}, `{"ip":"10.9.0.1","unit":"u-x","stage":"located","class":"active"}`); r.Status != 201 {
		t.Errorf("bureau write: %d %s", r.Status, r.Body)
	}
	v, err := store.Verify(context.Background())
	if err != nil || v.Entries != 7 { // 3 cases opened + 4 dispositions
		t.Errorf("verify: %v %+v", err, v)
	}
	// a datasource whose scope is blank gets no instance: no data, no writes
	blank := pluginContext(vm.URL, fmt.Sprintf(`{"scopeUnits":[" "],"caseStore":%q}`, storePath))
	blank.DataSourceInstanceSettings.UID, blank.DataSourceInstanceSettings.ID = "blank", 13
	blank.User = &backend.User{Login: "x", Role: "Admin"}
	stream, err := pluginv2.NewResourceClient(conn).CallResource(ctx, backend.ToProto().CallResourceRequest(&backend.CallResourceRequest{PluginContext: blank,
		Method: "POST", Path: "dispositions", URL: "dispositions", Body: []byte(`{"ip":"10.9.0.1","unit":"u-x","stage":"closed","class":"false-positive"}`)}))
	if err == nil {
		if msg, err := stream.Recv(); err == nil && msg.Code == 201 {
			t.Errorf("blank scope accepted a write: %s", msg.Body)
		}
	}
	presp, err = pluginv2.NewDataClient(conn).QueryData(ctx, backend.ToProto().QueryDataRequest(&backend.QueryDataRequest{PluginContext: blank,
		Queries: []backend.DataQuery{dataQuery("A", `{"queryType":"tracker"}`, w45From, w45To, time.Hour)}}))
	if err == nil {
		if resp, _ := backend.FromProto().QueryDataResponse(presp); resp.Responses["A"].Error == nil {
			t.Errorf("blank scope answered a tracker query: %+v", resp.Responses["A"])
		}
	}
	// someone with file access rewrites who closed it: Verify tells
	db, err := sql.Open("sqlite", storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit SET actor = 'grafana:someone (Admin)' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Verify(context.Background()); !errors.Is(err, casestore.ErrTampered) {
		t.Errorf("tampered audit entry not detected: %v", err)
	}
}
