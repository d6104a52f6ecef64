package campaign

import (
	"net/netip"

	"github.com/minewatch/minewatch/exporter/ledger"
)

// AssetDirectory gives the asset-ledger entry of an internal IP. The exporter
// keeps personal fields (asset name, location, department, owner) out of
// its series by default (docs/security.md), so the tracker takes them from
// the ledger itself when it has one.
type AssetDirectory interface {
	AssetOf(ip string) (ledger.Asset, bool)
}

// LedgerAssets serves AssetDirectory from a loaded ledger.
type LedgerAssets struct{ Ledger *ledger.Ledger }

// AssetOf implements AssetDirectory.
func (l LedgerAssets) AssetOf(ip string) (ledger.Asset, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ledger.Asset{}, false
	}
	if as := l.Ledger.Asset(a); as != nil {
		return *as, true
	}
	return ledger.Asset{}, false
}

// withAssets fills the ledger fields of the details from the directory, for
// every IP it knows (the directory wins over minewatch_host_info).
func withAssets(out map[HostKey]HostDetail, dir AssetDirectory, keys []HostKey) {
	if dir == nil {
		return
	}
	for _, k := range keys {
		a, ok := dir.AssetOf(k.IP)
		if !ok || a.Unit != k.Unit {
			continue // an entry of another unit is not this host's
		}
		d := out[k]
		d.Asset, d.Kind, d.Location, d.Department, d.Owner, d.Research = a.Name, a.Kind, a.Location, a.Department, a.Owner, a.Research
		out[k] = d
	}
}
