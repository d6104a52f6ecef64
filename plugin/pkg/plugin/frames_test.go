package plugin

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/campaign/vmtest"
)

// mapped is the text a field's value mappings give code.
func mapped(f *data.Field, code string) string {
	if f == nil || f.Config == nil {
		return ""
	}
	for _, m := range f.Config.Mappings {
		if vm, ok := m.(data.ValueMapper); ok {
			return vm[code].Text
		}
	}
	return ""
}

// TestCodesShowChineseLabels: cells keep their codes (what dashboards and
// alert rules match), value mappings show Chinese first.
func TestCodesShowChineseLabels(t *testing.T) {
	fr := tableFrame("tracker", campaign.TrackerTable([]campaign.TrackerRow{{IP: "10.0.0.1", Unit: "u-a", State: campaign.StateRelapsed, Class: "passive", Disposition: "located"}}))
	for _, c := range []struct{ field, code, want string }{
		{"state", "relapsed", "复发 relapsed"},
		{"state", "mining", "挖矿中 mining"},
		{"class", "passive", "被动(木马) passive"},
		{"disposition_class", "false-positive", "误报 false-positive"},
		{"disposition", "located", "已定位 located"},
	} {
		f, _ := fr.FieldByName(c.field)
		if got := mapped(f, c.code); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.field, c.code, got, c.want)
		}
	}
	if f, _ := fr.FieldByName("state"); f.At(0) != "relapsed" {
		t.Errorf("the state cell is %v, want the code", f.At(0))
	}
	rv := tableFrame("review", campaign.ReviewTable([]campaign.ReviewRow{{Unit: "u-a", Sector: "school"}}))
	if f, _ := rv.FieldByName("sector"); mapped(f, "school") != "学校 school" {
		t.Errorf("sector mapping: %+v", f.Config)
	}
	// A raw query's label columns are headed as the campaign's tables head them.
	v := valueFrames(model.Vector{{Metric: model.Metric{"unit": "u-a", "class": "active", "job": "x"}, Value: 1}}, "", "table", 0)
	for name, want := range map[string]string{"unit": "单位 unit", "class": "类别 class", "value": "值 value"} {
		f, _ := v[0].FieldByName(name)
		if f == nil || f.Config == nil || f.Config.DisplayName != want {
			t.Errorf("%s: display name %+v, want %q", name, f, want)
		}
	}
	if f, _ := v[0].FieldByName("class"); mapped(f, "active") != "主动挖矿 active" {
		t.Errorf("class label column has no mapping")
	}
	// An asset kind reads Chinese first; the column keeps its name (the IP
	// dashboard renames it) and the cell its code.
	hi := valueFrames(model.Vector{{Metric: model.Metric{"ip": "10.1.0.1", "kind": "gpu-workstation"}, Value: 1}}, "", "table", 0)
	if f, _ := hi[0].FieldByName("kind"); mapped(f, "gpu-workstation") != "显卡工作站 gpu-workstation" || f.Config.DisplayName != "" || f.At(0) != "gpu-workstation" {
		t.Errorf("kind label column: %+v", f)
	}
	if f, _ := v[0].FieldByName("job"); f.Config != nil {
		t.Errorf("a label no table names got %+v", f.Config)
	}
	// Situation by sector: legends in Chinese first.
	fs := situationFrames([]campaign.SituationSeries{{Group: "school"}}, "sector", nil, time.Minute)
	if d := fs[0].Fields[1].Config.DisplayNameFromDS; d != "学校 school" {
		t.Errorf("sector legend %q", d)
	}
}

// intervalOf is the interval (ms) a frame's time field gives Grafana; -1
// without a time field, 0 with none set.
func intervalOf(fr *data.Frame) float64 {
	for _, f := range fr.Fields {
		if f.Type() == data.FieldTypeTime || f.Type() == data.FieldTypeNullableTime {
			if f.Config == nil {
				return 0
			}
			return f.Config.Interval
		}
	}
	return -1
}

// TestRangeFramesCarryTheirStep: every time series a range query answers
// has the query's step as its time field's interval, as Grafana's
// Prometheus datasource sets it, so that Grafana's panels end a series
// where its points stop; instant answers have no time field to carry it.
func TestRangeFramesCarryTheirStep(t *testing.T) {
	t0 := vmtest.At(2026, 11, 5, 0, 0)
	m := model.Matrix{{Metric: model.Metric{"unit": "u-a"}, Values: []model.SamplePair{{Timestamp: model.TimeFromUnixNano(t0.UnixNano()), Value: 1}}}}
	if got := intervalOf(valueFrames(m, "", "time_series", 5*time.Minute)[0]); got != 300000 {
		t.Errorf("range series: interval %v ms, want 300000", got)
	}
	if got := intervalOf(valueFrames(model.Vector{{Metric: model.Metric{"unit": "u-a"}, Value: 1}}, "", "table", 0)[0]); got != -1 {
		t.Errorf("instant table: a time field with interval %v", got)
	}
	ser := []campaign.SituationSeries{{Group: "u-a", Times: []time.Time{t0}, Values: []float64{1}}}
	if got := intervalOf(situationFrames(ser, "unit", nil, 2*time.Hour)[0]); got != 7.2e6 {
		t.Errorf("situation: interval %v ms, want 7200000", got)
	}
	if got := intervalOf(situationFrames(nil, "unit", nil, time.Hour)[0]); got != 3.6e6 {
		t.Errorf("empty situation: interval %v ms, want 3600000", got)
	}
}

// TestIntervalIsTheStepVictoriaMetricsUsed: through QueryData against a
// real VictoriaMetrics, the interval of each series is the spacing of the
// points it returned, for a step set by maxDataPoints and for the
// situation's one-minute floor.
func TestIntervalIsTheStepVictoriaMetricsUsed(t *testing.T) {
	vm := seededVM(t)
	// The seed writes every 15 min; the exporter pushes every 15 s. A host
	// written every 30 s for half an hour lets the situation's one-minute
	// windows each hold a sample.
	var dense vmtest.Series
	dense.Every("minewatch_host_mining", 1, vmtest.At(2026, 11, 6, 0, 0), vmtest.At(2026, 11, 6, 0, 30), 30*time.Second, "ip", "10.1.9.9", "unit", "u-a", "class", "active")
	vm.Import(t, dense.Lines)
	vm.Flush(t)
	ds := newDS(t, vm.URL, `{}`)
	from := vmtest.At(2026, 11, 3, 0, 0)
	for _, c := range []struct {
		name string
		q    backend.DataQuery
		want time.Duration
	}{
		// 3 d over 300 points = 14.4 min, rounded as Grafana rounds: 15 min
		{"maxDataPoints", backend.DataQuery{RefID: "A", JSON: json.RawMessage(`{"queryType":"metricsql","expr":"minewatch_host_mining{ip=\"10.1.0.1\"}"}`),
			TimeRange: backend.TimeRange{From: from, To: from.Add(72 * time.Hour)}, Interval: time.Minute, MaxDataPoints: 300}, 15 * time.Minute},
		// 30 min over 1000 points asks for 15 s (the frontend's interval); the situation counts per minute at least
		{"situation floor", backend.DataQuery{RefID: "A", JSON: json.RawMessage(`{"queryType":"situation","groupBy":"unit","units":["u-a"]}`),
			TimeRange: backend.TimeRange{From: vmtest.At(2026, 11, 6, 0, 0), To: vmtest.At(2026, 11, 6, 0, 30)}, Interval: 15 * time.Second, MaxDataPoints: 1000}, time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			dr := run(t, ds, c.q)
			if dr.Error != nil || len(dr.Frames) == 0 {
				t.Fatalf("error %v, %d frames", dr.Error, len(dr.Frames))
			}
			for _, fr := range dr.Frames {
				if got := intervalOf(fr); got != float64(c.want.Milliseconds()) {
					t.Errorf("%s: interval %v ms, want %d", fr.Name, got, c.want.Milliseconds())
				}
				tf := fr.Fields[0]
				if tf.Len() < 2 {
					t.Fatalf("%s: %d points, too few to see the step", fr.Name, tf.Len())
				}
				if d := tf.At(1).(time.Time).Sub(tf.At(0).(time.Time)); d != c.want {
					t.Errorf("%s: points %s apart, the interval says %s", fr.Name, d, c.want)
				}
			}
		})
	}
}
