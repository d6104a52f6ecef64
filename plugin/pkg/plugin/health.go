package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/minewatch/minewatch/plugin/pkg/campaign"
	"github.com/minewatch/minewatch/plugin/pkg/casestore"
)

// Health is what CheckHealth reports of each part the app's pages need, in
// its JSONDetails (Grafana's /api/datasources/uid/<uid>/health answers it as
// "details"): the datasource settings page shows the message, the app's
// configuration page shows each part with what to fix.
type Health struct {
	// Result is VictoriaMetrics' answer to the query 1 (kept from before).
	Result          string     `json:"result,omitempty"`
	VictoriaMetrics PartHealth `json:"victoriaMetrics"`
	CaseStore       PartHealth `json:"caseStore"`
	Ledger          PartHealth `json:"ledger"`
	// Scope names the units this datasource covers.
	Scope string `json:"scope"`
	// BureauUsers counts the logins and emails of the bureauUsers setting.
	BureauUsers int `json:"bureauUsers"`
}

// PartHealth is one part: whether it is set at all, whether it answered,
// where it is, what was found, and what to do about it (Chinese first).
type PartHealth struct {
	Configured bool   `json:"configured"`
	OK         bool   `json:"ok"`
	Where      string `json:"where,omitempty"`
	Message    string `json:"message"`
	// Units and Leads count the ledger's units and those with a lead email.
	Units int `json:"units,omitempty"`
	Leads int `json:"leads,omitempty"`
}

// CheckHealth queries /api/v1/query?query=1 under the configured URL (so a
// vmselect tenant prefix or a vmauth path is checked as configured), reads and
// test-writes (rolled back) the case store, and counts the ledger's unit leads. It is an error when
// VictoriaMetrics or a configured case store does not answer; a missing
// case store or ledger is said but is not an error (the dashboards need
// neither, the app's pages do).
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Settings.Timeout)
	defer cancel()
	h := Health{Scope: "全部单位 all units", BureauUsers: len(d.Settings.BureauUsers)}
	if n := len(d.Settings.ScopeUnits); n > 0 {
		h.Scope = fmt.Sprintf("限定 %d 个单位 scoped to %d units", n, n)
	}

	h.VictoriaMetrics = PartHealth{Configured: d.Settings.URL != "", Where: d.Settings.URL}
	if v, _, err := d.Source.API.Query(ctx, "1", d.Now()); err != nil {
		h.VictoriaMetrics.Message = fmt.Sprintf("VictoriaMetrics 查询失败 query failed at %s/api/v1/query: %v", d.Settings.URL, err)
	} else {
		h.VictoriaMetrics.OK = true
		h.VictoriaMetrics.Message = "VictoriaMetrics 连接正常 connected"
		h.Result = v.String()
	}

	h.CaseStore = PartHealth{Configured: d.Store != nil, OK: d.Store == nil}
	if d.Store == nil {
		h.CaseStore.Message = "未配置案件库 (caseStore)：单位负责人不能在页面登记处置、提交书面报告 / no case store: dispositions and reports cannot be recorded"
	} else {
		h.CaseStore.Where = d.Store.String()
		// A case that cannot exist (id 0): a real read, answered "not found".
		if _, err := d.Store.Case(ctx, campaign.Scope{All: true}, 0); err != nil && !errors.Is(err, casestore.ErrNotFound) {
			h.CaseStore.Message = fmt.Sprintf("案件库读取失败 case store read failed: %v", err)
		} else if err := d.Store.CheckWritable(ctx); err != nil {
			h.CaseStore.Message = fmt.Sprintf("案件库只读，不能登记处置和报告 case store is read-only (dispositions and reports cannot be recorded): %v", err)
		} else {
			h.CaseStore.OK = true
			h.CaseStore.Message = "案件库可读写 case store readable and writable"
		}
	}

	h.Ledger = PartHealth{Configured: d.Ledger != nil, OK: true, Where: strings.Join(d.Settings.LedgerFiles, ", ")}
	if d.Ledger == nil {
		h.Ledger.Message = "未配置台账 (ledgerFiles)：没有单位负责人，只有教育局人员能看到案件 / no ledger: no unit leads, only bureau staff see cases"
	} else {
		for _, u := range d.Ledger.Units() {
			h.Ledger.Units++
			if strings.TrimSpace(u.Lead.Email) != "" {
				h.Ledger.Leads++
			}
		}
		h.Ledger.Message = fmt.Sprintf("台账已读取：%d 个单位，其中 %d 个登记了负责人邮箱 / ledger read: %d units, %d with a lead email",
			h.Ledger.Units, h.Ledger.Leads, h.Ledger.Units, h.Ledger.Leads)
		if h.Ledger.Leads == 0 {
			h.Ledger.OK = false
			h.Ledger.Message += "；没有负责人邮箱，单位负责人无法登录处置 / no lead email: no unit lead can act"
		}
	}

	details, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	res := &backend.CheckHealthResult{Status: backend.HealthStatusOk, JSONDetails: details}
	parts := []string{h.VictoriaMetrics.Message + "; " + h.Scope}
	if h.CaseStore.Configured {
		parts = append(parts, h.CaseStore.Message)
	}
	if h.Ledger.Configured {
		parts = append(parts, h.Ledger.Message)
	}
	res.Message = strings.Join(parts, "; ")
	if !h.VictoriaMetrics.OK || !h.CaseStore.OK {
		res.Status = backend.HealthStatusError
	}
	return res, nil
}
