package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/models"
)

// resourceWindow is how far back the resource endpoints look (they get no
// time range from Grafana).
const resourceWindow = 30 * 24 * time.Hour

// Variables lists a template variable's values, confined to the scope.
func (d *Datasource) Variables(ctx context.Context, kind string, f campaign.Filter, from, to time.Time, st *campaign.Stats) ([]models.VariableOption, error) {
	out := []models.VariableOption{}
	switch kind {
	case models.VariableUnits, models.VariableSectors, models.VariableDistricts:
		sc, units, err := d.Source.Resolve(ctx, st, f, to, to.Sub(from)+resourceWindow)
		if err != nil {
			return nil, err
		}
		if sc.Empty() {
			return out, nil
		}
		seen := map[string]bool{}
		for _, u := range units {
			var o models.VariableOption
			switch kind {
			case models.VariableUnits:
				o = models.VariableOption{Text: u.Name + " " + u.ID, Value: u.ID}
			case models.VariableSectors:
				o = models.VariableOption{Text: names.SectorLabel(u.Sector), Value: u.Sector}
			default:
				o = models.VariableOption{Text: u.District, Value: u.District}
			}
			if o.Value != "" && !seen[o.Value] {
				seen[o.Value] = true
				out = append(out, o)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	case models.VariableWeeks:
		loc := d.Source.Config.Location
		w := campaign.WeekOf(to.Add(-time.Nanosecond), loc)
		first := campaign.WeekOf(from, loc)
		for i := 0; i < 104; i++ { // newest first, at most two years
			out = append(out, models.VariableOption{Text: w.String(), Value: w.String()})
			if w == first {
				break
			}
			w = w.Prev(loc)
		}
	case models.VariableIPs:
		hosts, err := d.Source.FlaggedIPs(ctx, f, from, to, st)
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			out = append(out, models.VariableOption{Text: h.IP + " (" + h.Unit + ")", Value: h.IP})
		}
	default:
		return nil, fmt.Errorf("%w: unknown variable kind %q (units, sectors, districts, weeks, ips)", campaign.ErrBadInput, kind)
	}
	return out, nil
}

// CallResource serves GET variables?kind=… and GET units.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	ctx, cancel := context.WithTimeout(ctx, d.Settings.Timeout)
	defer cancel()
	if req.Method != http.MethodGet && req.Method != "" {
		return sendJSON(sender, http.StatusMethodNotAllowed, map[string]string{"error": "only GET"})
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	q := u.Query()
	to := d.Now()
	from := to.Add(-resourceWindow)
	switch strings.Trim(req.Path, "/") {
	case "variables":
		f := campaign.Filter{Units: q["unit"], Sectors: q["sector"], Districts: q["district"]}
		opts, err := d.Variables(ctx, q.Get("kind"), f, from, to, nil)
		if err != nil {
			return sendError(sender, err)
		}
		return sendJSON(sender, http.StatusOK, opts)
	case "units":
		units, err := d.Source.Units(ctx, to, nil)
		if err != nil {
			return sendError(sender, err)
		}
		out := make([]models.UnitInfo, 0, len(units))
		for _, u := range units {
			out = append(out, models.UnitInfo{ID: u.ID, Name: u.Name, Sector: u.Sector, District: u.District})
		}
		return sendJSON(sender, http.StatusOK, out)
	}
	return sendJSON(sender, http.StatusNotFound, map[string]string{"error": "unknown resource " + req.Path})
}

func sendError(sender backend.CallResourceResponseSender, err error) error {
	code := http.StatusBadGateway
	if errors.Is(err, campaign.ErrBadUnit) || errors.Is(err, campaign.ErrBadInput) {
		code = http.StatusBadRequest
	}
	return sendJSON(sender, code, map[string]string{"error": err.Error()})
}

func sendJSON(sender backend.CallResourceResponseSender, code int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return sender.Send(&backend.CallResourceResponse{
		Status:  code,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    body,
	})
}
