package plugin

import (
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
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
	v := valueFrames(model.Vector{{Metric: model.Metric{"unit": "u-a", "class": "active", "job": "x"}, Value: 1}}, "", "table")
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
	hi := valueFrames(model.Vector{{Metric: model.Metric{"ip": "10.1.0.1", "kind": "gpu-workstation"}, Value: 1}}, "", "table")
	if f, _ := hi[0].FieldByName("kind"); mapped(f, "gpu-workstation") != "显卡工作站 gpu-workstation" || f.Config.DisplayName != "" || f.At(0) != "gpu-workstation" {
		t.Errorf("kind label column: %+v", f)
	}
	if f, _ := v[0].FieldByName("job"); f.Config != nil {
		t.Errorf("a label no table names got %+v", f.Config)
	}
	// Situation by sector: legends in Chinese first.
	fs := situationFrames([]campaign.SituationSeries{{Group: "school"}}, "sector", nil)
	if d := fs[0].Fields[1].Config.DisplayNameFromDS; d != "学校 school" {
		t.Errorf("sector legend %q", d)
	}
}
