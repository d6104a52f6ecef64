package intel

import "time"

// Configuration is the `intel:` section of the exporter's config file: the
// pool lists and allowlists, and how pool domains are resolved.
type Configuration struct {
	Files     []string // pool list files
	Allowlist []string // allowlist files, same format
	// ResolveInterval is how often pool domains are resolved again; pools
	// move between addresses, but hourly is enough for lists refreshed daily.
	ResolveInterval time.Duration
	// DNSServer (host[:port]) resolves pool domains instead of the system
	// resolver, for sites whose own DNS refuses pool domains.
	DNSServer string
}

// DefaultConfiguration returns no lists and hourly resolution.
func DefaultConfiguration() Configuration {
	return Configuration{ResolveInterval: time.Hour}
}

// Options turns the configuration into a Store's options.
func (c Configuration) Options() Options {
	return Options{Lists: c.Files, Allowlists: c.Allowlist, Resolver: DNSResolver(c.DNSServer)}
}
