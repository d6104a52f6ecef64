package models

import (
	"errors"
	"testing"
	"time"
)

func TestLoadSettingsDefaults(t *testing.T) {
	s, err := LoadSettings("http://vm:8481/select/0/prometheus/", nil, map[string]string{"bearerToken": "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != "http://vm:8481/select/0/prometheus" || s.Timeout != 30*time.Second || s.ScrapeInterval != 15*time.Second || s.BearerToken != "tok" || len(s.ScopeUnits) != 0 {
		t.Errorf("defaults: %+v", s)
	}
	d := CampaignDefaults()
	if d.QuietPeriod != "1w" || d.LocateDeadline != "2d" || d.ReportDeadline != "3d" || d.Timezone != "Asia/Shanghai" || d.RelapseLimit != 2 {
		t.Errorf("campaign defaults: %+v", d)
	}
}

func TestLoadSettingsValues(t *testing.T) {
	s, err := LoadSettings("http://vm", []byte(`{"scopeUnits":[" u-a "],"caseStore":"/var/lib/grafana/minewatch-cases.db","hidePersons":true,"timeout":"5s","basicAuthUser":"ops"}`),
		map[string]string{"basicAuthPassword": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ScopeUnits) != 1 || s.ScopeUnits[0] != "u-a" || !s.HidePersons || s.CaseStore != "/var/lib/grafana/minewatch-cases.db" ||
		s.Timeout != 5*time.Second || s.BasicAuthUser != "ops" || s.BasicAuthPassword != "pw" {
		t.Errorf("values: %+v", s)
	}
	for _, bad := range []string{`{"scopeUnits":[""]}`, `{"scopeUnits":[" "]}`, `{"scopeUnits":["u-a",""]}`, `{"scopeUnits":["\t"]}`, `{"quietPeriod":"soon"}`, `{"timezone":"Mars/Base"}`, `{"timeout":"-1s"}`, `{"timeInterval":"often"}`, `{"bureauUsers":["officer"," "]}`, `{"leaseFiles":[""]}`, `{"accountingFiles":["/var/log/radius/detail"," "]}`, `{`} {
		if _, err := LoadSettings("http://vm", []byte(bad), nil); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// a postgres URL with its password comes from secureJsonData and wins over jsonData
	s, err = LoadSettings("http://vm", []byte(`{"caseStore":"/tmp/x.db"}`), map[string]string{"caseStoreURL": " postgres://grafana:pw@db:5432/cases "})
	if err != nil || s.CaseStore != "postgres://grafana:pw@db:5432/cases" {
		t.Errorf("caseStoreURL: %q %v", s.CaseStore, err)
	}
	if _, err := LoadSettings("", nil, nil); err == nil {
		t.Error("empty URL accepted")
	}
	if s, err := LoadSettings("http://vm", []byte(`{"bureauUsers":[" officer@bureau.example ","admin2"]}`), nil); err != nil ||
		len(s.BureauUsers) != 2 || s.BureauUsers[0] != "officer@bureau.example" {
		t.Errorf("bureauUsers: %+v %v", s.BureauUsers, err)
	}
	if s, err := LoadSettings("http://vm", []byte(`{"leaseFiles":[" /var/lib/kea/kea-leases4.csv "],"accountingFiles":["/var/log/radius/detail"]}`), nil); err != nil ||
		len(s.LeaseFiles) != 1 || s.LeaseFiles[0] != "/var/lib/kea/kea-leases4.csv" || len(s.AccountingFiles) != 1 || s.AccountingFiles[0] != "/var/log/radius/detail" {
		t.Errorf("leaseFiles, accountingFiles: %+v %+v %v", s.LeaseFiles, s.AccountingFiles, err)
	}
}

// TestCampaignSettingsMustBeTheDefinition: the alert rules are generated
// from the campaign definition, so a datasource on other values is refused
// rather than silently showing other cases than the alerts.
func TestCampaignSettingsMustBeTheDefinition(t *testing.T) {
	same := `{"quietPeriod":"7d","locateDeadline":"2d","reportDeadline":"72h","timezone":"Asia/Shanghai","relapseLimit":2}`
	if _, err := LoadSettings("http://vm", []byte(same), nil); err != nil {
		t.Errorf("the definition's own values refused: %v", err)
	}
	for _, other := range []string{`{"quietPeriod":"2w"}`, `{"locateDeadline":"24h"}`, `{"reportDeadline":"4d"}`, `{"timezone":"UTC"}`, `{"relapseLimit":3}`} {
		_, err := LoadSettings("http://vm", []byte(other), nil)
		if !errors.Is(err, ErrNotDefinition) {
			t.Errorf("%s: err %v, want ErrNotDefinition", other, err)
		}
	}
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery([]byte(`{"refId":"A","queryType":"tracker","units":["u-a"],"states":["mining"],"week":"2026-W47","groupBy":"sector","variableKind":"ips"}`))
	if err != nil || q.RefID != "A" || q.QueryType != QueryTracker || q.Units[0] != "u-a" || q.Week != "2026-W47" || q.VariableKind != VariableIPs {
		t.Errorf("%+v %v", q, err)
	}
}
