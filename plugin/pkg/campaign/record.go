package campaign

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// escapeLabel escapes a label value for the Prometheus text format.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// DispositionLine is the Prometheus text line recording a disposition:
// minewatch_case_disposition{…} <Unix seconds> <timestamp ms>.
func DispositionLine(d Disposition) (string, error) {
	if _, err := netip.ParseAddr(d.IP); err != nil {
		return "", fmt.Errorf("%w: bad IP %q", ErrBadInput, d.IP)
	}
	if !ValidUnit(d.Unit) {
		return "", fmt.Errorf("%w %q", ErrBadUnit, d.Unit)
	}
	if StageRank(d.Stage) == 0 {
		return "", fmt.Errorf("%w: bad stage %q: want located, reported or closed", ErrBadInput, d.Stage)
	}
	if !slices.Contains(DispositionClasses, d.Class) {
		return "", fmt.Errorf("%w: bad class %q: want %s", ErrBadInput, d.Class, strings.Join(DispositionClasses, ", "))
	}
	return fmt.Sprintf(`%s{ip="%s",unit="%s",stage="%s",class="%s",note="%s"} %d %d`, names.CaseDisposition,
		d.IP, d.Unit, d.Stage, d.Class, escapeLabel(d.Note), d.At.Unix(), d.At.UnixMilli()), nil
}

// RecordDisposition writes a disposition through VictoriaMetrics'
// /api/v1/import/prometheus under baseURL (single node, or a vminsert
// /insert/<tenant>/prometheus prefix).
func RecordDisposition(ctx context.Context, client *http.Client, baseURL string, d Disposition) error {
	line, err := DispositionLine(d)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/api/v1/import/prometheus", strings.NewReader(line+"\n"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("import: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// UnitOf finds the unit of an IP from its latest minewatch_host_mining or
// minewatch_host_score series in the last lookback.
func (s *Source) UnitOf(ctx context.Context, ip string, at time.Time, lookback time.Duration) (string, error) {
	if _, err := netip.ParseAddr(ip); err != nil {
		return "", fmt.Errorf("%w: bad IP %q", ErrBadInput, ip)
	}
	sc, err := NewScope(s.ScopeUnits, nil)
	if err != nil {
		return "", err
	}
	m := "ip=" + QuoteLabelValue(ip)
	if sm := sc.Matcher(); sm != "" {
		m += "," + sm
	}
	q := fmt.Sprintf("max by (unit) (tlast_over_time({__name__=~\"minewatch_host_(mining|score)\",%s}[%s]))", m, dur(lookback))
	v, err := s.instant(ctx, nil, q, at)
	if err != nil {
		return "", err
	}
	best, unit := -1.0, ""
	for _, smp := range asVector(v) {
		if float64(smp.Value) > best {
			best, unit = float64(smp.Value), string(smp.Metric["unit"])
		}
	}
	if unit == "" {
		return "", fmt.Errorf("no series of %s in the last %s: give --unit", ip, lookback)
	}
	return unit, nil
}
