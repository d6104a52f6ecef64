package plugin

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc"

	"github.com/minewatch/minewatch/exporter/testsupport"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

// harnessDatasourceUID is the uid the browser harness's Grafana gives the
// bundled datasource (plugin/harness/shell.jsx): the only one the stand-in
// Grafana API below serves.
const harnessDatasourceUID = "minewatch-harness"

// e2eUsers are the Grafana users of the end-to-end test, as Grafana's session
// would have them after sign-in: the ledger (appLedger) names lead@u-a.example
// the lead of u-a and lead@u-b.example the lead of u-b.
var e2eUsers = map[string]*backend.User{
	"admin":  {Login: "admin", Email: "admin@edu.example", Name: "管理员", Role: "Admin"},
	"lead-a": {Login: "lead-a", Email: "lead@u-a.example", Name: "张老师", Role: "Editor"},
	"lead-b": {Login: "lead-b", Email: "lead@u-b.example", Name: "李老师", Role: "Editor"},
}

// recentCampaign seeds what the exporter would have written over the last
// 20 hours, so the case list's default window (the last 30 days) holds it
// whenever the test runs: u-a's 10.1.0.2 flagged since 20–21 h ago (26–28 h left
// to locate it), u-b's 10.2.0.2 flagged since 10 h ago.
func recentCampaign(now time.Time) []string {
	var s vmtest.Series
	now = now.Truncate(15 * time.Minute)
	begin := now.Add(-40 * 24 * time.Hour)
	s.Every("minewatch_unit_info", 1, begin, now, 6*time.Hour, "unit", "u-a", "name", "一中", "sector", "school", "parent", "d-east")
	s.Every("minewatch_unit_info", 1, begin, now, 6*time.Hour, "unit", "u-b", "name", "二中", "sector", "school", "parent", "d-east")
	flag := func(ip, unit string, since time.Duration, score float64) {
		// on the hour: the tracker reads when flagging began to the hour
		// (campaign.Bucket), so the page's countdowns are known to ±1 h
		from := now.Truncate(time.Hour).Add(-since)
		s.Every("minewatch_host_mining", 1, from, now.Add(time.Second), 15*time.Minute, "ip", ip, "unit", unit, "class", "passive")
		s.Every("minewatch_host_score", score, from, now.Add(time.Second), 15*time.Minute, "ip", ip, "unit", unit)
		s.Every("minewatch_host_signal_points", score-10, from, now.Add(time.Second), 15*time.Minute, "ip", ip, "unit", unit, "signal", "pool_contact")
		s.Every("minewatch_host_signal_points", 10, from, now.Add(time.Second), 15*time.Minute, "ip", ip, "unit", unit, "signal", "port_hint")
	}
	flag("10.1.0.2", "u-a", 20*time.Hour, 70)
	flag("10.2.0.2", "u-b", 10*time.Hour, 90)
	return s.Lines
}

// call is one resource call as the stand-in Grafana passed it on.
type call struct {
	User, Method, Path string
	Status             int
}

// grafanaAPI stands in for what Grafana's server does for the app's pages:
// a sign-in that starts a session (POST /login {"user"}: the session cookie
// grafana_session), and the datasource resource proxy
// /api/datasources/uid/<uid>/resources/<path> → the plugin's CallResource over
// gRPC with the session's user (login, email, name, org role) in the plugin
// context. Nothing the browser sends about the user reaches the plugin.
//
// For the app's configuration page it also stands in for Grafana's
// /api/plugins/<app id>/settings (GET: the app's meta from its plugin.json with
// enabled, pinned and jsonData as stored; POST: stored whole, as Grafana does,
// for an org Admin, else 403 with Grafana's access-control answer) and
// /api/datasources/uid/<uid>/health (the plugin's CheckHealth over gRPC,
// answered as Grafana answers: 200 OK, 400 with the same body for ERROR).
// others are further datasources of the same plugin (by uid) whose health the
// page may ask.
type grafanaAPI struct {
	t      *testing.T
	conn   *grpc.ClientConn
	pc     backend.PluginContext
	others map[string]backend.PluginContext
	// appMeta is the app's plugin.json; settings what POST settings stored.
	appMeta map[string]any

	mu       sync.Mutex
	sessions map[string]*backend.User
	calls    []call
	settings appSettings
	posts    []settingsPost
}

// appSettings is what Grafana stores of an app per org (UpdatePluginSettingCmd).
type appSettings struct {
	Enabled        bool              `json:"enabled"`
	Pinned         bool              `json:"pinned"`
	JSONData       map[string]any    `json:"jsonData"`
	SecureJSONData map[string]string `json:"secureJsonData,omitempty"`
}

// settingsPost is one POST /api/plugins/<id>/settings: who, the body as sent, the status answered.
type settingsPost struct {
	User   string
	Body   string
	Status int
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the browser sees a short body
}

func (g *grafanaAPI) sessionUser(r *http.Request) *backend.User {
	c, err := r.Cookie("grafana_session")
	if err != nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[c.Value]
}

// pluginSettings serves GET and POST /api/plugins/<app id>/settings.
func (g *grafanaAPI) pluginSettings(w http.ResponseWriter, r *http.Request, user *backend.User) {
	id, _ := g.appMeta["id"].(string)
	switch r.Method {
	case http.MethodGet:
		g.mu.Lock()
		out := map[string]any{}
		for k, v := range g.appMeta {
			out[k] = v
		}
		out["module"], out["baseUrl"] = "/public/plugins/"+id+"/module.js", "/public/plugins/"+id
		out["enabled"], out["pinned"], out["jsonData"], out["secureJsonFields"] = g.settings.Enabled, g.settings.Pinned, g.settings.JSONData, map[string]bool{}
		g.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		status := http.StatusOK
		var in appSettings
		switch {
		case user.Role != "Admin": // plugins:write is an org Admin's
			status = http.StatusForbidden
		case json.Unmarshal(body, &in) != nil:
			status = http.StatusBadRequest
		}
		g.mu.Lock()
		g.posts = append(g.posts, settingsPost{User: user.Login, Body: string(body), Status: status})
		if status == http.StatusOK {
			g.settings = in
		}
		g.mu.Unlock()
		switch status {
		case http.StatusForbidden:
			writeJSON(w, status, map[string]string{"accessErrorId": "ACE0000000001", "title": "Access denied",
				"message": "You'll need additional permissions to perform this action. Permissions needed: plugins:write"})
		case http.StatusBadRequest:
			writeJSON(w, status, map[string]string{"message": "bad request data"})
		default:
			writeJSON(w, status, map[string]string{"message": "Plugin settings updated"})
		}
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Method not allowed"})
	}
}

// health serves GET /api/datasources/uid/<uid>/health through the plugin's CheckHealth.
func (g *grafanaAPI) health(w http.ResponseWriter, r *http.Request, uid string, user *backend.User) {
	pc, ok := g.others[uid]
	if uid == harnessDatasourceUID {
		pc, ok = g.pc, true
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Data source not found"})
		return
	}
	pc.User = user
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	resp, err := pluginv2.NewDiagnosticsClient(g.conn).CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(pc)})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Plugin health check failed"})
		return
	}
	res := backend.FromProto().CheckHealthResponse(resp)
	payload := map[string]any{"status": res.Status.String(), "message": res.Message}
	if len(res.JSONDetails) > 0 {
		var details map[string]any
		if err := json.Unmarshal(res.JSONDetails, &details); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Failed to unmarshal detailed response from backend plugin"})
			return
		}
		payload["details"] = details
	}
	status := http.StatusOK
	if res.Status != backend.HealthStatusOk {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, payload)
}

func (g *grafanaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/login" && r.Method == http.MethodPost {
		var in struct{ User string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || e2eUsers[in.User] == nil {
			http.Error(w, `{"message":"invalid username or password"}`, http.StatusUnauthorized)
			return
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		token := hex.EncodeToString(b)
		g.mu.Lock()
		g.sessions[token] = e2eUsers[in.User]
		g.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "grafana_session", Value: token, Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"message":"Logged in","session":%q}`, token)
		return
	}
	user := g.sessionUser(r)
	if user == nil { // Grafana answers an API call without a session itself
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if id, _ := g.appMeta["id"].(string); id != "" && r.URL.Path == "/api/plugins/"+id+"/settings" {
		g.pluginSettings(w, r, user)
		return
	}
	if uid, ok := strings.CutPrefix(r.URL.Path, "/api/datasources/uid/"); ok && strings.HasSuffix(uid, "/health") && r.Method == http.MethodGet {
		g.health(w, r, strings.TrimSuffix(uid, "/health"), user)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/datasources/uid/"+harnessDatasourceUID+"/resources/")
	if !ok {
		http.Error(w, `{"message":"Not found"}`, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	url := rest
	if r.URL.RawQuery != "" {
		url += "?" + r.URL.RawQuery
	}
	pc := g.pc
	pc.User = user
	headers := map[string][]string{}
	for _, k := range []string{"Content-Type", "Accept"} {
		if v := r.Header.Values(k); len(v) > 0 {
			headers[k] = v
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	stream, err := pluginv2.NewResourceClient(g.conn).CallResource(ctx, backend.ToProto().CallResourceRequest(&backend.CallResourceRequest{
		PluginContext: pc, Method: r.Method, Path: rest, URL: url, Headers: headers, Body: body}))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	first, err := stream.Recv()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	g.mu.Lock()
	g.calls = append(g.calls, call{User: user.Login, Method: r.Method, Path: rest, Status: int(first.Code)})
	g.mu.Unlock()
	for k, vs := range first.Headers {
		for _, v := range vs.Values {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(int(first.Code))
	w.Write(first.Body) //nolint:errcheck // the browser sees a short body
	for {
		chunk, err := stream.Recv()
		if err != nil {
			return
		}
		w.Write(chunk.Body) //nolint:errcheck // as above
	}
}

func (g *grafanaAPI) callsOf(user, method, path string) []call {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []call
	for _, c := range g.calls {
		if c.User == user && c.Method == method && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// TestAppPagesAgainstBuiltBackend is the app end to end: the built backend
// launched as Grafana launches it, with a real SQLite case store, a ledger
// naming the unit leads and a real VictoriaMetrics holding flagged IPs; a
// stand-in for Grafana's API in front of it (sessions, the resource proxy
// with the signed-in user); and the app's module.js, built from src/ here,
// loaded in headless Chromium with Grafana's shared modules and the real
// @grafana/* packages of each Grafana major the harness supports
// (plugin/harness/app-real.mjs drives the pages). As u-a's lead: 我的待办
// lists u-a's case only, with its countdown; the case page records 已定位
// with class 被动 and a note, kept with the lead's login and role; as u-b's
// lead the same case is refused (403) on the page and nothing is stored; the
// written report is filled, downloaded as DOCX, listed under the case's
// attachments after a reload with the SHA-256 of what was downloaded; the
// audit chain verifies. As an org Admin, the app's configuration page shows
// the real backend's health (VictoriaMetrics, the SQLite store, the ledger's
// leads; and a second datasource's failures), saves the datasource as
// jsonData.datasourceUid through Grafana's settings API and reloads; as u-a's
// lead (no plugins:write) the save is refused with Grafana's answer.
func TestAppPagesAgainstBuiltBackend(t *testing.T) {
	root := testsupport.RepoRoot(t)
	pluginDir := filepath.Join(root, "plugin")
	node, err := exec.LookPath("node")
	if err != nil {
		testsupport.Missing(t, "node not installed")
	}
	testsupport.Require(t, "chromium")
	if _, err := os.Stat(filepath.Join(pluginDir, "node_modules", "@grafana", "data")); err != nil {
		testsupport.Missing(t, "plugin/node_modules missing: run make plugin-deps")
	}
	// module.js as the package has it, from the sources of this revision
	dist := filepath.Join(t.TempDir(), "dist")
	if out, err := exec.Command(node, filepath.Join(pluginDir, "scripts", "build.mjs"), "--out", dist).CombinedOutput(); err != nil {
		t.Fatalf("build.mjs: %v\n%s", err, out)
	}

	var appMeta map[string]any
	if b, err := os.ReadFile(filepath.Join(dist, "plugin.json")); err != nil || json.Unmarshal(b, &appMeta) != nil {
		t.Fatalf("dist/plugin.json: %v", err)
	}

	vm := vmtest.Start(t)
	vm.Import(t, recentCampaign(time.Now()))
	vm.Flush(t)
	conn, _, stderr := launchBackend(t)

	// The @grafana/* packages of each major the harness loads the app in (plugin/harness/harness.mjs).
	for i, major := range []struct{ name, dir string }{{"11", "."}, {"12", filepath.Join("harness", "grafana-12")}} {
		t.Run("grafana-"+major.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(pluginDir, major.dir, "node_modules", "@grafana", "data")); err != nil {
				testsupport.Missing(t, "plugin/%s/node_modules missing: run make plugin-deps", major.dir)
			}
			// a store of its own for each major; one instance per datasource id
			store, storePath := storetest.Seeded(t, nil)
			pc := pluginContext(vm.URL, fmt.Sprintf(`{"caseStore":%q,"ledgerFiles":[%q],"reportTo":"区教育局网络安全科 wa@edu.example 0371-0000000"}`, storePath, appLedger(t)))
			pc.DataSourceInstanceSettings.UID = harnessDatasourceUID
			pc.DataSourceInstanceSettings.ID = int64(40 + i)
			// a second datasource of the plugin for the configuration page's picker: its
			// VictoriaMetrics address refuses connections, it has no store and no ledger
			district := pluginContext("http://"+freeAddr(t), `{}`)
			district.DataSourceInstanceSettings.UID = "minewatch-district"
			district.DataSourceInstanceSettings.ID = int64(50 + i)
			api := &grafanaAPI{t: t, conn: conn, pc: pc, others: map[string]backend.PluginContext{"minewatch-district": district},
				appMeta: appMeta, sessions: map[string]*backend.User{}}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: api}
			go srv.Serve(l) //nolint:errcheck // closed below
			defer srv.Close()

			downloads := t.TempDir()
			cmd := exec.Command(node, filepath.Join("harness", "app-real.mjs"))
			cmd.Dir = pluginDir
			cmd.Env = append(os.Environ(), "MINEWATCH_GRAFANA_MAJOR="+major.name, "MINEWATCH_API=http://"+l.Addr().String(),
				"PLUGIN_DIST="+dist, "MINEWATCH_DOWNLOADS="+downloads)
			out, err := cmd.CombinedOutput()
			t.Logf("app-real.mjs (Grafana %s):\n%s", major.name, out)
			if err != nil {
				t.Fatalf("app-real.mjs: %v\nbackend stderr:\n%s", err, stderr)
			}

			ctx := context.Background()
			// the lead's disposition: one case, one disposition, with the author Grafana named
			cases, err := store.Cases(ctx, campaign.Scope{All: true}, "")
			if err != nil || len(cases) != 1 || cases[0].Unit != "u-a" {
				t.Fatalf("store cases: %v %+v, want u-a's one", err, cases)
			}
			ds, err := store.CaseDispositions(ctx, cases[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 {
				t.Fatalf("store holds %d dispositions, want the lead's one (u-b's lead refused): %+v", len(ds), ds)
			}
			d := ds[0]
			if d.IP != "10.1.0.2" || d.Unit != "u-a" || d.Stage != "located" || d.Class != "passive" || d.Author != "lead-a" ||
				d.AuthorRole != "Editor" || d.Via != casestore.ViaGrafana || !strings.Contains(d.Note, "宿舍") {
				t.Errorf("stored disposition %+v", d)
			}
			// u-b's lead reached the backend and was refused there, reading and writing
			if cs := api.callsOf("lead-b", "POST", "dispositions"); len(cs) != 1 || cs[0].Status != http.StatusForbidden {
				t.Errorf("u-b's lead's POST dispositions: %+v, want one 403", cs)
			}
			if cs := api.callsOf("lead-b", "GET", fmt.Sprintf("cases/%d", cases[0].ID)); len(cs) == 0 || cs[0].Status != http.StatusForbidden {
				t.Errorf("u-b's lead's GET cases/1: %+v, want 403", cs)
			}
			// the written report: stored once, the file downloaded is the file stored
			as, err := store.Attachments(ctx, 0)
			if err != nil || len(as) != 1 {
				t.Fatalf("attachments: %v %+v", err, as)
			}
			got, err := os.ReadFile(filepath.Join(downloads, "report.docx"))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(got)
			if a := as[0]; a.SHA256 != hex.EncodeToString(sum[:]) || a.Author != "lead-a" || a.CaseID != d.CaseID ||
				!strings.HasPrefix(a.Name, "书面报告-u-a-10.1.0.2-") {
				t.Errorf("stored attachment %+v, downloaded sha256 %x", a, sum)
			}
			zr, err := zip.NewReader(bytes.NewReader(got), int64(len(got)))
			if err != nil {
				t.Fatalf("the downloaded report is not a DOCX: %v", err)
			}
			doc := ""
			for _, f := range zr.File {
				if f.Name == "word/document.xml" {
					rc, _ := f.Open()
					b, _ := io.ReadAll(rc)
					rc.Close()
					doc = string(b)
				}
			}
			for _, want := range []string{"学生私自运行挖矿程序", "重装系统，加装终端管控", "0371-12345678", "10.1.0.2", "一中", "lead-a"} {
				if !strings.Contains(doc, want) {
					t.Errorf("report document lacks %q", want)
				}
			}
			v, err := store.Verify(ctx)
			if err != nil || v.Entries != 3 { // case opened, disposition, attachment
				t.Errorf("audit chain: %v %+v", err, v)
			}

			// the configuration page: the admin's save as Grafana received it, stored; lead-a's refused
			var first map[string]any
			if len(api.posts) != 2 || api.posts[0].User != "admin" || api.posts[0].Status != http.StatusOK ||
				json.Unmarshal([]byte(api.posts[0].Body), &first) != nil {
				t.Fatalf("POST settings: %+v, want the admin's (200) then lead-a's (403)", api.posts)
			}
			want := map[string]any{"enabled": true, "pinned": true, "jsonData": map[string]any{"datasourceUid": harnessDatasourceUID}}
			if fmt.Sprint(first) != fmt.Sprint(want) {
				t.Errorf("the settings Grafana received: %s, want %v", api.posts[0].Body, want)
			}
			if p := api.posts[1]; p.User != "lead-a" || p.Status != http.StatusForbidden {
				t.Errorf("lead-a's POST settings: %+v, want 403", p)
			}
			if s := api.settings; !s.Enabled || !s.Pinned || s.JSONData["datasourceUid"] != harnessDatasourceUID || len(s.JSONData) != 1 {
				t.Errorf("stored settings %+v", s)
			}
		})
	}
}
