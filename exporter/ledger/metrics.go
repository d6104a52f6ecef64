package ledger

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/names"
)

var (
	unitsGauge  = metrics.GetOrCreateGauge(names.LedgerUnits, nil)
	assetsGauge = metrics.GetOrCreateGauge(names.LedgerAssets, nil)
	reloadGauge = metrics.GetOrCreateGauge(names.LedgerLastReloadSuccess, nil)
)

// RecordLoad publishes the outcome of a (re)load: the sizes of the ledger now
// in use on success, last_reload_success=0 on failure (the previous ledger
// stays in use, so its sizes stay too).
func RecordLoad(l *Ledger, err error) {
	if err != nil {
		reloadGauge.Set(0)
		return
	}
	reloadGauge.Set(1)
	unitsGauge.Set(float64(len(l.Units())))
	assetsGauge.Set(float64(len(l.Assets())))
}
