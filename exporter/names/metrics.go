package names

import "sort"

// Metric names. The exporter writes the detection, ledger, intel and health
// metrics; the exporter writes CaseDisposition from the case store.
const (
	HostScore        = "minewatch_host_score"
	HostMining       = "minewatch_host_mining"
	HostSuspect      = "minewatch_host_suspect"
	HostPoolLike     = "minewatch_host_pool_like_endpoint"
	PoolContacts     = "minewatch_pool_contacts_total"
	HostMachines     = "minewatch_host_machines"
	HostSignalPoints = "minewatch_host_signal_points"
	HostInfo         = "minewatch_host_info"

	UnitInfo                = "minewatch_unit_info"
	LedgerUnits             = "minewatch_ledger_units"
	LedgerAssets            = "minewatch_ledger_assets"
	LedgerLastReloadSuccess = "minewatch_ledger_last_reload_success"
	IntelEntries            = "minewatch_intel_entries"
	IntelLastReloadSuccess  = "minewatch_intel_last_reload_success"
	IntelReloadErrors       = "minewatch_intel_reload_errors_total"
	IntelResolveErrors      = "minewatch_intel_resolve_errors_total"
	ProbeResults            = "minewatch_probe_results_total"
	ProbeSkipped            = "minewatch_probe_skipped_total"
	ProbeConnections        = "minewatch_probe_connections_total"
	ProbeCacheEntries       = "minewatch_probe_cache_entries"
	PoolConfirmed           = "minewatch_pool_confirmed"

	FlowPackets          = "minewatch_flow_packets_total"
	FlowRecords          = "minewatch_flow_records_total"
	FlowDecodeErrors     = "minewatch_flow_decode_errors_total"
	FlowDroppedRecords   = "minewatch_flow_dropped_records_total"
	FlowTemplates        = "minewatch_flow_templates"
	FlowSourcesTracked   = "minewatch_flow_sources_tracked"
	FlowTemplatesTracked = "minewatch_flow_templates_tracked"
	FlowSourcesExpired   = "minewatch_flow_sources_expired_total"
	FlowTemplatesExpired = "minewatch_flow_templates_expired_total"
	FlowLogsSuppressed   = "minewatch_flow_log_lines_suppressed_total"
	StateHosts           = "minewatch_state_hosts"
	StateEvictions       = "minewatch_state_evictions_total"
	StateBytes           = "minewatch_state_bytes"
	SnapshotLastSuccess  = "minewatch_state_snapshot_last_success_timestamp_seconds"
	SnapshotBytes        = "minewatch_state_snapshot_bytes"
	SnapshotFailures     = "minewatch_state_snapshot_failures_total"
	StateRestoredHosts   = "minewatch_state_restored_hosts"
	LastFlowTimestamp    = "minewatch_last_flow_timestamp_seconds"

	CaseDisposition = "minewatch_case_disposition"
)

// Several exporters sharing a network (exporter/shard, docs/scaling.md).
const (
	FlowRecordsOutsideShard = "minewatch_flow_records_outside_shard_total"
)

// UDP readers handing records to their scorers (exporter/pipeline Handoff, listen.split_scoring).
const (
	FlowReaderWaits = "minewatch_flow_reader_waits_total"
)

// Exporter clocks and sampling (exporter/flow/clock.go).
const (
	FlowClockOffset         = "minewatch_flow_clock_offset_seconds"
	FlowClockRecords        = "minewatch_flow_clock_records_total"
	FlowSamplingUnannounced = "minewatch_flow_sampling_unannounced"
)

// Label values with a fixed meaning.
const (
	// Unassigned is the unit label of internal addresses outside every unit
	// of the ledger; no unit may take this id.
	Unassigned = "unassigned"
	// DroppedNoInternal is the reason label of FlowDroppedRecords for
	// records neither end of which is internal.
	DroppedNoInternal = "no_internal_side"
)

// metricPrefix starts every catalogue name; series the alert rules record
// start with "minewatch:" instead and are not in the catalogue.
const metricPrefix = "minewatch_"

// Kind is a metric's type in the Prometheus sense.
type Kind string

// The kinds minewatch writes.
const (
	Gauge   Kind = "gauge"
	Counter Kind = "counter"
)

// Metric describes one metric as docs/metrics.md lists it.
type Metric struct {
	Name   string
	Kind   Kind
	Values string   // the values a gauge takes when they are bounded ("0–100", "0/1", "1"), else ""
	Labels []string // in the order they are written
	Help   string   // what it means, for people reading the catalogue
	Group  string   // the section of docs/metrics.md it belongs to
}

// Type is the metric's type column in docs/metrics.md: the kind and, for
// bounded gauges, the values ("gauge 0/1").
func (m Metric) Type() string {
	if m.Values == "" {
		return string(m.Kind)
	}
	return string(m.Kind) + " " + m.Values
}

// Sections of docs/metrics.md, in their order.
const (
	GroupDetection = "Detection (per host)"
	GroupLedger    = "Ledger and intel"
	GroupHealth    = "Exporter health"
	GroupCases     = "Cases (a read-only view of the case store)"
)

var hostLabels = []string{"ip", "unit"}

func with(extra ...string) []string { return append(append([]string(nil), hostLabels...), extra...) }

var catalogue = []Metric{
	{HostScore, Gauge, "0–100", with(), "current mining score", GroupDetection},
	{HostMining, Gauge, "0/1", with("class"), "1 while the IP is a confirmed mining host: a live contact with a listed or probe-confirmed pool endpoint and the score at or above `detect.threshold`; class = active, passive, research, unknown (the hint from the last day's hours of mining and of use)", GroupDetection},
	{HostSuspect, Gauge, "0/1", with(), "1 while behaviour alone (a Stratum-like session, XMRig's donation cadence) makes the IP a suspect (可疑), score at or above the suspect threshold (default 15), not confirmed: not a mining IP (no email, not counted in IP清零, never sets `minewatch_host_mining`); its endpoints go to the active prober", GroupDetection},
	{HostPoolLike, Gauge, "0/1", with("endpoint"), "1 for the remote endpoint (`ip:port`) of the Stratum-like session that makes a suspect or flagged IP score on behaviour (`stratum_profile`); one series per such IP, so series follow suspects. The upward report of pools lists the endpoints no list and no probe named (行为发现 found by behaviour)", GroupDetection},
	{PoolContacts, Counter, "", with("pool", "coin"), "flows from the IP to a known or suspected pool endpoint (`coin` is `unknown` when the list does not say). With `snapshot.file` set it shows the count as of the last snapshot (lags by at most `snapshot.interval`), so a restart after kill -9 never makes it go backwards and `increase()` sees no false reset", GroupDetection},
	{HostMachines, Gauge, "", with(), "estimated machines mining behind the address: the most concurrent connections to listed or probe-confirmed pool endpoints (other sessions, however Stratum-like, are not counted)", GroupDetection},
	{HostSignalPoints, Gauge, "", with("signal"), "points each signal adds to (or, negative, takes from) the score: the reasons behind a flag", GroupDetection},
	{HostInfo, Gauge, "1", with("kind", "research"), "ledger asset of a watched host (only when the ledger has one); personal fields stay in the ledger by default (docs/security.md): `metrics.personal_labels: true` adds asset, location, department, owner", GroupDetection},

	{UnitInfo, Gauge, "1", []string{"unit", "name", "sector", "parent"}, "one series per unit of the ledger", GroupLedger},
	{LedgerUnits, Gauge, "", nil, "units in the loaded ledger", GroupLedger},
	{LedgerAssets, Gauge, "", nil, "assets in the loaded ledger", GroupLedger},
	{LedgerLastReloadSuccess, Gauge, "0/1", nil, "0 when the last (re)load failed and the previous ledger is still in use (also when the new ledger is empty: no units or no ranges, unless `ledger.allow_empty`)", GroupLedger},
	{IntelEntries, Gauge, "", []string{"list", "kind"}, "entries of each intel list by kind (ip, cidr, ip_port, domain, resolved_ip); list `probe`: endpoints the active prober confirmed (kind `confirmed`) or refuted (`refuted`)", GroupLedger},
	{IntelLastReloadSuccess, Gauge, "0/1", []string{"list"}, "0 when the last (re)load of the list failed", GroupLedger},
	{IntelReloadErrors, Counter, "", []string{"list"}, "failed (re)loads", GroupLedger},
	{IntelResolveErrors, Counter, "", nil, "failed DNS resolutions of pool domains", GroupLedger},
	{ProbeResults, Counter, "", []string{"outcome"}, "endpoints the active prober probed, by outcome: `confirmed` (answered a mining protocol), `refuted` (answered otherwise or stayed silent), `error` (no connection, or out of time)", GroupLedger},
	{ProbeSkipped, Counter, "", []string{"reason"}, "probes not sent: `disabled`, `internal` (a ledger range), `not_public`, `allowlisted`, `cached` (decided recently), `pending`, `queue_full`, `rate_limited`", GroupLedger},
	{ProbeConnections, Counter, "", []string{"protocol", "transport"}, "connections the prober opened; protocol = stratum, cryptonote, ethproxy; transport = tcp, tls", GroupLedger},
	{ProbeCacheEntries, Gauge, "", nil, "endpoints whose probe outcome is kept (at most `probe.max_cache`)", GroupLedger},
	{PoolConfirmed, Gauge, "", []string{"endpoint", "domain", "protocol", "tls"}, "one series per pool endpoint the active prober confirmed (held until `probe.confirmed_ttl` passes without a new confirmation; at most 20,000): value = Unix seconds of its first confirmation; endpoint = ip:port, domain = the listed pool domain sent as TLS SNI (\"\" when probed by address), protocol = stratum, cryptonote, ethproxy, tls = true, false; the upward report of pools (`minewatch report pools`) reads it", GroupLedger},

	{FlowPackets, Counter, "", []string{"source", "protocol"}, "export datagrams received", GroupHealth},
	{FlowRecords, Counter, "", []string{"source", "protocol"}, "flow records decoded", GroupHealth},
	{FlowDecodeErrors, Counter, "", []string{"source", "protocol", "reason"}, "datagrams (or sets) that failed to decode; reason `not_allowed` under source `not_allowed` for exporters outside `flow.allowed_sources`", GroupHealth},
	{FlowDroppedRecords, Counter, "", []string{"reason"}, "records not scored; reason `" + DroppedNoInternal + "`: neither end is an internal address", GroupHealth},
	{FlowTemplates, Gauge, "", []string{"source"}, "NetFlow v9 / IPFIX templates held for the source", GroupHealth},
	{FlowSourcesTracked, Gauge, "", nil, "exporter addresses tracked (at most `flow.max_sources`)", GroupHealth},
	{FlowTemplatesTracked, Gauge, "", nil, "templates held by all exporters (at most `flow.max_templates`)", GroupHealth},
	{FlowSourcesExpired, Counter, "", []string{"reason"}, "exporters forgotten: `idle` (silent for `flow.source_idle`) or `displaced` (table or template total full: a newcomer took the place of the least recently heard)", GroupHealth},
	{FlowTemplatesExpired, Counter, "", nil, "templates dropped after `flow.template_idle` without refresh or use", GroupHealth},
	{FlowLogsSuppressed, Counter, "", nil, "decode-error log lines left out by the global log budget (`flow.log_lines_per_second`)", GroupHealth},
	{FlowClockOffset, Gauge, "", []string{"source"}, "receive time minus export time (datagram header) of the source's latest NetFlow/IPFIX datagram; outside `flow.clock_tolerance` its records are corrected or refused (`flow.clock_policy`)", GroupHealth},
	{FlowClockRecords, Counter, "", []string{"source", "action"}, "records the clock check acted on: `corrected` (moved onto the receive clock), `refused_offset` (clock outside the tolerance, policy `refuse`), `refused_future` (record ends after its own export time), `arrival_time` (IPFIX uptime-relative times without systemInitTimeMilliseconds: timed from arrival)", GroupHealth},
	{FlowSamplingUnannounced, Gauge, "0/1", []string{"source"}, "1 while the source's records carry no sampling rate: `sampling.sources` or `sampling.default_rate` is used for them (logged once)", GroupHealth},
	{StateHosts, Gauge, "", nil, "hosts held in the detection state", GroupHealth},
	{StateEvictions, Counter, "", nil, "hosts evicted to keep the state under its cap (least suspicious first)", GroupHealth},
	{StateBytes, Gauge, "", nil, "estimated bytes of detection state", GroupHealth},
	{SnapshotLastSuccess, Gauge, "", nil, "when the state snapshot (`snapshot.file`) was last written", GroupHealth},
	{SnapshotBytes, Gauge, "", nil, "size of the last state snapshot", GroupHealth},
	{SnapshotFailures, Counter, "", nil, "snapshots that could not be written (pool counters then stay at the last saved counts)", GroupHealth},
	{StateRestoredHosts, Gauge, "", nil, "hosts restored from the snapshot at start", GroupHealth},
	{LastFlowTimestamp, Gauge, "", nil, "flow clock: end time of the newest record processed", GroupHealth},
	{FlowRecordsOutsideShard, Counter, "", nil, "records whose internal host belongs to another exporter's shard (`shard.units`, `shard.prefixes`): counted, not scored, so exporters fed the same traffic never score a host twice (docs/scaling.md)", GroupHealth},
	{FlowReaderWaits, Counter, "", nil, "times a UDP reader found its scorer's queue full and waited (`listen.split_scoring`: reading and decoding on one goroutine, scoring on another): the scorer is the slower stage, and meanwhile datagrams wait in the socket buffer (overflow there is counted by the kernel: `netstat -su` receive buffer errors)", GroupHealth},

	{CaseDisposition, Gauge, "", with("stage", "class"), "Unix seconds of the latest disposition of that stage (located, reported, closed) in the case store: a read-only view for vmalert, written by the exporter from the store", GroupCases},
}

// Metrics returns the catalogue: every metric minewatch writes, in the order
// of docs/metrics.md. The slice is a copy.
func Metrics() []Metric {
	out := make([]Metric, len(catalogue))
	for i, m := range catalogue {
		m.Labels = append([]string(nil), m.Labels...)
		out[i] = m
	}
	return out
}

// MetricNames returns the set of catalogue names, for checks of dashboards and rules.
func MetricNames() map[string]bool {
	out := make(map[string]bool, len(catalogue))
	for _, m := range catalogue {
		out[m.Name] = true
	}
	return out
}

// LookupMetric returns the catalogue entry of name.
func LookupMetric(name string) (Metric, bool) {
	for _, m := range catalogue {
		if m.Name == name {
			m.Labels = append([]string(nil), m.Labels...)
			return m, true
		}
	}
	return Metric{}, false
}

// Ours reports whether name is a minewatch metric (catalogue or not): the
// catalogue check uses it to pick minewatch's series out of a scrape.
func Ours(name string) bool {
	return len(name) > len(metricPrefix) && name[:len(metricPrefix)] == metricPrefix
}

// Labels returns every label name the catalogue's metrics carry, sorted:
// the exporter sets these itself, so configured extra labels may not reuse them.
func Labels() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range catalogue {
		for _, l := range m.Labels {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}
