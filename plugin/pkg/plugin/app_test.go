package plugin

import (
	"archive/zip"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/xuri/excelize/v2"
	"google.golang.org/grpc"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

// appLedger writes a ledger naming the seeded campaign's units and their
// leads (the app finds a unit lead's units by this email) and one asset.
func appLedger(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ledger.yaml")
	if err := os.WriteFile(p, []byte(`units:
  - {id: u-a, name: 一中, sector: school, lead: {name: 张老师, email: lead@u-a.example}, cidrs: [10.1.0.0/16]}
  - {id: u-b, name: 二中, sector: school, lead: {name: 李老师, email: lead@u-b.example}, cidrs: [10.2.0.0/16]}
  - {id: u-c, name: 税务局, sector: government, cidrs: [10.3.0.0/16]}
  - {id: u-d, name: 热电厂, sector: soe, cidrs: [10.4.0.0/16]}
  - {id: u-x, name: 保密单位, sector: government, cidrs: [10.9.0.0/16]}
assets:
  - {ip: 10.1.0.2, unit: u-a, name: 机房B-07, kind: pc, location: 机房B, department: 教务处, owner: 赵老师}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The users of the app tests, as Grafana puts them in the plugin context.
var (
	bureauAdmin = &backend.User{Login: "admin", Name: "局管理员", Role: "Admin"}
	officer     = &backend.User{Login: "officer", Email: "Officer@Bureau.example", Name: "网安科", Role: "Editor"} // listed in bureauUsers
	leadA       = &backend.User{Login: "lead-a", Email: "LEAD@u-a.example", Name: "张老师", Role: "Editor"}
	leadB       = &backend.User{Login: "lead-b", Email: "lead@u-b.example", Name: "李老师", Role: "Editor"}
	viewerA     = &backend.User{Login: "teacher-a", Email: "lead@u-a.example", Role: "Viewer"}
	stranger    = &backend.User{Login: "someone", Email: "someone@example.org", Role: "Editor"}
)

// appClient calls the built backend's resources as Grafana's resource
// proxy does, as a user.
type appClient struct {
	t      *testing.T
	conn   *grpc.ClientConn
	pc     backend.PluginContext
	window string // from=…&to=… in Unix ms
}

func (a appClient) call(user *backend.User, method, path string, body []byte) *backend.CallResourceResponse {
	a.t.Helper()
	pc := a.pc
	pc.User = user
	u := path
	if strings.Contains(u, "?") {
		u += "&" + a.window
	} else {
		u += "?" + a.window
	}
	p, _, _ := strings.Cut(path, "?")
	return callResourceGRPC(a.t, a.conn, &backend.CallResourceRequest{PluginContext: pc, Method: method, Path: p, URL: u, Body: body})
}

func (a appClient) get(user *backend.User, path string, v any) int {
	a.t.Helper()
	r := a.call(user, "GET", path, nil)
	if r.Status == 200 && v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			a.t.Fatalf("GET %s: %v\n%s", path, err, r.Body)
		}
	}
	if r.Status != 200 {
		var e struct{ Error string }
		if json.Unmarshal(r.Body, &e) != nil || e.Error == "" {
			a.t.Errorf("GET %s: %d without an error message: %s", path, r.Status, r.Body)
		}
	}
	return r.Status
}

type caseRow struct {
	ID, IP, Unit, UnitName, Source, State, DeviceKey, Device, Person string
	Opened, LocateDue, ReportDue, Located, Reported, Closed          *time.Time
	Overdue                                                          bool
	MaxScore                                                         float64
}

type caseDetailJSON struct {
	Case     caseRow
	Timeline []struct {
		At                                          time.Time
		Stage, Class, Note, Author, AuthorRole, Via string
	}
	Evidence struct {
		Score   float64
		Reasons []struct {
			Signal, Label string
			Points        float64
		}
		FirstSeen *time.Time
	}
	Attachments []struct {
		ID     int64
		Name   string
		Size   int64
		SHA256 string
		By     string
	}
	Audit struct {
		OK       bool
		Entries  int
		Problems string
	}
}

// TestAppAPIThroughBuiltBinary exercises the app's API (docs/app-api.md)
// through the built backend over gRPC, with Grafana's user in the plugin
// context: who sees which units, the scoped case list, the case page, a
// disposition refused for another unit's lead and kept with its author for
// the right one, the written report stored as an attachment with its
// SHA-256, the audit trail verifying, and an edited attachment detected.
func TestAppAPIThroughBuiltBinary(t *testing.T) {
	vm := seededVM(t)
	// the reasons behind 10.1.0.2's flag
	var ev []string
	for tm := vmtest.At(2026, 11, 4, 20, 10); tm.Before(vmtest.At(2026, 11, 10, 5, 10)); tm = tm.Add(15 * time.Minute) {
		ev = append(ev, fmt.Sprintf(`minewatch_host_signal_points{ip="10.1.0.2",unit="u-a",signal="pool_contact"} 55 %d`, tm.UnixMilli()),
			fmt.Sprintf(`minewatch_host_signal_points{ip="10.1.0.2",unit="u-a",signal="port_hint"} 10 %d`, tm.UnixMilli()),
			fmt.Sprintf(`minewatch_host_signal_points{ip="10.1.0.2",unit="u-a",signal="stratum_profile"} 0 %d`, tm.UnixMilli()))
	}
	vm.Import(t, ev)
	vm.Flush(t)
	conn, _, stderr := launchBackend(t)
	store, storePath := storetest.Campaign(t)
	pc := pluginContext(vm.URL, fmt.Sprintf(`{"caseStore":%q,"ledgerFiles":[%q],"bureauUsers":["officer@bureau.example"]}`, storePath, appLedger(t)))
	pc.DataSourceInstanceSettings.UID, pc.DataSourceInstanceSettings.ID = "app", 21
	// Judged now, over a window from October: the seeded campaign is in it
	// whenever the test runs.
	app := appClient{t: t, conn: conn, pc: pc,
		window: fmt.Sprintf("from=%d&to=%d", vmtest.At(2026, 10, 1, 0, 0).UnixMilli(), time.Now().Add(time.Minute).UnixMilli())}

	t.Run("me", func(t *testing.T) {
		var me Caller
		type want struct {
			bureau, write bool
			units         string
		}
		for _, c := range []struct {
			user *backend.User
			want want
		}{
			{bureauAdmin, want{true, true, "u-a,u-b,u-c,u-d,u-x"}},
			{officer, want{true, true, "u-a,u-b,u-c,u-d,u-x"}},
			{leadA, want{false, true, "u-a"}},
			{leadB, want{false, true, "u-b"}},
			{viewerA, want{false, false, "u-a"}},
			{stranger, want{false, false, ""}},
		} {
			me = Caller{}
			if code := app.get(c.user, "me", &me); code != 200 {
				t.Fatalf("me as %s: %d\nstderr:\n%s", c.user.Login, code, stderr)
			}
			var ids []string
			for _, u := range me.Units {
				ids = append(ids, u.ID)
			}
			if got := (want{me.Bureau, me.CanWrite, strings.Join(ids, ",")}); got != c.want || me.Login != c.user.Login || me.Role != c.user.Role {
				t.Errorf("me as %s: %+v, want %+v", c.user.Login, me, c.want)
			}
		}
		if leadUnits := (Caller{}); app.get(leadA, "me", &leadUnits) != 200 || leadUnits.Units[0].Name != "一中" {
			t.Errorf("lead's unit name: %+v", leadUnits)
		}
		if r := app.call(nil, "GET", "me", nil); r.Status != 401 {
			t.Errorf("me without a user: %d %s", r.Status, r.Body)
		}
	})

	var mine []caseRow
	t.Run("list scoped", func(t *testing.T) {
		if code := app.get(leadA, "cases?state=open", &mine); code != 200 {
			t.Fatal(code)
		}
		// u-a: 10.1.0.2 flagged, nothing recorded (no store case yet, overdue);
		// 10.1.0.1 located and reported in time, not closed
		if len(mine) != 2 || mine[0].ID != "d~u-a~10.1.0.2" || !mine[0].Overdue || mine[0].Source != "detected" ||
			mine[0].Device != "机房B-07" || mine[0].Person != "赵老师" || mine[0].MaxScore != 70 || mine[0].State != "cleared" ||
			mine[1].IP != "10.1.0.1" || mine[1].Overdue || mine[1].Located == nil || mine[1].Reported == nil || mine[1].Closed != nil {
			t.Fatalf("lead-a's open cases: %+v", mine)
		}
		if d := mine[0].LocateDue.Sub(*mine[0].Opened); d != 48*time.Hour || mine[0].ReportDue.Sub(*mine[0].Opened) != 72*time.Hour {
			t.Errorf("10.1.0.2 opened %v, locate due %v", mine[0].Opened, mine[0].LocateDue)
		}
		var all []caseRow
		if app.get(bureauAdmin, "cases?state=all", &all) != 200 {
			t.Fatal("bureau list")
		}
		units := map[string]int{}
		for _, c := range all {
			units[c.Unit]++
		}
		if units["u-x"] == 0 || units["u-b"] == 0 || len(units) != 5 {
			t.Errorf("the bureau's cases by unit: %v", units)
		}
		var open []caseRow
		app.get(bureauAdmin, "cases", &open)
		for _, c := range open {
			if c.Closed != nil {
				t.Errorf("a closed case in the open list: %+v", c)
			}
		}
		if len(open) >= len(all) {
			t.Errorf("open %d of all %d: the seeded closed cases are missing from all", len(open), len(all))
		}
		var onlyB []caseRow
		if app.get(officer, "cases?state=all&unit=u-b", &onlyB) != 200 || len(onlyB) == 0 {
			t.Errorf("officer, unit u-b: %+v", onlyB)
		}
		for _, c := range onlyB {
			if c.Unit != "u-b" {
				t.Errorf("unit=u-b listed %+v", c)
			}
		}
		for _, c := range []struct {
			user *backend.User
			path string
			code int
		}{
			{leadA, "cases?unit=u-b", 403},
			{stranger, "cases", 403},
			{leadA, "cases?state=bogus", 400},
			{leadA, "cases?unit=u-a%22%7D", 400},
		} {
			if code := app.get(c.user, c.path, nil); code != c.code {
				t.Errorf("%s as %s: %d, want %d", c.path, c.user.Login, code, c.code)
			}
		}
	})

	t.Run("case detail", func(t *testing.T) {
		var det caseDetailJSON
		if code := app.get(leadA, "cases/d~u-a~10.1.0.2", &det); code != 200 {
			t.Fatal(code)
		}
		if det.Evidence.Score != 70 || len(det.Evidence.Reasons) != 2 || det.Evidence.Reasons[0].Signal != "pool_contact" ||
			det.Evidence.Reasons[0].Points != 55 || !strings.HasPrefix(det.Evidence.Reasons[0].Label, "连接已登记矿池") ||
			det.Evidence.FirstSeen == nil || len(det.Timeline) != 0 || !det.Audit.OK || det.Case.Person != "赵老师" {
			t.Errorf("10.1.0.2's case page: %+v", det)
		}
		var det1 caseDetailJSON
		if code := app.get(viewerA, "cases/"+mine[1].ID, &det1); code != 200 {
			t.Fatal(code)
		}
		if len(det1.Timeline) != 2 || det1.Timeline[0].Stage != "located" || det1.Timeline[0].Author != "seed" || det1.Timeline[1].Note != "书面报告已提交" ||
			det1.Audit.Entries != 3 || !det1.Audit.OK {
			t.Errorf("10.1.0.1's case page: %+v", det1)
		}
		for _, c := range []struct {
			user *backend.User
			path string
			code int
		}{
			{leadB, "cases/d~u-a~10.1.0.2", 403},
			{leadB, "cases/" + mine[1].ID, 403},
			{stranger, "cases/" + mine[1].ID, 403},
			{leadA, "cases/99999", 404},
			{leadA, "cases/d~u-a~10.1.0.250", 404},
			{leadA, "cases/drop table", 400},
		} {
			if code := app.get(c.user, c.path, nil); code != c.code {
				t.Errorf("%s as %s: %d, want %d", c.path, c.user.Login, code, c.code)
			}
		}
	})

	var caseID string
	t.Run("disposition", func(t *testing.T) {
		post := func(user *backend.User, body string) *backend.CallResourceResponse {
			return app.call(user, "POST", "dispositions", []byte(body))
		}
		for _, c := range []struct {
			name string
			user *backend.User
			body string
			code int
		}{
			{"another unit's lead", leadB, `{"caseId":"d~u-a~10.1.0.2","stage":"located","class":"被动"}`, 403},
			{"another unit's lead, by IP", leadB, `{"ip":"10.1.0.2","unit":"u-a","stage":"located","class":"passive"}`, 403},
			{"a stranger", stranger, `{"ip":"10.1.0.2","unit":"u-a","stage":"located","class":"passive"}`, 403},
			{"the lead as Viewer", viewerA, `{"caseId":"d~u-a~10.1.0.2","stage":"located","class":"被动"}`, 403},
			{"caseId of another unit", leadA, `{"caseId":"d~u-a~10.1.0.2","unit":"u-b","stage":"located","class":"被动"}`, 400},
			{"caseId of another IP", leadA, `{"caseId":"d~u-a~10.1.0.2","ip":"10.1.0.1","stage":"located","class":"被动"}`, 400},
			{"caseId not a case", leadA, `{"caseId":{"id":1},"stage":"located","class":"被动"}`, 400},
			{"no such case", leadA, `{"caseId":99999,"stage":"located","class":"被动"}`, 404},
		} {
			if r := post(c.user, c.body); r.Status != c.code {
				t.Errorf("%s: %d %s, want %d", c.name, r.Status, r.Body, c.code)
			}
		}
		r := post(leadA, `{"caseId":"d~u-a~10.1.0.2","stage":"located","class":"被动","note":"机房B 私装挖矿程序"}`)
		var rec DispositionResponse
		if r.Status != 201 || json.Unmarshal(r.Body, &rec) != nil || rec.Author != "lead-a" || rec.AuthorRole != "Editor" || rec.Class != "passive" || rec.IP != "10.1.0.2" {
			t.Fatalf("lead-a's disposition: %d %s\nstderr:\n%s", r.Status, r.Body, stderr)
		}
		caseID = strconv.FormatInt(rec.CaseID, 10)
		// the store holds it with the author, in the case the list now names
		ds, err := store.CaseDispositions(t.Context(), rec.CaseID)
		if err != nil || len(ds) != 1 || ds[0].Author != "lead-a" || ds[0].AuthorRole != "Editor" || ds[0].Via != "grafana" || ds[0].Note != "机房B 私装挖矿程序" {
			t.Errorf("stored: %v %+v", err, ds)
		}
		var now []caseRow
		app.get(leadA, "cases", &now)
		if len(now) != 2 || now[0].ID != caseID || now[0].Located == nil || !now[0].Overdue { // the report deadline passed unmet
			t.Errorf("after located: %+v", now)
		}
		// by the store's id, as a JSON number, IP and unit taken from the case
		if r := post(leadA, fmt.Sprintf(`{"caseId":%s,"stage":"reported","class":"passive"}`, caseID)); r.Status != 201 {
			t.Errorf("reported by case id: %d %s", r.Status, r.Body)
		}
		if r := post(leadB, fmt.Sprintf(`{"caseId":%s,"stage":"closed","class":"passive"}`, caseID)); r.Status != 403 {
			t.Errorf("lead-b closing u-a's case by id: %d %s", r.Status, r.Body)
		}
		now = nil
		app.get(leadA, "cases", &now)
		found := false
		for _, c := range now {
			if c.ID == caseID {
				found = !c.Overdue && c.Reported != nil
			}
		}
		if !found {
			t.Errorf("after reported, case %s: %+v", caseID, now)
		}
		// closed; then a write naming the closed case is refused (a new disposition of the IP opens a new case)
		if r := post(leadA, fmt.Sprintf(`{"caseId":"%s","stage":"closed","class":"passive","note":"已重装系统"}`, caseID)); r.Status != 201 {
			t.Errorf("closing: %d %s", r.Status, r.Body)
		}
		if r := post(leadA, fmt.Sprintf(`{"caseId":"%s","stage":"closed","class":"passive"}`, caseID)); r.Status != 409 {
			t.Errorf("a write to the closed case: %d %s", r.Status, r.Body)
		}
		now = nil
		app.get(leadA, "cases", &now)
		for _, c := range now {
			if c.ID == caseID {
				t.Errorf("the closed case is still in the open list: %+v", c)
			}
		}
	})

	t.Run("report", func(t *testing.T) {
		fields := `{"format":"docx","fields":{"cause":"学生私自在机房电脑安装挖矿程序","measures":"已断网并重装系统；加强机房巡检","reporter":"张老师","phone":"0371-12345678"}}`
		for _, u := range []*backend.User{leadB, viewerA, stranger} {
			if r := app.call(u, "POST", "cases/"+caseID+"/report", []byte(fields)); r.Status != 403 {
				t.Errorf("report POST as %s: %d %s", u.Login, r.Status, r.Body)
			}
		}
		// the pre-filled template: not stored
		r := app.call(leadA, "GET", "cases/"+caseID+"/report?format=docx", nil)
		if r.Status != 200 || !strings.Contains(string(docxXML(t, r.Body)), "（请填写）") {
			t.Fatalf("GET report: %d %s", r.Status, r.Body)
		}
		r = app.call(leadA, "POST", "cases/"+caseID+"/report", []byte(fields))
		if r.Status != 201 || r.Headers["Content-Type"][0] != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" {
			t.Fatalf("POST report: %d %v %s", r.Status, r.Headers, r.Body)
		}
		_, params, err := mime.ParseMediaType(r.Headers["Content-Disposition"][0])
		if err != nil || !strings.HasPrefix(params["filename"], "书面报告-u-a-10.1.0.2-") || !strings.HasSuffix(params["filename"], ".docx") {
			t.Errorf("Content-Disposition %q: %v %v", r.Headers["Content-Disposition"], params, err)
		}
		doc := string(docxXML(t, r.Body))
		for _, want := range []string{"一中", "10.1.0.2", "机房B-07", "赵老师", "连接已登记矿池", "机房B 私装挖矿程序", "lead-a (Editor)", "学生私自在机房电脑安装挖矿程序", "0371-12345678"} {
			if !strings.Contains(doc, want) {
				t.Errorf("the report lacks %q", want)
			}
		}
		sum := casestore.SHA256Hex(r.Body)
		if r.Headers["X-Minewatch-Sha256"][0] != sum {
			t.Errorf("sha256 header %v, body %s", r.Headers["X-Minewatch-Sha256"], sum)
		}
		var det caseDetailJSON
		app.get(leadA, "cases/"+caseID, &det)
		if len(det.Attachments) != 1 || det.Attachments[0].SHA256 != sum || det.Attachments[0].By != "lead-a" || det.Attachments[0].Size != int64(len(r.Body)) || !det.Audit.OK {
			t.Fatalf("attachments after the report: %+v audit %+v", det.Attachments, det.Audit)
		}
		got := app.call(viewerA, "GET", fmt.Sprintf("cases/%s/attachments/%d", caseID, det.Attachments[0].ID), nil)
		if got.Status != 200 || !bytes.Equal(got.Body, r.Body) {
			t.Errorf("attachment download: %d, %d bytes, want the %d stored", got.Status, len(got.Body), len(r.Body))
		}
		if r := app.call(leadB, "GET", fmt.Sprintf("cases/%s/attachments/%d", caseID, det.Attachments[0].ID), nil); r.Status != 403 {
			t.Errorf("attachment download by lead-b: %d", r.Status)
		}
		if _, err := store.Verify(t.Context()); err != nil {
			t.Errorf("audit after the report: %v", err)
		}
		// a report for a flagged IP without a store case opens its case
		r = app.call(bureauAdmin, "POST", "cases/d~u-x~10.9.0.1/report", []byte(`{"format":"docx","fields":{"reporter":"局网安科"}}`))
		if r.Status != 201 || r.Headers["X-Minewatch-Case-Id"][0] == "d~u-x~10.9.0.1" {
			t.Errorf("report opening a case: %d %v %s", r.Status, r.Headers, r.Body)
		}
		// PDF where the Grafana server has Chromium (this machine: .ci/deps.sh installs it)
		r = app.call(leadA, "GET", "cases/"+caseID+"/report?format=pdf", nil)
		if r.Status != 200 || !bytes.HasPrefix(r.Body, []byte("%PDF")) {
			t.Errorf("PDF report: %d %.200s", r.Status, r.Body)
		}
	})

	t.Run("edited attachment detected", func(t *testing.T) {
		db, err := sql.Open("sqlite", storePath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE attachments SET content = ? WHERE id = 1`, []byte("PK forged report")); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Verify(t.Context()); !errors.Is(err, casestore.ErrTampered) || !strings.Contains(err.Error(), "attachment/1 was edited") {
			t.Errorf("edited attachment: %v", err)
		}
		var det caseDetailJSON
		app.get(leadA, "cases/"+caseID, &det)
		if det.Audit.OK || !strings.Contains(det.Audit.Problems, "attachment/1 was edited") {
			t.Errorf("the case page's audit after the edit: %+v", det.Audit)
		}
	})
}

// docxXML returns the main part of a DOCX.
func docxXML(t *testing.T, b []byte) []byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a DOCX: %v", err)
	}
	for _, f := range z.File {
		if f.Name == "word/document.xml" {
			rc, _ := f.Open()
			defer rc.Close()
			x, _ := io.ReadAll(rc)
			return x
		}
	}
	t.Fatal("no word/document.xml")
	return nil
}

// sheets reads every sheet's rows of a workbook.
func sheets(t *testing.T, b []byte) map[string][][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][][]string{}
	for _, s := range f.GetSheetList() {
		rows, err := f.GetRows(s)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = rows
	}
	return out
}

// TestPackFromGrafanaIsTheReviews: the meeting pack the app downloads has
// the numbers `minewatch review --format xlsx` writes for the same week and
// selection, cell for cell — for a unit lead (their unit) and for the
// bureau (a district) — and a lead cannot ask for another unit's.
func TestPackFromGrafanaIsTheReviews(t *testing.T) {
	vm := seededVM(t)
	bin := filepath.Join(t.TempDir(), "minewatch")
	if b, err := exec.Command("go", "build", "-o", bin, "../../../exporter/cmd/minewatch").CombinedOutput(); err != nil {
		t.Fatalf("go build minewatch: %v\n%s", err, b)
	}
	conn, _, stderr := launchBackend(t)
	_, storePath := storetest.Campaign(t)
	pc := pluginContext(vm.URL, fmt.Sprintf(`{"caseStore":%q,"ledgerFiles":[%q]}`, storePath, appLedger(t)))
	pc.DataSourceInstanceSettings.UID, pc.DataSourceInstanceSettings.ID = "pack", 22
	app := appClient{t: t, conn: conn, pc: pc, window: "x=1"}
	for _, c := range []struct {
		user  *backend.User
		query string
		cli   []string
	}{
		{leadA, "week=2026-W45", []string{"--unit", "u-a"}},
		{leadB, "week=2026-W45&unit=u-b", []string{"--unit", "u-b"}},
		{bureauAdmin, "week=2026-W45&district=d-east", []string{"--district", "d-east"}},
		{bureauAdmin, "week=2026-W45&level=district", []string{"--level", "district"}},
	} {
		r := app.call(c.user, "GET", "pack?"+c.query+"&format=xlsx", nil)
		if r.Status != 200 {
			t.Fatalf("pack?%s as %s: %d %s\nstderr:\n%s", c.query, c.user.Login, r.Status, r.Body, stderr)
		}
		out := filepath.Join(t.TempDir(), "review.xlsx")
		args := append([]string{"review", "--week", "2026-W45", "--format", "xlsx", "--out", out, "--url", vm.URL, "--store", storePath}, c.cli...)
		if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("minewatch %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		cliBook, _ := os.ReadFile(out)
		got, want := sheets(t, r.Body), sheets(t, cliBook)
		// the selection line says who asked; everything else is the review's
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pack?%s differs from minewatch %s:\napp %v\ncli %v", c.query, strings.Join(c.cli, " "), got, want)
		}
		if rows := got["汇总 Summary"]; len(rows) < 8 {
			t.Errorf("summary of pack?%s: %v", c.query, rows)
		} else {
			t.Logf("pack?%s as %s: %v", c.query, c.user.Login, rows[6:9])
		}
	}
	for _, c := range []struct {
		user  *backend.User
		query string
		code  int
	}{
		{leadA, "week=2026-W45&unit=u-b", 403},
		{leadA, "week=2026-W45&under=u-b", 403},
		{stranger, "week=2026-W45", 403},
		{leadA, "week=2026-W99", 400},
		{leadA, "week=2026-W45&format=docx", 400},
		{leadA, "week=2099-W01", 400},
	} {
		if r := app.call(c.user, "GET", "pack?"+c.query, nil); r.Status != c.code {
			t.Errorf("pack?%s as %s: %d %s, want %d", c.query, c.user.Login, r.Status, r.Body, c.code)
		}
	}
	if r := app.call(leadA, "GET", "pack?week=2026-W45&format=pdf", nil); r.Status != 200 || !bytes.HasPrefix(r.Body, []byte("%PDF")) {
		t.Errorf("PDF pack: %d %.200s", r.Status, r.Body)
	}
}
