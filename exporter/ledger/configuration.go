package ledger

import "net/netip"

// Configuration is the `ledger:` section of the exporter's config file. It
// has no defaults: a deployment names its own ledger.
type Configuration struct {
	Files         []string       // unit/asset ledger files (YAML, CSV, or directories of them)
	ExtraInternal []netip.Prefix // internal ranges outside every unit ("unassigned")
	// AllowEmpty accepts a ledger with no units or no address ranges. Off by
	// default: a truncated ledger file would otherwise make every record
	// "no internal side" and hide every miner until someone noticed.
	AllowEmpty bool
}

// Load reads the configured ledger (LoadInUse: refusing an empty one unless allowed).
func (c Configuration) Load() (*Ledger, error) {
	return LoadInUse(c.Files, c.ExtraInternal, c.AllowEmpty)
}
