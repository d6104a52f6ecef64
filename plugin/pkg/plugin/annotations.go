package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// annotation is one event on the dashboards' time axis.
type annotation struct {
	time, timeEnd           time.Time
	title, text, tags       string
	ip, unit, kind, subkind string
}

// annotations answers an annotations query: mining episodes (regions from
// the exporter's minewatch_host_mining, hour-bucketed as the tracker sees
// them) and dispositions (points, from the case store), of the IPs in the
// filter and, when given, only of ips.
func (d *Datasource) annotations(ctx context.Context, kind string, f campaign.Filter, ips []string, from, to time.Time, st *campaign.Stats) (*data.Frame, error) {
	episodes, dispositions := kind == "" || kind == models.AnnotationEpisodes, kind == "" || kind == models.AnnotationDispositions
	if !episodes && !dispositions {
		return nil, fmt.Errorf("%w: bad annotationKind %q: want episodes, dispositions or empty for both", campaign.ErrBadInput, kind)
	}
	hosts, err := d.Source.Events(ctx, f, ips, from, to, st)
	if err != nil {
		return nil, err
	}
	var out []annotation
	for _, h := range hosts {
		who := h.IP + " (" + h.Unit + ")"
		if episodes {
			for i, ep := range h.Episodes {
				title, sub := "挖矿时段 mining episode", "episode"
				if h.Relapses[i] {
					title, sub = "复发挖矿 relapse", "relapse"
				}
				out = append(out, annotation{time: ep.Start, timeEnd: ep.End, title: title,
					text: fmt.Sprintf("%s %s: %s – %s", title, who, beijing(ep.Start), beijing(ep.End)),
					ip:   h.IP, unit: h.Unit, kind: models.AnnotationEpisodes, subkind: sub})
			}
		}
		if dispositions {
			for _, dp := range h.Dispositions {
				stage := campaign.StageLabel(dp.Stage) + " " + dp.Stage
				parts := []string{"处置 " + stage + " " + who}
				if dp.Class != "" {
					parts = append(parts, "定性 "+campaign.ClassLabel(dp.Class))
				}
				if dp.Note != "" {
					parts = append(parts, dp.Note)
				}
				if dp.Author != "" {
					parts = append(parts, "登记人 by "+dp.Author)
				}
				out = append(out, annotation{time: dp.At, timeEnd: dp.At, title: "处置 " + stage, text: strings.Join(parts, " · "),
					ip: h.IP, unit: h.Unit, kind: models.AnnotationDispositions, subkind: dp.Stage})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].time.Before(out[j].time) })
	return annotationFrame(out), nil
}

// beijing formats a moment as bureau staff read it.
func beijing(t time.Time) string {
	return t.In(campaign.Location()).Format("2006-01-02 15:04")
}

// annotationFrame lays events out the way Grafana turns a frame into
// annotations: it matches the fields time, timeEnd, title, text and tags by
// name (so they carry no display name), tags split on commas. A point
// (a disposition) has timeEnd equal to time.
func annotationFrame(ev []annotation) *data.Frame {
	n := len(ev)
	ts, te := make([]time.Time, n), make([]time.Time, n)
	title, text, tags, ip, unit := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range ev {
		ts[i], te[i] = e.time.UTC(), e.timeEnd.UTC()
		title[i], text[i], ip[i], unit[i] = e.title, e.text, e.ip, e.unit
		tags[i] = strings.Join([]string{e.kind, e.subkind, e.unit, e.ip}, ",")
	}
	fr := data.NewFrame("annotations",
		data.NewField("time", nil, ts), data.NewField("timeEnd", nil, te),
		data.NewField("title", nil, title), data.NewField("text", nil, text), data.NewField("tags", nil, tags),
		data.NewField("ip", nil, ip), data.NewField("unit", nil, unit))
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTable}
	return fr
}
