package ledger

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrEmpty says a ledger holds no unit or no address range: with it every
// flow record would be dropped as having no internal side. A truncated file
// saved by an editor or a sync tool looks exactly like this, so a running
// exporter refuses it unless the operator said an empty ledger is intended.
var ErrEmpty = errors.New("ledger is empty")

// CheckNotEmpty returns an error wrapping ErrEmpty when the ledger has no
// units, or units but not one address range among them.
func (l *Ledger) CheckNotEmpty() error {
	if len(l.units) == 0 {
		return fmt.Errorf("%w: no units (单位台账为空); set ledger.allow_empty: true if that is intended", ErrEmpty)
	}
	for _, u := range l.units {
		if len(u.CIDRs) > 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: %d units but no address ranges (cidrs) among them; set ledger.allow_empty: true if that is intended", ErrEmpty, len(l.units))
}

// LoadInUse is Load for the ledger an exporter works with: it also refuses
// an empty ledger unless allowEmpty, and publishes the outcome as the
// minewatch_ledger_* gauges (RecordLoad). On error the caller keeps the
// ledger it has.
func LoadInUse(paths []string, extraInternal []netip.Prefix, allowEmpty bool) (*Ledger, error) {
	l, err := Load(paths, extraInternal)
	if err == nil && !allowEmpty {
		err = l.CheckNotEmpty()
	}
	if err != nil {
		l = nil
	}
	RecordLoad(l, err)
	return l, err
}
