package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/casestore/storetest"
)

func appCall(t *testing.T, ds *Datasource, user *backend.User, path string, v any) int {
	t.Helper()
	var c collect
	p, _, _ := strings.Cut(path, "?")
	err := ds.CallResource(context.Background(), &backend.CallResourceRequest{PluginContext: backend.PluginContext{User: user}, Method: "GET", Path: p, URL: path}, &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.resp.Status == 200 && v != nil {
		if err := json.Unmarshal(c.resp.Body, v); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, c.resp.Body)
		}
	}
	return c.resp.Status
}

// TestNoticeCaseInTheApp: an imported notice's case (its address never
// flagged by minewatch) is in the unit lead's list with the notice's
// deadlines and no tracker state, and its page shows the notice and how
// each link of the trace was made; a datasource hiding persons blanks the
// person, the account link and the timeline's notes and authors.
func TestNoticeCaseInTheApp(t *testing.T) {
	vm := seededVM(t)
	store, storePath := storetest.Seeded(t, nil)
	store.Now = func() time.Time { return fixedNow.Add(-time.Hour) } // imported and closed before the datasource's now
	notified := fixedNow.Add(-60 * time.Hour)                        // locate deadline passed, report deadline not yet
	n := casestore.Notice{Number: "豫通〔2026〕7号", EgressIP: "203.0.113.7", Start: notified.Add(-3 * time.Hour), End: notified.Add(-2 * time.Hour),
		Notified: notified, Remote: "192.0.2.10:3333",
		Trace: `{"unit":"u-a","links":[{"step":"unit","value":"u-a","certainty":"exact","how":"出口地址属于单位台账 egress in the ledger"}],
			"hosts":[{"ip":"10.1.0.77","device_key":"account:zhang3","links":[
				{"step":"host","value":"10.1.0.77","certainty":"exact","how":"流记录 flows to the remote"},
				{"step":"account","value":"zhang3","certainty":"nearest","how":"RADIUS 计费记录 accounting"},
				{"step":"person","value":"张三","certainty":"exact","how":"资产台账 ledger"}]}]}`}
	c := casestore.Case{Unit: "u-a", IPs: []string{"10.1.0.77"}, DeviceKey: "account:zhang3", Device: "宿舍 PC", Person: "张三",
		LocateDeadline: notified.Add(campaign.LocateDeadline), ReportDeadline: notified.Add(campaign.ReportDeadline)}
	got, _, _, err := store.OpenNoticeCase(context.Background(), n, c, storetest.Seeder)
	if err != nil {
		t.Fatal(err)
	}
	// closed before the pages are read: the lead's open list must not show it, all must
	if _, err := store.Record(context.Background(), casestore.NewDisposition{IP: "10.1.0.77", Unit: "u-a", Stage: "closed", Class: "false-positive", Note: "张三 说明情况", CaseID: got.ID},
		casestore.Author{Login: "lead-a", Role: "Editor", Via: casestore.ViaGrafana}); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(got.ID)
	for _, hide := range []bool{false, true} {
		ds := newDS(t, vm.URL, fmt.Sprintf(`{"caseStore":%q,"ledgerFiles":[%q],"hidePersons":%v}`, storePath, appLedger(t), hide))
		var open, all []caseRow
		appCall(t, ds, leadA, "cases", &open)
		appCall(t, ds, leadA, "cases?state=all", &all)
		var row *caseRow
		for i := range all {
			if all[i].ID == id {
				row = &all[i]
			}
		}
		for _, o := range open {
			if o.ID == id {
				t.Errorf("closed notice case in the open list: %+v", o)
			}
		}
		if row == nil || row.Source != "notice" || row.State != "" || row.Closed == nil || !row.LocateDue.Equal(c.LocateDeadline) || !row.Opened.Equal(notified) || row.Overdue {
			t.Fatalf("hide=%v: the notice case in all: %+v", hide, row)
		}
		var det struct {
			caseDetailJSON
			Notices []struct{ Number, Egress, Window, Remote string }
			Trace   []struct{ Host, Link, Value, How, Confidence string }
		}
		if code := appCall(t, ds, leadA, "cases/"+id, &det); code != 200 {
			t.Fatal(code)
		}
		if len(det.Notices) != 1 || det.Notices[0].Number != n.Number || det.Notices[0].Egress != "203.0.113.7" || !strings.Contains(det.Notices[0].Window, "/") ||
			len(det.Trace) != 4 || det.Trace[2].Link != "account" || det.Trace[2].Confidence != "nearest" || det.Trace[2].Host != "10.1.0.77" {
			t.Errorf("hide=%v: notices %+v trace %+v", hide, det.Notices, det.Trace)
		}
		wantPerson, wantAccount, wantNote := "张三", "zhang3", "张三 说明情况"
		if hide {
			wantPerson, wantAccount, wantNote = "", "", ""
		}
		if det.Case.Person != wantPerson || det.Trace[2].Value != wantAccount || det.Trace[3].Value != wantPerson ||
			len(det.Timeline) != 1 || det.Timeline[0].Note != wantNote || (hide && det.Timeline[0].Author != "") || (hide && strings.Contains(det.Case.DeviceKey, "zhang3")) {
			t.Errorf("hide=%v: person %q device key %q trace %+v timeline %+v", hide, det.Case.Person, det.Case.DeviceKey, det.Trace, det.Timeline)
		}
		if code := appCall(t, ds, leadB, "cases/"+id, nil); code != 403 {
			t.Errorf("lead-b reading u-a's notice case: %d", code)
		}
		if code := appCall(t, ds, leadA, "cases/"+id+"/report?format=docx", nil); code != 200 {
			t.Errorf("the notice case's report: %d", code)
		}
	}
}

// TestPDFWithoutChromium: a Grafana server without Chromium answers a PDF
// request with 501 and says why; DOCX still works.
func TestPDFWithoutChromium(t *testing.T) {
	vm := seededVM(t)
	_, storePath := storetest.Campaign(t)
	ds := newDS(t, vm.URL, fmt.Sprintf(`{"caseStore":%q,"ledgerFiles":[%q],"reportTo":"区教育局网络安全科 wa@edu.example 0371-0000000"}`, storePath, appLedger(t)))
	t.Setenv("MINEWATCH_CHROMIUM", "/nonexistent/chromium")
	var c collect
	if err := ds.CallResource(context.Background(), &backend.CallResourceRequest{PluginContext: backend.PluginContext{User: leadA}, Method: "GET",
		Path: "cases/d~u-a~10.1.0.2/report", URL: "cases/d~u-a~10.1.0.2/report?format=pdf"}, &c); err != nil {
		t.Fatal(err)
	}
	if c.resp.Status != 501 || !strings.Contains(string(c.resp.Body), "Chromium") {
		t.Errorf("PDF without Chromium: %d %s", c.resp.Status, c.resp.Body)
	}
	if code := appCall(t, ds, leadA, "pack?week=2026-W45&format=pdf", nil); code != 501 {
		t.Errorf("PDF pack without Chromium: %d", code)
	}
	c = collect{}
	if err := ds.CallResource(context.Background(), &backend.CallResourceRequest{PluginContext: backend.PluginContext{User: leadA}, Method: "GET",
		Path: "cases/d~u-a~10.1.0.2/report", URL: "cases/d~u-a~10.1.0.2/report?format=docx"}, &c); err != nil {
		t.Fatal(err)
	}
	if c.resp.Status != 200 || !strings.Contains(string(docxXML(t, c.resp.Body)), "报送：区教育局网络安全科 wa@edu.example 0371-0000000") {
		t.Errorf("DOCX without Chromium, with where it goes: %d", c.resp.Status)
	}
	var me Caller
	if appCall(t, ds, leadA, "me", &me) != 200 || me.ReportTo != "区教育局网络安全科 wa@edu.example 0371-0000000" {
		t.Errorf("me.reportTo: %+v", me)
	}
}
