package plugin

import (
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// tableFrame turns a campaign table into a frame: field names are the
// stable English keys (what dashboards' overrides match), display names
// Chinese first. The cell types follow from the column kinds, which the
// campaign package's typed column constructors tie to the values.
func tableFrame(name string, t campaign.Table) *data.Frame {
	fields := make([]*data.Field, len(t.Fields))
	for i, c := range t.Fields {
		var f *data.Field
		switch c.Kind {
		case campaign.KindTime:
			vals := make([]*time.Time, len(t.Rows))
			for r, row := range t.Rows {
				if tm := row[i].(time.Time); !tm.IsZero() {
					tm := tm.UTC()
					vals[r] = &tm
				}
			}
			f = data.NewField(c.Key, nil, vals)
		case campaign.KindFloat:
			vals := make([]float64, len(t.Rows))
			for r, row := range t.Rows {
				vals[r] = row[i].(float64)
			}
			f = data.NewField(c.Key, nil, vals)
		case campaign.KindInt:
			vals := make([]int64, len(t.Rows))
			for r, row := range t.Rows {
				vals[r] = int64(row[i].(int))
			}
			f = data.NewField(c.Key, nil, vals)
		case campaign.KindBool:
			vals := make([]bool, len(t.Rows))
			for r, row := range t.Rows {
				vals[r] = row[i].(bool)
			}
			f = data.NewField(c.Key, nil, vals)
		default:
			vals := make([]string, len(t.Rows))
			for r, row := range t.Rows {
				vals[r] = row[i].(string)
			}
			f = data.NewField(c.Key, nil, vals)
		}
		f.Config = &data.FieldConfig{DisplayName: c.Header, Mappings: codeMappings(c.Key)}
		if c.Kind == campaign.KindBool {
			f.Config.Mappings = boolMappings
		}
		fields[i] = f
	}
	fr := data.NewFrame(name, fields...)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return fr
}

// codeMappings are value mappings showing a code column's labels
// ("挖矿中 mining" for mining): the cells keep the code, which is what
// dashboards' filters and overrides match; nil for other columns.
func codeMappings(key string) data.ValueMappings {
	labels := campaign.CodeLabels(key)
	if len(labels) == 0 {
		return nil
	}
	m := data.ValueMapper{}
	for code, label := range labels {
		m[code] = data.ValueMappingResult{Text: label}
	}
	return data.ValueMappings{m}
}

// boolMappings show a yes/no column as the CLI prints it (是 yes, 否 no)
// instead of Grafana's true/false; the cells stay booleans for overrides.
var boolMappings = data.ValueMappings{data.ValueMapper{
	"true":  {Text: campaign.BoolLabel(true)},
	"false": {Text: campaign.BoolLabel(false)},
}}

// labelColumnConfig is the display of a raw query's label column: the
// header the campaign's tables give that key, Chinese first, and the labels
// of its codes; nil for a label no table names and no code list labels. A
// label only raw series carry (kind, of minewatch_host_info) keeps its name,
// which the dashboards rename, but shows its codes' labels.
func labelColumnConfig(key string) *data.FieldConfig {
	h, m := campaign.ColumnHeader(key), codeMappings(key)
	if h == "" && m == nil {
		return nil
	}
	return &data.FieldConfig{DisplayName: h, Mappings: m}
}

func setExecuted(fr *data.Frame, q string) {
	if fr.Meta == nil {
		fr.Meta = &data.FrameMeta{}
	}
	fr.Meta.ExecutedQueryString = q
}

// timeField is the time field of a frame a range query answered, with the
// query's step as its interval (milliseconds), as Grafana's Prometheus
// datasource gives it: Grafana's time series and state timeline panels
// insert a null wherever two points lie more than the interval apart
// (applyNullInsertThreshold in @grafana/data), so a series that stops
// ends there instead of being drawn on, or its last state carried, to the
// next point or the end of the range.
func timeField(ts []time.Time, step time.Duration) *data.Field {
	f := data.NewField("time", nil, ts)
	f.Config = &data.FieldConfig{DisplayName: "时间 time", Interval: float64(step.Milliseconds())}
	return f
}

// situationFrames gives one numeric time series per group (alertable), at
// step, the step the counts were evaluated at.
func situationFrames(ser []campaign.SituationSeries, groupBy string, names map[string]string, step time.Duration) data.Frames {
	if groupBy == "" {
		groupBy = "unit"
	}
	var frames data.Frames
	for _, s := range ser {
		vals := make([]float64, len(s.Values))
		copy(vals, s.Values)
		ts := make([]time.Time, len(s.Times))
		for i, t := range s.Times {
			ts[i] = t.UTC()
		}
		display := s.Group
		if n := names[s.Group]; n != "" {
			display = n + " " + s.Group
		} else if groupBy == "sector" {
			display = sectorLabel(s.Group)
		}
		if s.Group == campaign.TotalUnit {
			display = "合计 total"
		}
		v := data.NewField("mining_ips", data.Labels{groupBy: s.Group}, vals)
		v.Config = &data.FieldConfig{DisplayNameFromDS: display}
		fr := data.NewFrame("mining_ips", timeField(ts, step), v)
		fr.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		frames = append(frames, fr)
	}
	if len(frames) == 0 { // an empty but typed response keeps alert rules evaluating to "no data"
		fr := data.NewFrame("mining_ips", timeField([]time.Time{}, step), data.NewField("mining_ips", nil, []float64{}))
		fr.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		frames = append(frames, fr)
	}
	return frames
}

// legend renders a legendFormat like "{{unit}} {{ip}}"; empty gives the
// series' labels.
func legend(format string, m model.Metric) string {
	if format == "" {
		return ""
	}
	out := format
	for k, v := range m {
		out = strings.ReplaceAll(out, "{{"+string(k)+"}}", string(v))
		out = strings.ReplaceAll(out, "{{ "+string(k)+" }}", string(v))
	}
	return out
}

func labelsOf(m model.Metric) data.Labels {
	l := data.Labels{}
	for k, v := range m {
		if k != model.MetricNameLabel {
			l[string(k)] = string(v)
		}
	}
	if n, ok := m[model.MetricNameLabel]; ok {
		l["__name__"] = string(n)
	}
	return l
}

// valueFrames turns a raw query's result into numeric frames: one time
// series per series for a range query (evaluated at step), one numeric-long
// table for an instant one (format "table").
func valueFrames(v model.Value, legendFormat, format string, step time.Duration) data.Frames {
	switch x := v.(type) {
	case model.Matrix:
		var frames data.Frames
		for _, ss := range x {
			ts := make([]time.Time, len(ss.Values))
			vals := make([]float64, len(ss.Values))
			for i, p := range ss.Values {
				ts[i], vals[i] = p.Timestamp.Time().UTC(), float64(p.Value)
			}
			val := data.NewField("value", labelsOf(ss.Metric), vals)
			if l := legend(legendFormat, ss.Metric); l != "" {
				val.Config = &data.FieldConfig{DisplayNameFromDS: l}
			}
			fr := data.NewFrame("", timeField(ts, step), val)
			fr.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			frames = append(frames, fr)
		}
		return frames
	case model.Vector:
		keys := map[string]bool{}
		for _, s := range x {
			for k := range s.Metric {
				keys[string(k)] = true
			}
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		fields := []*data.Field{}
		for _, k := range names {
			vals := make([]string, len(x))
			for i, s := range x {
				vals[i] = string(s.Metric[model.LabelName(k)])
			}
			f := data.NewField(k, nil, vals)
			f.Config = labelColumnConfig(k)
			fields = append(fields, f)
		}
		vals := make([]float64, len(x))
		for i, s := range x {
			vals[i] = float64(s.Value)
		}
		val := data.NewField("value", nil, vals)
		val.Config = &data.FieldConfig{DisplayName: "值 value"}
		fr := data.NewFrame("", append(fields, val)...)
		fr.Meta = &data.FrameMeta{Type: data.FrameTypeNumericLong, TypeVersion: data.FrameTypeVersion{0, 1}}
		return data.Frames{fr}
	case *model.Scalar:
		tf := data.NewField("time", nil, []time.Time{x.Timestamp.Time().UTC()})
		tf.Config = &data.FieldConfig{DisplayName: "时间 time"}
		vf := data.NewField("value", nil, []float64{float64(x.Value)})
		vf.Config = &data.FieldConfig{DisplayName: "值 value"}
		fr := data.NewFrame("", tf, vf)
		return data.Frames{fr}
	}
	return nil
}

// sectorLabel names a sector group of the situation ("学校 school").
func sectorLabel(id string) string { return names.SectorLabel(id) }

// variableFrame keeps the field names text and value without display names:
// Grafana finds a variable's options by those names.
func variableFrame(opts []models.VariableOption) *data.Frame {
	text := make([]string, len(opts))
	value := make([]string, len(opts))
	for i, o := range opts {
		text[i], value[i] = o.Text, o.Value
	}
	return data.NewFrame("variable", data.NewField("text", nil, text), data.NewField("value", nil, value))
}
