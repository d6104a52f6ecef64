package alerts

import "github.com/minewatch/minewatch/exporter/ledger"

// LedgerUnits returns what routing needs from a loaded unit ledger, in the
// ledger's order (sorted by unit id).
func LedgerUnits(l *ledger.Ledger) []Unit {
	var units []Unit
	for _, u := range l.Units() {
		units = append(units, Unit{ID: u.ID, Name: u.Name, LeadName: u.Lead.Name, LeadEmail: u.Lead.Email})
	}
	return units
}
