package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// TestAnnotations: episodes from the seeded exporter series in a real
// VictoriaMetrics, dispositions from the real SQLite case store, in the frame
// layout Grafana reads annotations from.
func TestAnnotations(t *testing.T) {
	vm := seededVM(t)
	ds := newDS(t, vm.URL, `{}`)
	ann := func(ds *Datasource, js string) []map[string]any {
		t.Helper()
		dr := run(t, ds, dataQuery("A", js, w45From, w45To, time.Minute))
		if dr.Error != nil {
			t.Fatalf("%s: %v", js, dr.Error)
		}
		if len(dr.Frames) != 1 {
			t.Fatalf("%s: %d frames", js, len(dr.Frames))
		}
		for _, name := range []string{"time", "timeEnd", "title", "text", "tags"} {
			if f, _ := dr.Frames[0].FieldByName(name); f == nil {
				t.Fatalf("%s: no field %q (Grafana matches annotation fields by name)", js, name)
			}
		}
		return frameRows(t, dr.Frames[0])
	}

	rows := ann(ds, `{"queryType":"annotations","units":["u-a","u-b"]}`)
	type ev struct{ time, end, title, tags string }
	got := map[ev]string{}
	for _, r := range rows {
		at := func(k string) string { return r[k].(time.Time).In(vmtest.CST).Format(time.RFC3339) }
		got[ev{at("time"), at("timeEnd"), r["title"].(string), r["tags"].(string)}] = r["text"].(string)
	}
	cst := func(d, h int) string { return vmtest.At(2026, 11, d, h, 0).Format(time.RFC3339) }
	want := []ev{
		// flagged 3 Nov 10:10 – 5 Nov 09:10: the hour buckets (10:00, 11:00] … (08:00, 09:00]
		{cst(3, 10), cst(5, 9), "挖矿时段 mining episode", "episodes,episode,u-a,10.1.0.1"},
		{cst(4, 12), cst(4, 12), "处置 已定位 located", "dispositions,located,u-a,10.1.0.1"},
		{cst(5, 9), cst(5, 9), "处置 已报告 reported", "dispositions,reported,u-a,10.1.0.1"},
		// flagged again in November after September: a relapse
		{cst(6, 9), cst(7, 21), "复发挖矿 relapse", "episodes,relapse,u-b,10.2.0.2"},
	}
	for _, w := range want {
		if _, ok := got[w]; !ok {
			t.Errorf("missing %+v in %v", w, got)
		}
	}
	if txt := got[want[1]]; !strings.Contains(txt, "学生宿舍私接矿机") || !strings.Contains(txt, "主动挖矿 active") {
		t.Errorf("disposition text %q lacks its note or class", txt)
	}
	// 10.1.0.2 (flagged from 4 Nov 20:10, still mining at the range end), nothing of units outside the filter
	found := false
	for _, r := range rows {
		found = found || r["ip"] == "10.1.0.2"
		if u := r["unit"]; u != "u-a" && u != "u-b" {
			t.Errorf("unit %v outside the filter: %v", u, r)
		}
	}
	if !found {
		t.Error("10.1.0.2's open episode is missing")
	}

	// One IP, dispositions only ($ip on the IP dashboard).
	rows = ann(ds, `{"queryType":"annotations","annotationKind":"dispositions","ips":["10.1.0.1"]}`)
	if len(rows) != 2 {
		t.Errorf("dispositions of 10.1.0.1: %v", rows)
	}
	for _, r := range rows {
		if r["ip"] != "10.1.0.1" || !strings.HasPrefix(r["tags"].(string), "dispositions,") {
			t.Errorf("not a disposition of 10.1.0.1: %v", r)
		}
	}
	// The datasource's unit scope holds: u-b only.
	for _, r := range ann(newDS(t, vm.URL, `{"scopeUnits":["u-b"]}`), `{"queryType":"annotations"}`) {
		if r["unit"] != "u-b" {
			t.Errorf("scoped to u-b, got %v", r)
		}
	}
	// Persons hidden: no note, no author.
	for _, r := range ann(newDS(t, vm.URL, `{"hidePersons":true}`), `{"queryType":"annotations","ips":["10.1.0.1"]}`) {
		if strings.Contains(r["text"].(string), "学生宿舍") {
			t.Errorf("note shown with hidePersons: %v", r)
		}
	}
	if dr := run(t, ds, dataQuery("A", `{"queryType":"annotations","annotationKind":"alerts"}`, w45From, w45To, time.Minute)); dr.Error == nil {
		t.Error("a bad annotationKind was accepted")
	}
}
