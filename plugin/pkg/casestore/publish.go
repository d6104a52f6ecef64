package casestore

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/plugin/pkg/campaign"
)

// The store is the record of truth for dispositions; vmalert, which decides
// when a case is overdue, can only read time series. WriteState gives it a
// derived, read-only view: per (ip, unit, stage, class) the Unix seconds of
// the latest disposition recorded, as minewatch_case_disposition gauges in the
// Prometheus text format. The exporter serves them on /metrics (and so they
// reach VictoriaMetrics through vmagent or its push). Notes and authors stay
// in the store: free text that names people does not go into labels.

// stateKey is one gauge.
type stateKey struct{ ip, unit, stage, class string }

// WriteState writes the disposition gauges of every unit for dispositions
// recorded in the last lookback (the rules look back 180 days).
func (s *Store) WriteState(ctx context.Context, w io.Writer, now time.Time, lookback time.Duration) error {
	ds, err := s.Dispositions(ctx, campaign.Scope{All: true}, now.Add(-lookback), now)
	if err != nil {
		return err
	}
	latest := map[stateKey]int64{}
	for _, d := range ds {
		k := stateKey{d.IP, d.Unit, d.Stage, d.Class}
		if t := d.At.Unix(); t > latest[k] {
			latest[k] = t
		}
	}
	keys := make([]stateKey, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.unit != b.unit {
			return a.unit < b.unit
		}
		if a.ip != b.ip {
			return a.ip < b.ip
		}
		if a.stage != b.stage {
			return a.stage < b.stage
		}
		return a.class < b.class
	})
	for _, k := range keys {
		// ip, unit, stage and class were validated on the way in (netip, the
		// unit-id rule, fixed vocabularies): %q cannot be escaped out of.
		if _, err := fmt.Fprintf(w, "%s{ip=%q,unit=%q,stage=%q,class=%q} %d\n",
			names.CaseDisposition, k.ip, k.unit, k.stage, k.class, latest[k]); err != nil {
			return err
		}
	}
	return nil
}
