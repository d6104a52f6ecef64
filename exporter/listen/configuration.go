package listen

import "runtime"

// Configuration is where the exporter listens, the `listen:` section of its
// config file: the UDP sockets read here and the HTTP address the server
// serves /metrics on. An empty address disables that listener.
type Configuration struct {
	NetFlow string // UDP, NetFlow v5/v9 and IPFIX
	SFlow   string // UDP, sFlow v5
	HTTP    string // TCP: /metrics and the reasons API
	// WebConfigFile is an exporter-toolkit web configuration (TLS, basic
	// auth), as node_exporter's --web.config.file; "" serves plain HTTP.
	WebConfigFile string
	Pprof         bool // serve /debug/pprof (profiles reveal internals: off by default)
	// Readers is how many UDP sockets share each flow port (SO_REUSEPORT),
	// each read by its own goroutine: one core decodes and scores a few
	// million records a second, more readers use more cores.
	Readers int
	// SplitScoring runs each reader in two goroutines: one reads, decodes
	// and enriches records (ledger, intel), the other scores them, in order
	// (pipeline.Handoff). Reading and scoring each take about half of a
	// reader's CPU, so one busy socket can use a second core, and reading
	// goes on while scoring waits for a shard lock (docs/performance.md,
	// "Reader and scorer").
	SplitScoring bool
}

// DefaultConfiguration returns the well-known flow ports on every address and
// /metrics on loopback only: the metrics name hosts and units, so exposing
// them beyond the machine is a decision (with web_config_file), not a default.
func DefaultConfiguration() Configuration {
	return Configuration{NetFlow: ":2055", SFlow: ":6343", HTTP: "127.0.0.1:9617", Readers: DefaultReaders(), SplitScoring: DefaultSplitScoring()}
}

// maxDefaultReaders caps the default: a bureau's exporter usually shares its
// machine with VictoriaMetrics and Grafana, and four cores take several
// million records a second (docs/performance.md); listen.readers sets more.
const maxDefaultReaders = 4

// DefaultReaders is one reader per core the process may use, at most maxDefaultReaders.
func DefaultReaders() int { return min(runtime.GOMAXPROCS(0), maxDefaultReaders) }

// DefaultSplitScoring is on when the process may use two cores or more. With
// one core the two goroutines would take turns on it: the hand-over between
// them (channel operations, goroutine switches) is then pure overhead, and
// the reader's stall is the scorer's anyway.
func DefaultSplitScoring() bool { return runtime.GOMAXPROCS(0) >= 2 }
