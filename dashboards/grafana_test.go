package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/minewatch/minewatch/alerts"
	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"github.com/minewatch/minewatch/plugin/pkg/plugintest"
)

// harnessNow is the moment the panel harness looks at the dashboards: Tuesday of
// 2026-W46 in Beijing time, so that the last complete week is the seeded W45
// and 10.1.0.2, 10.9.0.1 and the ranking units below are mining "now".
var harnessNow = vmtest.At(2026, 11, 10, 0, 0)

// rankingSeries adds eleven units to the seeded campaign for the ranking panels:
// u-e01…u-e10 with one mining IP each and u-z with three. Taking the first ten
// units by id (what a bare reduce limit does) leaves out u-z, the unit with most.
func rankingSeries() []string {
	var s vmtest.Series
	begin, end := vmtest.At(2025, 12, 1, 0, 0), vmtest.At(2026, 11, 12, 0, 0)
	from, to := vmtest.At(2026, 11, 9, 1, 10), vmtest.At(2026, 11, 11, 9, 10)
	for i := 1; i <= 10; i++ {
		id := fmt.Sprintf("u-e%02d", i)
		s.Unit(id, fmt.Sprintf("第%d小学", i), "school", "d-south", begin, end)
		s.Flag(fmt.Sprintf("10.5.%d.1", i), id, "passive", from, to, 65)
	}
	s.Unit("u-z", "职业技术学院", "school", "d-north", begin, end)
	for i := 1; i <= 3; i++ {
		s.Flag(fmt.Sprintf("10.6.0.%d", i), "u-z", "active", from, to, 92)
	}
	return s.Lines
}

// districtSeries adds the campaign's districts to the ledger: a district is the
// parent unit of the units in it (a bureau's district office), so it has a
// name of its own, which the dashboards show beside its id.
func districtSeries() []string {
	var s vmtest.Series
	begin, end := vmtest.At(2025, 12, 1, 0, 0), vmtest.At(2026, 11, 12, 0, 0)
	for _, d := range [][2]string{{"d-east", "东城区教育局"}, {"d-west", "西城区教育局"}, {"d-south", "南区教育局"}, {"d-north", "北区教育局"}, {"d-secret", "保密辖区"}} {
		s.Unit(d[0], d[1], "institution", "", begin, end)
	}
	return s.Lines
}

// evidenceSeries adds the reasons of the IP dashboard's first IP (10.1.0.1, flagged
// 3–5 Nov in the seeded campaign), which the campaign seed does not carry: the
// exporter's signal points beside its score, as minewatch_host_signal_points.
// The exporter writes a signal's points only while the signal fires: the
// Stratum profile is not seen for six hours in the night of 3–4 Nov (stratumGap),
// a gap the graph must show as one.
func evidenceSeries() []string {
	var s vmtest.Series
	from, to := vmtest.At(2026, 11, 3, 10, 10), vmtest.At(2026, 11, 5, 9, 10)
	s.Every("minewatch_host_signal_points", 55, from, to, 15*time.Minute, "ip", "10.1.0.1", "unit", "u-a", "signal", "pool_contact")
	s.Every("minewatch_host_signal_points", 30, from, stratumGap[0], 15*time.Minute, "ip", "10.1.0.1", "unit", "u-a", "signal", "stratum_profile")
	s.Every("minewatch_host_signal_points", 30, stratumGap[1], to, 15*time.Minute, "ip", "10.1.0.1", "unit", "u-a", "signal", "stratum_profile")
	return s.Lines
}

// stratumGap is when 10.1.0.1's stratum_profile signal is not written (panel-expectations.mjs
// asserts the gap: 4 Nov 02:10–08:10 Beijing time).
var stratumGap = [2]time.Time{vmtest.At(2026, 11, 4, 2, 10), vmtest.At(2026, 11, 4, 8, 10)}

// TestPanelsAsGrafanaShowsThem is the per-panel harness. The built backend runs
// as Grafana launches it (go-plugin handshake, gRPC) against a real
// VictoriaMetrics holding the seeded campaign; a loopback HTTP server answers
// /api/ds/query as Grafana's server does (frontend request in, the plugin's
// QueryData over gRPC, the response JSON out). plugin/harness/panels.mjs then
// plays Grafana's frontend with the real @grafana/data: resolves each
// dashboard's time range and variables, sends every panel's queries, applies
// transformations, field config, overrides and reduce options, and asserts
// what each panel shows. MINEWATCH_SCREENSHOTS=DIR also renders every
// dashboard into DIR (make screenshots).
// seedInterval is the seeded series' spacing (vmtest's Every calls), the
// harness datasource's scrape interval.
const seedInterval = "15m"

func TestPanelsAsGrafanaShowsThem(t *testing.T) {
	root := testsupport.RepoRoot(t)
	pluginDir := filepath.Join(root, "plugin")
	node, err := exec.LookPath("node")
	if err != nil {
		testsupport.Missing(t, "node not installed")
	}
	if _, err := os.Stat(filepath.Join(pluginDir, "node_modules", "@grafana", "data")); err != nil {
		testsupport.Missing(t, "plugin/node_modules missing: run make plugin-deps")
	}
	vm := vmtest.Start(t)
	vm.Import(t, vmtest.Campaign())
	vm.Import(t, rankingSeries())
	vm.Import(t, evidenceSeries())
	vm.Import(t, districtSeries())
	// The exporter-health dashboard looks at the 6 h before now: 6¼ h of the
	// exporter's own series, so that its 5 min rates start with the range.
	vm.Import(t, healthSeries(t, root, harnessNow, 6*time.Hour+15*time.Minute))
	vm.Flush(t)
	replayCaseRules(t, vm.URL, vmtest.At(2026, 10, 19, 0, 0), harnessNow)
	_, storePath := storetest.Campaign(t)
	// The seed writes a sample every 15 minutes (the exporter every 15 s):
	// that is this datasource's scrape interval, the floor of every step.
	jsonData := fmt.Sprintf(`{"quietPeriod":"7d","locateDeadline":"48h","reportDeadline":"72h","timezone":"Asia/Shanghai","relapseLimit":2,"caseStore":%q,"timeInterval":%q}`, storePath, seedInterval)
	pc := backend.PluginContext{PluginID: models.PluginID, OrgID: 1, DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
		UID: "minewatch", Name: "minewatch", URL: vm.URL, JSONData: []byte(jsonData), DecryptedSecureJSONData: map[string]string{}}}

	conn, _, stderr := plugintest.Launch(t, plugintest.Build(t, filepath.Join(pluginDir, "pkg")))
	client := pluginv2.NewDataClient(conn)
	resources := pluginv2.NewResourceClient(conn)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /api/datasources/uid/<uid>/resources/<path>: the plugin's CallResource, as
		// getResource reaches it (the frontend's metricFindQuery uses it today).
		if rest, ok := strings.CutPrefix(r.URL.Path, "/api/datasources/uid/minewatch/resources/"); ok && r.Method == http.MethodGet {
			ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
			defer cancel()
			url := rest
			if r.URL.RawQuery != "" {
				url += "?" + r.URL.RawQuery
			}
			stream, err := resources.CallResource(ctx, backend.ToProto().CallResourceRequest(&backend.CallResourceRequest{
				PluginContext: pc, Method: http.MethodGet, Path: rest, URL: url}))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			first, err := stream.Recv()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.WriteHeader(int(first.Code))
			w.Write(first.Body) //nolint:errcheck // the client reports a short body
			for {
				chunk, err := stream.Recv()
				if err != nil {
					return
				}
				w.Write(chunk.Body) //nolint:errcheck // as above
			}
		}
		if r.Method != http.MethodPost || r.URL.Path != "/api/ds/query" {
			http.NotFound(w, r)
			return
		}
		req, err := grafanaQueryRequest(r.Body, pc)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		presp, err := client.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
		if err != nil {
			http.Error(w, fmt.Sprintf("QueryData: %v\nplugin stderr:\n%s", err, stderr), http.StatusBadGateway)
			return
		}
		resp, err := backend.FromProto().QueryDataResponse(presp)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		b, err := json.Marshal(resp) // {"results":{refId:{"frames":[…],"error":…}}}, as /api/ds/query answers
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b) //nolint:errcheck // the client reports a short body
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck // closed below
	defer srv.Close()

	// The frontend of each Grafana major plugin.json claims (@grafana/data 11 and 12); the
	// pictures once, from the major the plugin builds against.
	for _, major := range []string{"11", "12"} {
		t.Run("grafana-"+major, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(pluginDir, majorDir(major), "node_modules", "@grafana", "data")); err != nil {
				testsupport.Missing(t, "%s/node_modules missing: run make plugin-deps", majorDir(major))
			}
			cmd := exec.Command(node, filepath.Join("harness", "panels.mjs"))
			cmd.Dir = pluginDir
			cmd.Env = append(os.Environ(),
				"MINEWATCH_GRAFANA_MAJOR="+major,
				"MINEWATCH_API=http://"+l.Addr().String(),
				"MINEWATCH_NOW="+strconv.FormatInt(harnessNow.UnixMilli(), 10),
				"MINEWATCH_DS_INTERVAL="+seedInterval,
				"MINEWATCH_DASHBOARDS="+openedFromLinks(t, dashboardsDir(root)))
			if major != "11" {
				// Grafana 12's pictures only when asked (MINEWATCH_SCREENSHOTS_12=DIR), not into docs/.
				cmd.Env = append(cmd.Env, "MINEWATCH_SCREENSHOTS="+os.Getenv("MINEWATCH_SCREENSHOTS_12"))
			}
			out, err := cmd.CombinedOutput()
			t.Logf("panels.mjs (Grafana %s):\n%s", major, out)
			if err != nil {
				t.Fatalf("panels.mjs: %v", err)
			}
		})
	}
}

// majorDir is where a Grafana major's @grafana/* packages are, below plugin/.
func majorDir(major string) string {
	if major == "11" {
		return "."
	}
	return filepath.Join("harness", "grafana-"+major)
}

// replayCaseRules records the campaign's series (episode starts, deadlines,
// relapses) over [from, to) with vmalert -replay and the repository's rules, as
// the demo does for its simulated week: the panels read them as Grafana would.
func replayCaseRules(t *testing.T, vmURL string, from, to time.Time) {
	t.Helper()
	vmalert := testsupport.Require(t, "vmalert")
	rules, err := alerts.ReplayRules()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "replay.yml")
	if err := os.WriteFile(path, rules, 0o600); err != nil {
		t.Fatal(err)
	}
	// The rules read series recorded by the rules before them: rulesDelay gives
	// each its predecessors' samples (with 0s they see nothing).
	out, err := exec.Command(vmalert, "-rule="+path, "-datasource.url="+vmURL, "-remoteWrite.url="+vmURL,
		"-replay.timeFrom="+from.UTC().Format(time.RFC3339), "-replay.timeTo="+to.UTC().Format(time.RFC3339),
		"-replay.rulesDelay=1s", "-datasource.queryStep=0s", "-remoteWrite.flushInterval=100ms", "-replay.disableProgressBar",
		"-loggerLevel=ERROR", "-httpListenAddr=127.0.0.1:0").CombinedOutput()
	if err != nil {
		t.Fatalf("vmalert -replay: %v\n%s", err, out)
	}
	resp, err := http.Get(vmURL + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// grafanaQueryRequest turns the body the frontend posts to /api/ds/query
// ({from, to, queries: [{refId, datasource, intervalMs, maxDataPoints, …}]})
// into the plugin's QueryDataRequest, as Grafana's query service does: the
// whole query object is the JSON the plugin decodes.
func grafanaQueryRequest(body io.Reader, pc backend.PluginContext) (*backend.QueryDataRequest, error) {
	var in struct {
		From    string            `json:"from"`
		To      string            `json:"to"`
		Queries []json.RawMessage `json:"queries"`
	}
	if err := json.NewDecoder(body).Decode(&in); err != nil {
		return nil, err
	}
	from, err1 := strconv.ParseInt(in.From, 10, 64)
	to, err2 := strconv.ParseInt(in.To, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("from/to %q %q: epoch milliseconds expected", in.From, in.To)
	}
	req := &backend.QueryDataRequest{PluginContext: pc}
	for _, raw := range in.Queries {
		var q struct {
			RefID         string `json:"refId"`
			QueryType     string `json:"queryType"`
			IntervalMs    int64  `json:"intervalMs"`
			MaxDataPoints int64  `json:"maxDataPoints"`
		}
		if err := json.Unmarshal(raw, &q); err != nil {
			return nil, err
		}
		req.Queries = append(req.Queries, backend.DataQuery{RefID: q.RefID, QueryType: q.QueryType, JSON: raw,
			Interval: time.Duration(q.IntervalMs) * time.Millisecond, MaxDataPoints: q.MaxDataPoints,
			TimeRange: backend.TimeRange{From: time.UnixMilli(from), To: time.UnixMilli(to)}})
	}
	return req, nil
}

// openedFromLinks copies the dashboards of dir and sets the unit dashboard's
// unit to u-a, as the wall's link from an open case of u-a opens it
// (?var-unit=u-a: Grafana takes the URL's value over the saved one). Opened
// bare, it shows the first unit by id, here a district (d-east) without
// mining IPs of its own.
func openedFromLinks(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d["uid"] == "minewatch-unit" {
			vars, _ := d["templating"].(map[string]any)["list"].([]any)
			for _, v := range vars {
				if v := v.(map[string]any); v["name"] == "unit" {
					v["current"] = map[string]any{"value": "u-a", "text": "一中 u-a"}
				}
			}
			if b, err = json.Marshal(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// dashboardsDir is the folder the harness reads: this one, or $MINEWATCH_DASHBOARDS
// (to run the harness on another revision of the dashboards, e.g. to see it fail).
func dashboardsDir(root string) string {
	if d := os.Getenv("MINEWATCH_DASHBOARDS"); d != "" {
		return d
	}
	return filepath.Join(root, "dashboards")
}
