// Package plugin is the minewatch Grafana backend datasource: it answers
// the frontend's queries (tracker, weekly review, situation, pools, raw
// MetricsQL, variables) from VictoriaMetrics through the campaign package,
// confining every path to the datasource's unit scope.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"

	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
	"github.com/minewatch/minewatch/plugin/pkg/models"
	"github.com/minewatch/minewatch/plugin/pkg/trace"
)

// Datasource is one configured instance of the datasource.
type Datasource struct {
	Settings models.Settings
	Source   *campaign.Source
	// Store is the case store (nil when caseStore is not set): the tracker
	// reads dispositions from it and the resource API writes them.
	Store *casestore.Store
	// Ledger is the unit/asset ledger of ledgerFiles (nil without): the
	// app's pages find a unit lead's units by the lead email in it.
	Ledger *ledger.Ledger
	// Now is the clock used to judge a week still running (tests fix it).
	Now func() time.Time
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewDatasource is the instance factory Grafana's instance manager calls
// whenever the settings of a datasource change.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	set, err := models.LoadSettings(s.URL, s.JSONData, s.DecryptedSecureJSONData)
	if err != nil {
		return nil, err
	}
	return New(set)
}

// New builds a datasource from decoded settings, its source through the
// same constructor the CLI uses (campaign.NewSource).
func New(set models.Settings) (*Datasource, error) {
	src, err := campaign.NewSource(set.SourceOptions())
	if err != nil {
		return nil, err
	}
	ds := &Datasource{Settings: set, Source: src, Now: time.Now}
	if len(set.LedgerFiles) > 0 {
		l, err := ledger.Load(set.LedgerFiles, nil)
		if err != nil {
			return nil, fmt.Errorf("ledgerFiles: %w", err)
		}
		src.Assets = campaign.LedgerAssets{Ledger: l}
		ds.Ledger = l
	}
	if set.CaseStore != "" {
		ctx, cancel := context.WithTimeout(context.Background(), set.Timeout)
		defer cancel()
		if ds.Store, err = casestore.Open(ctx, set.CaseStore); err != nil {
			return nil, fmt.Errorf("caseStore: %w", err)
		}
		ds.Source.Dispositions, ds.Source.Devices = ds.Store, ds.Store
		if len(set.LeaseFiles) > 0 || len(set.AccountingFiles) > 0 {
			// A detected case is traced to its MAC and account when opened (casestore.HostTracer).
			cfg := trace.DefaultConfiguration()
			cfg.LeaseFiles, cfg.AccountingFiles = set.LeaseFiles, set.AccountingFiles
			ds.Store.Tracer = trace.Files{Config: cfg, Ledger: ds.Ledger}
		}
	}
	return ds, nil
}

// Dispose is called when the settings change and the instance is replaced.
func (d *Datasource) Dispose() {
	if d.Store != nil {
		d.Store.Close()
	}
}

// QueryData answers each query of the request on its own.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		qctx, cancel := context.WithTimeout(ctx, d.Settings.Timeout)
		resp.Responses[q.RefID] = d.query(qctx, q)
		cancel()
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	q, err := models.ParseQuery(dq.JSON)
	if err != nil {
		return backend.ErrDataResponse(backend.StatusBadRequest, err.Error())
	}
	if q.QueryType == "" {
		q.QueryType = dq.QueryType
	}
	from, to := dq.TimeRange.From, dq.TimeRange.To
	// The step (maxDataPoints, min step, scrape interval) and the macros
	// $__range, $__interval, $__rate_interval: here, once, for every query type.
	iv, err := queryIntervals(dq, q.Interval, d.Settings.ScrapeInterval)
	if err != nil {
		return backend.ErrDataResponse(backend.StatusBadRequest, err.Error())
	}
	q.Expr = expandMacros(q.Expr, iv)
	f := campaign.Filter{Units: q.Units, Sectors: q.Sectors, Districts: q.Districts, Under: q.Under}
	var st campaign.Stats
	var res backend.DataResponse
	switch q.QueryType {
	case models.QueryTracker, "":
		rows, err := d.Source.Tracker(ctx, f, q.States, from, to, &st)
		if err != nil {
			return errResponse(err)
		}
		res.Frames = append(res.Frames, tableFrame("tracker", campaign.TrackerTable(rows)))
	case models.QueryWeeklyReview:
		week := campaign.WeekOf(to.Add(-time.Nanosecond), d.Source.Config.Location)
		if q.Week != "" {
			if week, err = campaign.ParseWeek(q.Week); err != nil {
				return backend.ErrDataResponse(backend.StatusBadRequest, err.Error())
			}
		}
		level, err := campaign.ParseLevel(q.Level) // roll-up: unit (default), district, bureau
		if err != nil {
			return backend.ErrDataResponse(backend.StatusBadRequest, err.Error())
		}
		rev, err := d.Source.Review(ctx, f, level, week, d.Now(), &st)
		if err != nil {
			return errResponse(err)
		}
		t := campaign.ReviewTableOf(rev.Rows, rev.Running)
		fr := tableFrame("weekly_review "+week.String(), t)
		addUnitLinks(fr, t, level == campaign.LevelUnit, week, rev.Running, d.Source.Config.Location, grafanaSubPath(ctx))
		res.Frames = append(res.Frames, fr)
	case models.QuerySituation:
		ser, err := d.Source.Situation(ctx, f, q.GroupBy, from, to, iv.Step, &st)
		if err != nil {
			return errResponse(err)
		}
		units, _ := d.unitNames(ctx, q.GroupBy, to)
		res.Frames = situationFrames(ser, q.GroupBy, units, campaign.SituationStep(iv.Step))
	case models.QueryPools:
		rows, err := d.Source.Pools(ctx, f, from, to, &st)
		if err != nil {
			return errResponse(err)
		}
		res.Frames = append(res.Frames, tableFrame("pools", campaign.PoolTable(rows)))
	case models.QueryMetricsQL:
		step := time.Duration(0) // an instant query at the range end
		if q.Format != "table" {
			step = iv.Step
		}
		v, err := d.Source.Raw(ctx, q.Expr, from, to, step, &st)
		if err != nil {
			return errResponse(err)
		}
		res.Frames = valueFrames(v, q.LegendFormat, q.Format, step)
	case models.QueryAnnotations:
		fr, err := d.annotations(ctx, q.AnnotationKind, f, q.IPs, from, to, &st)
		if err != nil {
			return errResponse(err)
		}
		res.Frames = append(res.Frames, fr)
	case models.QueryVariable:
		opts, err := d.Variables(ctx, q.VariableKind, f, from, to, &st)
		if err != nil {
			return errResponse(err)
		}
		res.Frames = append(res.Frames, variableFrame(opts))
	default:
		return backend.ErrDataResponse(backend.StatusBadRequest, fmt.Sprintf("unknown queryType %q", q.QueryType))
	}
	for _, fr := range res.Frames {
		setExecuted(fr, st.Executed())
	}
	return res
}

// errResponse classifies an error: bad input (unit ids, states, weeks,
// unparsable scoped queries) is the user's, the rest the store's.
func errResponse(err error) backend.DataResponse {
	if errors.Is(err, campaign.ErrBadUnit) || errors.Is(err, campaign.ErrBadInput) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, err.Error())
}

// unitNames maps unit ids to names for situation legends.
func (d *Datasource) unitNames(ctx context.Context, groupBy string, at time.Time) (map[string]string, error) {
	if groupBy != "" && groupBy != "unit" && groupBy != "district" { // a district is a unit of the ledger
		return nil, nil
	}
	units, err := d.Source.Units(ctx, at, nil)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, u := range units {
		m[u.ID] = u.Name
	}
	return m, nil
}
