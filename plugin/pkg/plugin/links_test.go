package plugin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// TestReviewUnitLinks: the weekly review's frames carry each unit row's link
// to the unit dashboard over the review's week, and none for the total row
// (which the dashboards linked to a unit called "total" before).
func TestReviewUnitLinks(t *testing.T) {
	vm := seededVM(t)
	ds := newDS(t, vm.URL, `{}`)
	links := func(ctx context.Context, q string) map[string]string {
		t.Helper()
		resp, err := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", q, w45From, w45To, time.Minute)}})
		if err != nil {
			t.Fatal(err)
		}
		dr := resp.Responses["A"]
		if dr.Error != nil {
			t.Fatal(dr.Error)
		}
		out := map[string]string{}
		for _, r := range frameRows(t, dr.Frames[0]) {
			out[r["unit"].(string)] = r[campaign.UnitLinkKey].(string)
		}
		return out
	}
	// W45 ended: Monday 2 Nov 00:00 to Sunday 8 Nov 23:59:59.999 Beijing time.
	ended := fmt.Sprintf("from=%d&to=%d", w45From.UnixMilli(), w45To.UnixMilli()-1)
	got := links(context.Background(), `{"queryType":"weekly_review","week":"2026-W45"}`)
	if len(got) < 3 {
		t.Fatalf("review rows: %v", got)
	}
	for unit, link := range got {
		want := "/d/minewatch-unit/unit-detail?" + ended + "&var-unit=" + unit
		if unit == campaign.TotalUnit {
			want = ""
		}
		if link != want {
			t.Errorf("%s: link %q, want %q", unit, link, want)
		}
	}
	// Grafana served under /grafana/ (GF_APP_URL): the links carry the path.
	sub := backend.WithGrafanaConfig(context.Background(), backend.NewGrafanaCfg(map[string]string{backend.AppURL: "https://grafana.example/grafana/"}))
	if l := links(sub, `{"queryType":"weekly_review","week":"2026-W45"}`)["u-a"]; l != "/grafana/d/minewatch-unit/unit-detail?"+ended+"&var-unit=u-a" {
		t.Errorf("under /grafana/: %q", l)
	}
	// The running week (ds.Now is 22 Nov, W47): up to now.
	for unit, link := range links(context.Background(), `{"queryType":"weekly_review","week":"2026-W47"}`) {
		want := fmt.Sprintf("/d/minewatch-unit/unit-detail?from=%d&to=now&var-unit=%s", campaign.Week{Year: 2026, Week: 47}.Start(ds.Source.Config.Location).UnixMilli(), unit)
		if unit == campaign.TotalUnit {
			want = ""
		}
		if link != want {
			t.Errorf("W47 %s: link %q, want %q", unit, link, want)
		}
	}
	// Rows rolled up to districts are no units: no link.
	for unit, link := range links(context.Background(), `{"queryType":"weekly_review","week":"2026-W45","level":"district"}`) {
		if link != "" {
			t.Errorf("district row %s links to %q", unit, link)
		}
	}
}
