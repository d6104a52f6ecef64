// Package models holds the JSON contract between the datasource's frontend
// and its Go backend: the query model, the datasource settings and the
// variable options returned by the resource endpoints.
package models

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/exporter/names"
)

// PluginID is the Grafana plugin id of the datasource.
const PluginID = "minewatch-mining-datasource"

// Query types the backend answers.
const (
	QueryTracker      = "tracker"
	QueryWeeklyReview = "weekly_review"
	QuerySituation    = "situation"
	QueryPools        = "pools"
	QueryMetricsQL    = "metricsql"
	QueryVariable     = "variable"
)

// Variable kinds (variableKind and the variables?kind= resource).
const (
	VariableUnits     = "units"
	VariableSectors   = "sectors"
	VariableDistricts = "districts"
	VariableWeeks     = "weeks"
	VariableIPs       = "ips"
)

// Query is one panel target as the frontend sends it, template variables
// already interpolated.
type Query struct {
	RefID        string   `json:"refId"`
	QueryType    string   `json:"queryType"`
	Units        []string `json:"units,omitempty"`
	Sectors      []string `json:"sectors,omitempty"`
	Districts    []string `json:"districts,omitempty"`
	States       []string `json:"states,omitempty"`
	Week         string   `json:"week,omitempty"`
	GroupBy      string   `json:"groupBy,omitempty"`
	Expr         string   `json:"expr,omitempty"`
	LegendFormat string   `json:"legendFormat,omitempty"`
	Format       string   `json:"format,omitempty"`
	VariableKind string   `json:"variableKind,omitempty"`
}

// ParseQuery decodes a query's JSON.
func ParseQuery(raw []byte) (Query, error) {
	var q Query
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, fmt.Errorf("bad query JSON: %w", err)
	}
	return q, nil
}

// JSONData is the datasource's jsonData as stored by Grafana.
type JSONData struct {
	QuietPeriod    string   `json:"quietPeriod,omitempty"`
	LocateDeadline string   `json:"locateDeadline,omitempty"`
	ReportDeadline string   `json:"reportDeadline,omitempty"`
	Timezone       string   `json:"timezone,omitempty"`
	RelapseLimit   int      `json:"relapseLimit,omitempty"`
	ScopeUnits     []string `json:"scopeUnits,omitempty"`
	HidePersons    bool     `json:"hidePersons,omitempty"`
	Timeout        string   `json:"timeout,omitempty"`
	BasicAuthUser  string   `json:"basicAuthUser,omitempty"`
	// CaseStore is the case store: a SQLite file path, or a postgres:// URL
	// without password (secureJsonData caseStoreURL, a full URL, overrides it).
	CaseStore string `json:"caseStore,omitempty"`
}

// Settings are the decoded, defaulted and validated datasource settings.
type Settings struct {
	URL               string
	QuietPeriod       time.Duration
	LocateDeadline    time.Duration
	ReportDeadline    time.Duration
	Location          *time.Location
	RelapseLimit      int
	ScopeUnits        []string
	HidePersons       bool
	Timeout           time.Duration
	BasicAuthUser     string
	BasicAuthPassword string
	BearerToken       string
	CaseStore         string // "" = no case store: no dispositions shown, writes refused
}

// Defaults of the campaign definitions (issue 4).
const (
	DefaultQuietPeriod    = 7 * 24 * time.Hour
	DefaultLocateDeadline = 48 * time.Hour
	DefaultReportDeadline = 72 * time.Hour
	DefaultTimezone       = names.TimeZone
	DefaultRelapseLimit   = 2
	DefaultTimeout        = 30 * time.Second
)

// LoadSettings decodes jsonData and secureJsonData and applies defaults.
func LoadSettings(url string, jsonData []byte, secure map[string]string) (Settings, error) {
	var jd JSONData
	if len(jsonData) > 0 {
		if err := json.Unmarshal(jsonData, &jd); err != nil {
			return Settings{}, fmt.Errorf("bad jsonData: %w", err)
		}
	}
	s := Settings{
		URL:               strings.TrimRight(strings.TrimSpace(url), "/"),
		RelapseLimit:      jd.RelapseLimit,
		HidePersons:       jd.HidePersons,
		BasicAuthUser:     jd.BasicAuthUser,
		BasicAuthPassword: secure["basicAuthPassword"],
		BearerToken:       secure["bearerToken"],
	}
	var err error
	if s.QuietPeriod, err = duration("quietPeriod", jd.QuietPeriod, DefaultQuietPeriod); err != nil {
		return s, err
	}
	if s.LocateDeadline, err = duration("locateDeadline", jd.LocateDeadline, DefaultLocateDeadline); err != nil {
		return s, err
	}
	if s.ReportDeadline, err = duration("reportDeadline", jd.ReportDeadline, DefaultReportDeadline); err != nil {
		return s, err
	}
	if s.Timeout, err = duration("timeout", jd.Timeout, DefaultTimeout); err != nil {
		return s, err
	}
	tz := jd.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	if s.Location, err = time.LoadLocation(tz); err != nil {
		return s, fmt.Errorf("bad timezone %q: %w", tz, err)
	}
	if s.RelapseLimit <= 0 {
		s.RelapseLimit = DefaultRelapseLimit
	}
	// A blank scope entry is an error, never "no restriction": a scope typed
	// as [""] must not open every unit (fail closed).
	for i, u := range jd.ScopeUnits {
		if u = strings.TrimSpace(u); u == "" {
			return s, fmt.Errorf("scopeUnits[%d] is blank: list unit ids, or remove scopeUnits for all units", i)
		}
		s.ScopeUnits = append(s.ScopeUnits, u)
	}
	s.CaseStore = strings.TrimSpace(jd.CaseStore)
	if u := strings.TrimSpace(secure["caseStoreURL"]); u != "" {
		s.CaseStore = u
	}
	if s.URL == "" {
		return s, fmt.Errorf("datasource URL (VictoriaMetrics) is empty")
	}
	return s, nil
}

// duration parses Prometheus-style durations ("7d", "48h", "1w").
func duration(name, v string, def time.Duration) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return def, nil
	}
	d, err := model.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad %s %q: want a duration like 7d or 48h", name, v)
	}
	return time.Duration(d), nil
}

// VariableOption is one value of a template variable.
type VariableOption struct {
	Text  string `json:"text"`
	Value string `json:"value"`
}

// UnitInfo is one unit of the ledger as the units resource returns it.
type UnitInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Sector   string `json:"sector"`
	District string `json:"district"`
}
