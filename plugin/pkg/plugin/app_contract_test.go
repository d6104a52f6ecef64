package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// callAs calls a resource of ds in process as Grafana's user would.
func callAs(t *testing.T, ds *Datasource, user *backend.User, method, path string, body []byte) *backend.CallResourceResponse {
	t.Helper()
	var c collect
	p, _, _ := strings.Cut(path, "?")
	req := &backend.CallResourceRequest{PluginContext: backend.PluginContext{User: user}, Method: method, Path: p, URL: path, Body: body}
	if err := ds.CallResource(context.Background(), req, &c); err != nil {
		t.Fatal(err)
	}
	return c.resp
}

// TestAppIDIsThePlugins: the app id the alert emails' case links use is the
// one plugin.json declares.
func TestAppIDIsThePlugins(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "src", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pj struct{ ID, Type string }
	if err := json.Unmarshal(b, &pj); err != nil || pj.ID != models.AppID || pj.Type != "app" {
		t.Errorf("plugin.json id %q type %q (%v), models.AppID %q", pj.ID, pj.Type, err, models.AppID)
	}
	if p := models.CasesPath + models.DetectedCaseID("u-a", "10.1.0.2"); p != "/a/minewatch-campaign-app/cases/d~u-a~10.1.0.2" {
		t.Errorf("case page path %s", p)
	}
}

// The contract points the app's pages rest on (docs/app-api.md), each
// against the seeded campaign in a real VictoriaMetrics and a real store.
func TestAppContract(t *testing.T) {
	vm := seededVM(t)
	ledger := appLedger(t)

	// me of bureau staff lists every unit of the scope, which the pages'
	// unit filter is built from: the ledger's units and those scopeUnits
	// names, also once the units' series are older than the 30 days `me`
	// reads (judged in 2027 here).
	t.Run("me lists every unit in scope", func(t *testing.T) {
		for _, at := range []time.Time{fixedNow, vmtest.At(2027, 6, 1, 0, 0)} {
			ds := newDS(t, vm.URL, fmt.Sprintf(`{"ledgerFiles":[%q],"scopeUnits":["u-a","u-b","u-c","u-new"]}`, ledger))
			ds.Now = func() time.Time { return at }
			r := callAs(t, ds, bureauAdmin, "GET", "me", nil)
			var me Caller
			if r.Status != 200 || json.Unmarshal(r.Body, &me) != nil {
				t.Fatalf("me at %s: %d %s", at, r.Status, r.Body)
			}
			if got, want := fmt.Sprint(me.Units), "[{u-a 一中} {u-b 二中} {u-c 税务局} {u-new }]"; got != want {
				t.Errorf("bureau's units at %s: %s, want %s", at, got, want)
			}
		}
	})

	// pack?district= takes the district ids variables?kind=districts lists
	// (the pack page's dropdown), for the bureau and, narrowed to their own
	// units, for a unit lead.
	t.Run("pack takes the districts variables lists", func(t *testing.T) {
		ds := newDS(t, vm.URL, fmt.Sprintf(`{"ledgerFiles":[%q]}`, ledger))
		r := callAs(t, ds, bureauAdmin, "GET", "variables?kind=districts", nil)
		var opts []models.VariableOption
		if r.Status != 200 || json.Unmarshal(r.Body, &opts) != nil || len(opts) != 3 {
			t.Fatalf("districts: %d %s", r.Status, r.Body)
		}
		for _, o := range opts {
			for _, u := range []*backend.User{bureauAdmin, leadA} {
				q := url.Values{"week": {"2026-W45"}, "district": {o.Value}, "format": {"xlsx"}}
				r := callAs(t, ds, u, "GET", "pack?"+q.Encode(), nil)
				if r.Status != 200 || !bytes.HasPrefix(r.Body, []byte("PK")) {
					t.Errorf("pack?district=%s as %s: %d %.200s", o.Value, u.Login, r.Status, r.Body)
				}
			}
		}
	})

	// a disposition without its class is refused (the form requires one)
	t.Run("disposition without class", func(t *testing.T) {
		ds := newDS(t, vm.URL, fmt.Sprintf(`{"ledgerFiles":[%q]}`, ledger))
		before, _ := ds.Store.Dispositions(context.Background(), campaign.Scope{All: true}, time.Unix(0, 0), time.Now().Add(time.Hour))
		for _, body := range []string{`{"caseId":"d~u-a~10.1.0.2","stage":"located"}`, `{"ip":"10.1.0.2","unit":"u-a","stage":"located","class":" "}`} {
			r := callAs(t, ds, leadA, "POST", "dispositions", []byte(body))
			if r.Status != 400 || !strings.Contains(string(r.Body), "class") {
				t.Errorf("%s: %d %s, want 400", body, r.Status, r.Body)
			}
		}
		after, _ := ds.Store.Dispositions(context.Background(), campaign.Scope{All: true}, time.Unix(0, 0), time.Now().Add(time.Hour))
		if len(after) != len(before) {
			t.Errorf("refused writes changed the store: %d → %d dispositions", len(before), len(after))
		}
	})

	// cases/d~<unit>~<ip> (the alert emails' link) finds the IP's store case
	// once one exists: through the tracker's row while the IP is flagged in
	// the window, else the IP's open store case.
	t.Run("a d~ id finds the store case", func(t *testing.T) {
		ds := newDS(t, vm.URL, fmt.Sprintf(`{"ledgerFiles":[%q]}`, ledger))
		author := casestore.Author{Login: "lead-a", Role: "Editor", Via: casestore.ViaGrafana}
		rec, err := ds.Store.Record(context.Background(), casestore.NewDisposition{IP: "10.1.0.2", Unit: "u-a", Stage: "located", Class: "passive"}, author)
		if err != nil {
			t.Fatal(err)
		}
		// 10.1.0.77 was never flagged: a case only the store has
		quiet, err := ds.Store.Record(context.Background(), casestore.NewDisposition{IP: "10.1.0.77", Unit: "u-a", Stage: "located", Class: "active"}, author)
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]int64{"d~u-a~10.1.0.2": rec.CaseID, "d~u-a~10.1.0.77": quiet.CaseID} {
			r := callAs(t, ds, leadA, "GET", "cases/"+id, nil)
			var det struct{ Case struct{ ID string } }
			if r.Status != 200 || json.Unmarshal(r.Body, &det) != nil || det.Case.ID != fmt.Sprint(want) {
				t.Errorf("cases/%s: %d %.300s, want case %d", id, r.Status, r.Body, want)
			}
		}
		if r := callAs(t, ds, leadA, "GET", "cases/d~u-a~10.1.0.78", nil); r.Status != 404 {
			t.Errorf("cases/d~u-a~10.1.0.78 (nothing there): %d %s", r.Status, r.Body)
		}
		if r := callAs(t, ds, leadB, "GET", "cases/d~u-a~10.1.0.77", nil); r.Status != 403 {
			t.Errorf("another unit's lead: %d %s", r.Status, r.Body)
		}
	})
}
