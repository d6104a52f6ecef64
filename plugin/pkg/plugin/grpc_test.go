package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/minewatch/minewatch/plugin/pkg/models"
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
	pc := pluginContext(vm.URL, `{"scopeUnits":["u-b","u-d"]}`)
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

// buildBackend builds the backend executable as the plugin's dist/ has it.
func buildBackend(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "gpx_minewatch_mining_datasource_linux_amd64")
	cmd := exec.Command("go", "build", "-o", out, "..")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// TestBuiltBinaryAsGrafanaLaunchesIt starts the built executable the way
// Grafana does through hashicorp/go-plugin: the magic cookie and protocol
// versions in the environment, the handshake line
// "1|2|<network>|<address>|grpc" read from stdout, then gRPC.
func TestBuiltBinaryAsGrafanaLaunchesIt(t *testing.T) {
	vm := seededVM(t)
	bin := buildBackend(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"grafana_plugin_type=datasource", // grpcplugin.MagicCookieKey=MagicCookieValue
		"PLUGIN_PROTOCOL_VERSIONS=2",
		"PLUGIN_UNIX_SOCKET_DIR="+t.TempDir(),
		"GF_PLUGIN_APP_URL=http://127.0.0.1:3000",
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	var hs string
	select {
	case hs = <-lines:
	case <-time.After(15 * time.Second):
		t.Fatalf("no handshake; stderr:\n%s", stderr.String())
	}
	parts := strings.Split(hs, "|")
	if len(parts) < 5 || parts[0] != "1" || parts[1] != "2" || parts[4] != "grpc" {
		t.Fatalf("handshake %q; stderr:\n%s", hs, stderr.String())
	}
	t.Logf("handshake: %s", hs)
	network, addr := parts[2], parts[3]
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, a)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc := pluginContext(vm.URL, `{}`)
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
