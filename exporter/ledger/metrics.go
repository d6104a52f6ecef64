package ledger

import "github.com/VictoriaMetrics/metrics"

var (
	unitsGauge  = metrics.GetOrCreateGauge("minewatch_ledger_units", nil)
	assetsGauge = metrics.GetOrCreateGauge("minewatch_ledger_assets", nil)
	reloadGauge = metrics.GetOrCreateGauge("minewatch_ledger_last_reload_success", nil)
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
