package plugin

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// The weekly review frames' column campaign.UnitLinkKey holds each row's
// link to the unit dashboard, and "" for rows that are no unit (the total row, 合计).
// The dashboards show it as a "详情" column (a value mapping prints 单位详情 for
// a link, nothing for "") whose data link is the cell's raw value,
// "${__value.raw:raw}" (${__data.fields.unit_url} would give the mapped text).
// A link on the unit name, built from the unit cell ("/d/…?var-unit=
// ${__data.fields.unit}"), gave the total row a link to a unit called
// "total": Grafana links every cell of a column. With the URL whole in the
// cell, the total row's link comes out empty, and Grafana 12's table drops
// a link without an href (its getCellLinks keeps links with an href or an
// onClick); Grafana 11.6 keeps it (its getLinksSupplier turns "" into
// "about:blank" and its table draws every link), hence the separate column:
// there the total row's cell holds an anchor with no text, nothing to click.
// The dashboards' tests check that these URLs name an existing dashboard and
// its variables.

// UnitDashboardPath is the unit dashboard (uid minewatch-unit, dashboards/unit.json).
const UnitDashboardPath = "/d/minewatch-unit/unit-detail"

// addUnitLinks appends the campaign.UnitLinkKey column to a weekly review frame built
// from t: for each unit row the unit dashboard of that unit over the review's
// week (its Monday 00:00 to Sunday 23:59:59.999 Beijing time, as the weekly
// dashboard's own range "now-1w/w" reads; up to "now" while the week runs, so
// that the unit dashboard's "mining now" figures are of now, not of a future
// instant), "" for the total row. Rows rolled up to districts or bureaus
// (units false) get no link: the unit dashboard shows one unit's own hosts,
// none for a district. subPath is the path Grafana is served under
// ("" at the root, "/grafana" behind a proxy path): the data link's URL is
// taken as it is, Grafana adds no sub-path to it.
func addUnitLinks(fr *data.Frame, t campaign.Table, units bool, week campaign.Week, running bool, loc *time.Location, subPath string) {
	col, ok := t.Index("unit")
	ok = ok && units
	vals := make([]string, len(t.Rows))
	if ok {
		from := week.Start(loc)
		to := strconv.FormatInt(week.End(loc).UnixMilli()-1, 10)
		if running {
			to = "now"
		}
		for r, row := range t.Rows {
			unit, _ := row[col].(string)
			if unit == "" || unit == campaign.TotalUnit {
				continue
			}
			q := url.Values{"var-unit": {unit}, "from": {strconv.FormatInt(from.UnixMilli(), 10)}, "to": {to}}
			vals[r] = subPath + UnitDashboardPath + "?" + q.Encode()
		}
	}
	f := data.NewField(campaign.UnitLinkKey, nil, vals)
	f.Config = &data.FieldConfig{DisplayName: campaign.UnitLinkHeader}
	fr.Fields = append(fr.Fields, f)
}

// grafanaSubPath is the path part of Grafana's app URL (GF_APP_URL, which
// Grafana gives its plugins), without the trailing slash: "" when Grafana is
// served at the root or does not say.
func grafanaSubPath(ctx context.Context) string {
	cfg := backend.GrafanaConfigFromContext(ctx)
	if cfg == nil {
		return ""
	}
	u, err := cfg.AppURL()
	if err != nil {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.TrimRight(p.Path, "/")
}
