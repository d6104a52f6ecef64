package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
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
				o = models.VariableOption{Text: campaign.UnitLabel(u.DistrictName, u.District), Value: u.District}
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
		names, err := d.unitNames(ctx, "unit", to)
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			out = append(out, models.VariableOption{Text: h.IP + " (" + campaign.UnitLabel(names[h.Unit], h.Unit) + ")", Value: h.IP})
		}
	case models.VariableStates:
		labels := campaign.CodeLabels("state")
		for _, s := range campaign.AllStates() {
			out = append(out, models.VariableOption{Text: labels[string(s)], Value: string(s)})
		}
	default:
		return nil, fmt.Errorf("%w: unknown variable kind %q (units, sectors, districts, weeks, ips, states)", campaign.ErrBadInput, kind)
	}
	return out, nil
}

// CallResource serves the datasource's resources: GET variables?kind=…
// and GET units (the query editor and the dashboards' variables), and the
// app's API (docs/app-api.md): GET me, GET cases, GET cases/<id>,
// GET|POST cases/<id>/report, GET cases/<id>/attachments/<aid>, GET pack,
// POST dispositions.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	ctx, cancel := context.WithTimeout(ctx, d.Settings.Timeout)
	defer cancel()
	path := strings.Trim(req.Path, "/")
	if path == "dispositions" {
		if req.Method != http.MethodPost {
			return sendJSON(sender, http.StatusMethodNotAllowed, map[string]string{"error": "dispositions: only POST"})
		}
		return d.recordDisposition(ctx, req, sender)
	}
	post := req.Method == http.MethodPost
	parts := strings.Split(path, "/")
	isReport := len(parts) == 3 && parts[0] == "cases" && parts[2] == "report"
	if (req.Method != http.MethodGet && req.Method != "") && !(post && isReport) {
		return sendJSON(sender, http.StatusMethodNotAllowed, map[string]string{"error": "只允许 GET only GET"})
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	q := u.Query()
	to := d.Now()
	from := to.Add(-resourceWindow)
	switch path {
	case "variables":
		// The dashboard's time range when the frontend sends it (metricFindQuery
		// does), so the IP variable lists the IPs flagged in what is shown.
		if from, to, err = resourceRange(q, from, to); err != nil {
			return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
		}
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
	if parts[0] != "me" && parts[0] != "cases" && parts[0] != "pack" {
		return sendJSON(sender, http.StatusNotFound, map[string]string{"error": "unknown resource " + req.Path})
	}
	// The app's API: every call as the Grafana user of the request.
	c, err := d.caller(ctx, req)
	if err != nil {
		return sendAppError(sender, err)
	}
	// from and to (Unix ms) move the window the cases are judged in; the
	// pages send neither (the last 30 days up to now).
	if from, to, err = resourceRange(q, from, to); err != nil {
		return sendAppError(sender, refuseErr(http.StatusBadRequest, "参数错误 "+err.Error()))
	}
	switch {
	case path == "me":
		return sendJSON(sender, http.StatusOK, c)
	case path == "pack":
		return sendAppError(sender, d.meetingPack(ctx, c, q, sender))
	case path == "cases":
		vs, err := d.listCases(ctx, c, q.Get("state"), q.Get("unit"), from, to)
		if err != nil {
			return sendAppError(sender, err)
		}
		return sendJSON(sender, http.StatusOK, vs)
	case parts[0] == "cases" && len(parts) == 2:
		v, err := d.findCase(ctx, c, parts[1], from, to)
		if err != nil {
			return sendAppError(sender, err)
		}
		det, err := d.caseDetail(ctx, v, from, to)
		if err != nil {
			return sendAppError(sender, err)
		}
		return sendJSON(sender, http.StatusOK, det)
	case isReport:
		return sendAppError(sender, d.caseReport(ctx, req, c, parts[1], q, from, to, sender))
	case parts[0] == "cases" && len(parts) == 4 && parts[2] == "attachments":
		return sendAppError(sender, d.attachment(ctx, c, parts[1], parts[3], from, to, sender))
	}
	return sendJSON(sender, http.StatusNotFound, map[string]string{"error": "unknown resource " + req.Path})
}

// sendAppError answers an app API error (nothing when err is nil: the
// handler has sent its response): a refusal with its status, bad input 400,
// VictoriaMetrics or the store 502.
func sendAppError(sender backend.CallResourceResponseSender, err error) error {
	if err == nil {
		return nil
	}
	var ae *accessError
	if errors.As(err, &ae) {
		return sendJSON(sender, ae.code, map[string]string{"error": ae.msg})
	}
	if errors.Is(err, casestore.ErrInvalid) {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	return sendError(sender, err)
}

// resourceRange reads from and to (Unix milliseconds, as Grafana's time
// range gives them) from a resource request; absent, the defaults.
func resourceRange(q url.Values, from, to time.Time) (time.Time, time.Time, error) {
	read := func(name string, def time.Time) (time.Time, error) {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return def, nil
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return def, fmt.Errorf("bad %s %q: want Unix milliseconds", name, v)
		}
		return time.UnixMilli(ms), nil
	}
	f, err := read("from", from)
	if err != nil {
		return from, to, err
	}
	t, err := read("to", to)
	if err != nil {
		return from, to, err
	}
	if !f.Before(t) {
		return from, to, fmt.Errorf("from (%s) is not before to (%s)", f.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	return f, t, nil
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

// DispositionRequest is the body of POST dispositions. Unit may be left out
// when the IP's series (inside the datasource's scope) name its unit.
// CaseID names the case (an id of GET cases: a number, as a JSON number or
// string, or "d~<unit>~<ip>"); with a store case's id, IP and unit may be
// left out and are the case's. Class takes the store's codes (active,
// passive, research, false-positive) or the form's words 主动, 被动, 科研, 误报.
type DispositionRequest struct {
	CaseID json.RawMessage `json:"caseId,omitempty"`
	IP     string          `json:"ip"`
	Unit   string          `json:"unit,omitempty"`
	Stage  string          `json:"stage"`
	Class  string          `json:"class"`
	Note   string          `json:"note,omitempty"`
}

// classCodes maps the form's class words to the store's codes.
var classCodes = map[string]string{"主动": "active", "被动": "passive", "科研": "research", "误报": "false-positive"}

// caseIDText reads caseId as a number or a string ("" when absent).
func caseIDText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return strconv.FormatInt(n, 10), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("caseId: want a number or a string, not %s", raw)
	}
	return s, nil
}

// DispositionResponse is what POST dispositions returns once the record is
// durable (201).
type DispositionResponse struct {
	ID         int64     `json:"id"`
	CaseID     int64     `json:"caseId"`
	IP         string    `json:"ip"`
	Unit       string    `json:"unit"`
	Stage      string    `json:"stage"`
	Class      string    `json:"class"`
	Note       string    `json:"note"`
	Author     string    `json:"author"`
	AuthorRole string    `json:"authorRole"`
	At         time.Time `json:"at"`
}

// maxDispositionBody bounds the request body (a note is at most
// casestore.MaxNote characters).
const maxDispositionBody = 16 << 10

// writerRoles are the Grafana org roles that may record dispositions.
var writerRoles = map[string]bool{"Editor": true, "Admin": true}

// detectedAt is the start of the IP's latest episode, as the tracker shows
// it over the campaign's look-back (zero when minewatch has not flagged it
// there): the moment a detected case is traced at (casestore.HostTracer).
func (d *Datasource) detectedAt(ctx context.Context, unit, ip string) (time.Time, error) {
	now := d.Now()
	cfg := d.Source.Config
	if cfg.Lookback <= 0 {
		cfg = campaign.DefaultConfig()
	}
	rows, err := d.Source.Tracker(ctx, campaign.Filter{Units: []string{unit}}, nil, now.Add(-cfg.Lookback), now, nil)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range rows {
		if r.IP == ip && r.Unit == unit {
			return r.EpisodeStart, nil
		}
	}
	return time.Time{}, nil
}

// recordDisposition records a disposition as the Grafana user of the
// request: Grafana authenticates the user and puts login, email and org
// role in the plugin context; a request without one is refused, so is a
// Viewer, so is a unit outside this datasource's unit scope or outside the
// user's own units (bureau staff: all units of the scope; a unit lead:
// the units the ledger names them lead of).
func (d *Datasource) recordDisposition(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	refuse := func(code int, msg string) error { return sendJSON(sender, code, map[string]string{"error": msg}) }
	if d.Store == nil {
		return refuse(http.StatusServiceUnavailable, "未配置处置记录库 no case store configured (datasource setting caseStore)")
	}
	u := req.PluginContext.User
	if u == nil || strings.TrimSpace(u.Login) == "" {
		return refuse(http.StatusUnauthorized, "未登录 no authenticated Grafana user")
	}
	if !writerRoles[u.Role] {
		return refuse(http.StatusForbidden, fmt.Sprintf("无权登记 role %q may not record dispositions (Editor or Admin)", u.Role))
	}
	if len(req.Body) > maxDispositionBody {
		return refuse(http.StatusRequestEntityTooLarge, "request body too large")
	}
	var in DispositionRequest
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return refuse(http.StatusBadRequest, "bad JSON body: "+err.Error())
	}
	caller, err := d.caller(ctx, req)
	if err != nil {
		return sendAppError(sender, err)
	}
	sc, err := campaign.NewScope(d.Settings.ScopeUnits, nil)
	if err != nil {
		return sendError(sender, err)
	}
	cid, err := caseIDText(in.CaseID)
	if err != nil {
		return refuse(http.StatusBadRequest, err.Error())
	}
	var storeID int64
	if cid != "" {
		var unit, ip string
		if storeID, unit, ip, err = parseCaseID(cid); err != nil {
			return refuse(http.StatusBadRequest, err.Error())
		}
		if storeID > 0 {
			c, err := d.Store.Case(ctx, sc, storeID)
			if errors.Is(err, casestore.ErrNotFound) {
				return refuse(http.StatusNotFound, "无此案件 no case "+cid)
			}
			if err != nil {
				return refuse(http.StatusInternalServerError, err.Error())
			}
			unit = c.Unit
			if in.IP == "" && len(c.IPs) == 1 {
				ip = c.IPs[0]
			}
		}
		if in.Unit != "" && in.Unit != unit {
			return refuse(http.StatusBadRequest, fmt.Sprintf("unit %q is not the unit of case %s (%s)", in.Unit, cid, unit))
		}
		if in.IP == "" {
			in.IP = ip
		} else if storeID == 0 && in.IP != ip {
			return refuse(http.StatusBadRequest, fmt.Sprintf("ip %q is not the IP of case %s", in.IP, cid))
		}
		in.Unit = unit
	}
	if in.Unit == "" { // the unit of the IP's latest series, looked up within the scope
		if in.Unit, err = d.Source.UnitOf(ctx, in.IP, d.Now(), 90*24*time.Hour); err != nil {
			return refuse(http.StatusBadRequest, err.Error())
		}
	}
	if strings.TrimSpace(in.Class) == "" { // the form requires one: no disposition without its class
		return refuse(http.StatusBadRequest, "缺少性质 class required: 主动, 被动, 科研, 误报 (active, passive, research, false-positive)")
	}
	if code, ok := classCodes[strings.TrimSpace(in.Class)]; ok {
		in.Class = code
	}
	nd, err := casestore.NewDisposition{IP: in.IP, Unit: in.Unit, Stage: in.Stage, Class: in.Class, Note: in.Note, CaseID: storeID}.Validate()
	if err != nil {
		return refuse(http.StatusBadRequest, err.Error())
	}
	if !sc.Allows(nd.Unit) {
		return refuse(http.StatusForbidden, fmt.Sprintf("无权登记 unit %q is outside this datasource's unit scope", nd.Unit))
	}
	if err := caller.mayWrite(nd.Unit); err != nil {
		return sendAppError(sender, err)
	}
	if storeID == 0 && d.Store.Tracer != nil { // a detected case may open: traced at its detection time
		if nd.DetectedAt, err = d.detectedAt(ctx, nd.Unit, nd.IP); err != nil {
			return sendError(sender, err)
		}
	}
	rec, err := d.Store.Record(ctx, nd, casestore.Author{Login: u.Login, Role: u.Role, Via: casestore.ViaGrafana})
	switch {
	case errors.Is(err, casestore.ErrInvalid):
		return refuse(http.StatusBadRequest, err.Error())
	case errors.Is(err, casestore.ErrNotFound):
		return refuse(http.StatusNotFound, err.Error())
	case errors.Is(err, casestore.ErrClosed):
		return refuse(http.StatusConflict, "已结案 "+err.Error()+": a new disposition of the IP without caseId opens a new case")
	case err != nil:
		return refuse(http.StatusInternalServerError, err.Error())
	}
	return sendJSON(sender, http.StatusCreated, DispositionResponse{ID: rec.ID, CaseID: rec.CaseID, IP: rec.IP, Unit: rec.Unit,
		Stage: rec.Stage, Class: rec.Class, Note: rec.Note, Author: rec.Author, AuthorRole: rec.AuthorRole, At: rec.At.UTC()})
}
