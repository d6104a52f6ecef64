package campaign

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

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
