// Package models holds the JSON contract between the datasource's frontend
// and its Go backend: the query model, the datasource settings and the
// variable options returned by the resource endpoints.
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
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
	// QueryAnnotations answers the dashboards' annotation queries: mining
	// episodes and case dispositions.
	QueryAnnotations = "annotations"
)

// Annotation kinds (annotationKind of an annotations query; empty = both).
const (
	AnnotationEpisodes     = "episodes"
	AnnotationDispositions = "dispositions"
)

// Variable kinds (variableKind and the variables?kind= resource).
const (
	VariableUnits     = "units"
	VariableSectors   = "sectors"
	VariableDistricts = "districts"
	VariableWeeks     = "weeks"
	VariableIPs       = "ips"
	// VariableStates lists the tracker's states with their labels (the
	// query editor's states dropdown).
	VariableStates = "states"
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
	Level        string   `json:"level,omitempty"` // weekly_review roll-up: unit (default), district, bureau
	Under        []string `json:"under,omitempty"` // units at or below these in the ledger's parent chain
	GroupBy      string   `json:"groupBy,omitempty"`
	Expr         string   `json:"expr,omitempty"`
	LegendFormat string   `json:"legendFormat,omitempty"`
	Format       string   `json:"format,omitempty"`
	VariableKind string   `json:"variableKind,omitempty"`
	// Interval is the query's min step (as Grafana's Prometheus datasource
	// calls it), e.g. "5m"; empty = the scrape interval. It bounds the step
	// from below and replaces the scrape interval in $__rate_interval.
	Interval string `json:"interval,omitempty"`
	// IPs narrow an annotations query to these IPs (the IP dashboard's $ip).
	IPs            []string `json:"ips,omitempty"`
	AnnotationKind string   `json:"annotationKind,omitempty"`
}

// ParseQuery decodes a query's JSON.
func ParseQuery(raw []byte) (Query, error) {
	var q Query
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, fmt.Errorf("bad query JSON: %w", err)
	}
	return q, nil
}

// JSONData is the datasource's jsonData as stored by Grafana. The campaign
// fields (quietPeriod … relapseLimit) exist only so that a value someone
// stored is seen and refused when it differs from the campaign definition:
// the alert rules are generated from that definition, and a datasource on
// other values would show cases the alerts do not (docs/campaign.md).
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
	// LedgerFiles are the unit/asset ledger files (YAML or CSV, as the
	// exporter reads them) the tracker takes device and person from.
	LedgerFiles []string `json:"ledgerFiles,omitempty"`
	// LeaseFiles and AccountingFiles are the DHCP lease files and FreeRADIUS
	// detail files a detected case is traced in when the store opens it
	// (MAC, account; as `minewatch notice import --leases --radacct`).
	LeaseFiles      []string `json:"leaseFiles,omitempty"`
	AccountingFiles []string `json:"accountingFiles,omitempty"`
	// TimeInterval is how often the exporter's series get a sample (Grafana's
	// Prometheus datasource calls it "Scrape interval" and stores it under the
	// same key): the smallest step, and the base of $__rate_interval.
	TimeInterval string `json:"timeInterval,omitempty"`
	// BureauUsers are the Grafana logins or emails of bureau staff (局): like
	// an org Admin they see and write every unit of the datasource's scope
	// in the app's pages; everyone else only the units whose ledger lead
	// email is theirs (docs/app-api.md).
	BureauUsers []string `json:"bureauUsers,omitempty"`
	// ReportTo says where written reports go (报送: the bureau office, its
	// email and phone), printed on every report and shown by the app.
	ReportTo string `json:"reportTo,omitempty"`
}

// Settings are the decoded, defaulted and validated datasource settings.
type Settings struct {
	URL               string
	ScopeUnits        []string
	HidePersons       bool
	Timeout           time.Duration
	BasicAuthUser     string
	BasicAuthPassword string
	BearerToken       string
	CaseStore         string   // "" = no case store: no dispositions shown, writes refused
	LedgerFiles       []string // "" = device and person only from minewatch_host_info
	LeaseFiles        []string // DHCP leases detected cases are traced in (none: no MAC)
	AccountingFiles   []string // FreeRADIUS detail files detected cases are traced in (none: no account)
	ScrapeInterval    time.Duration
	BureauUsers       []string // logins or emails, as configured (compared case-insensitively)
	ReportTo          string   // where written reports go ("" = not said)
}

// DefaultTimeout is the default time a query may take.
const DefaultTimeout = 30 * time.Second

// DefaultScrapeInterval is the scrape interval when timeInterval is not set
// (Grafana's default for Prometheus datasources).
const DefaultScrapeInterval = 15 * time.Second

// Defaults are the campaign values as the config editor shows them (the
// /settings resource returns them): the definition's, never a copy.
type Defaults struct {
	QuietPeriod    string `json:"quietPeriod"`
	LocateDeadline string `json:"locateDeadline"`
	ReportDeadline string `json:"reportDeadline"`
	Timezone       string `json:"timezone"`
	RelapseLimit   int    `json:"relapseLimit"`
}

// CampaignDefaults returns the definition's values in jsonData's notation.
func CampaignDefaults() Defaults {
	return Defaults{
		QuietPeriod:    model.Duration(campaign.QuietPeriod).String(),
		LocateDeadline: model.Duration(campaign.LocateDeadline).String(),
		ReportDeadline: model.Duration(campaign.ReportDeadline).String(),
		Timezone:       campaign.TimeZone,
		RelapseLimit:   campaign.RelapseLimit,
	}
}

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
		HidePersons:       jd.HidePersons,
		BasicAuthUser:     jd.BasicAuthUser,
		BasicAuthPassword: secure["basicAuthPassword"],
		BearerToken:       secure["bearerToken"],
	}
	if err := sameAsDefinition(jd); err != nil {
		return s, err
	}
	var err error
	if s.Timeout, err = duration("timeout", jd.Timeout, DefaultTimeout); err != nil {
		return s, err
	}
	if s.ScrapeInterval, err = duration("timeInterval (scrape interval)", jd.TimeInterval, DefaultScrapeInterval); err != nil {
		return s, err
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
	s.ReportTo = strings.TrimSpace(jd.ReportTo)
	s.ReportTo = strings.TrimSpace(jd.ReportTo)
	for i, f := range jd.LedgerFiles {
		if f = strings.TrimSpace(f); f == "" {
			return s, fmt.Errorf("ledgerFiles[%d] is blank", i)
		}
		s.LedgerFiles = append(s.LedgerFiles, f)
	}
	for name, files := range map[string][]string{"leaseFiles": jd.LeaseFiles, "accountingFiles": jd.AccountingFiles} {
		for i, f := range files {
			if strings.TrimSpace(f) == "" {
				return s, fmt.Errorf("%s[%d] is blank", name, i)
			}
		}
	}
	for _, f := range jd.LeaseFiles {
		s.LeaseFiles = append(s.LeaseFiles, strings.TrimSpace(f))
	}
	for _, f := range jd.AccountingFiles {
		s.AccountingFiles = append(s.AccountingFiles, strings.TrimSpace(f))
	}
	for i, u := range jd.BureauUsers {
		if u = strings.TrimSpace(u); u == "" {
			return s, fmt.Errorf("bureauUsers[%d] is blank: list Grafana logins or emails", i)
		}
		s.BureauUsers = append(s.BureauUsers, u)
	}
	if u := strings.TrimSpace(secure["caseStoreURL"]); u != "" {
		s.CaseStore = u
	}
	if s.URL == "" {
		return s, fmt.Errorf("datasource URL (VictoriaMetrics) is empty")
	}
	return s, nil
}

// ErrNotDefinition is returned for a campaign setting that differs from the
// campaign definition.
var ErrNotDefinition = errors.New("differs from the campaign definition")

// sameAsDefinition refuses campaign settings other than the definition's
// (empty = the definition). Equal values written differently ("2d" for
// the definition's own duration) are accepted.
func sameAsDefinition(jd JSONData) error {
	var errs []error
	for _, c := range []struct {
		name, v string
		want    time.Duration
	}{
		{"quietPeriod", jd.QuietPeriod, campaign.QuietPeriod},
		{"locateDeadline", jd.LocateDeadline, campaign.LocateDeadline},
		{"reportDeadline", jd.ReportDeadline, campaign.ReportDeadline},
	} {
		d, err := duration(c.name, c.v, c.want)
		if err != nil {
			errs = append(errs, err)
		} else if d != c.want {
			errs = append(errs, fmt.Errorf("%s %q %w (%s), from which the alert rules are generated: leave it empty", c.name, c.v, ErrNotDefinition, model.Duration(c.want)))
		}
	}
	if tz := strings.TrimSpace(jd.Timezone); tz != "" && tz != campaign.TimeZone {
		errs = append(errs, fmt.Errorf("timezone %q %w (%s): leave it empty", tz, ErrNotDefinition, campaign.TimeZone))
	}
	if jd.RelapseLimit != 0 && jd.RelapseLimit != campaign.RelapseLimit {
		errs = append(errs, fmt.Errorf("relapseLimit %d %w (%d): leave it empty", jd.RelapseLimit, ErrNotDefinition, campaign.RelapseLimit))
	}
	return errors.Join(errs...)
}

// SourceOptions are the settings as the campaign source takes them. The
// datasource and the CLI both build their source through
// campaign.NewSource(set.SourceOptions()).
func (s Settings) SourceOptions() campaign.SourceOptions {
	return campaign.SourceOptions{
		URL: s.URL, BasicAuthUser: s.BasicAuthUser, BasicAuthPassword: s.BasicAuthPassword, BearerToken: s.BearerToken,
		ScopeUnits: s.ScopeUnits, HidePersons: s.HidePersons,
	}
}

// duration parses Prometheus-style durations ("30s", "2m", "1w").
func duration(name, v string, def time.Duration) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return def, nil
	}
	d, err := model.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad %s %q: want a duration like 30s or 2m", name, v)
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
