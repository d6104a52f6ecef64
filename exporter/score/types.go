// Package score decides, from flow records alone, whether an internal host is
// mining, and keeps the reasons. It holds a bounded state per host and per
// (host, remote IP, remote port) session, and runs on the flow clock only, so
// a replayed day or a simulated week scores in seconds and deterministically.
//
// Two stages. Behaviour alone cannot tell a miner from an ordinary long-lived
// session (a WebSocket notification client looks the same as a TLS miner), so
// it only makes a host a suspect (可疑): early (minutes), with its reasons,
// and the suspect's remote endpoints are handed to the active prober
// (Config.OnSuspect). A host is a mining host (挖矿, "flagged") only when it
// is confirmed: a live contact with a listed pool endpoint or one the prober
// confirmed (both arrive as a non-shared IntelHit), with the score at or above
// the threshold (default 50). Only flagged hosts are mining IPs: emails, the
// IP清零 counts and cases read minewatch_host_mining, which suspects never
// set. An endpoint the prober refuted (Config.Probed) makes no suspect and
// earns no behaviour points; one whose probe is pending makes none yet.
//
// The score (0–100) adds points per signal. The signals' ids, labels and
// points are defined in exporter/names (listed in docs/metrics.md); what
// earns each one is here:
//
//	pool_contact         a listed pool endpoint (IP, CIDR, IP:port) contacted recently
//	pool_contact_shared  a pool domain's address that may be a shared CDN: never enough alone
//	stratum_profile      one long-lived TCP connection of small JSON-sized messages, mostly
//	                     ACK/PSH, low packet rate, the remote pushing payload (jobs); grows
//	                     over the connection's first hour
//	periodicity          the session's records recur every 10–200 s (job pushes, keepalives)
//	persistence          mining-like activity across many hours of the window (a third of
//	                     the points from 3 h, two thirds from 6 h, all from 12 h)
//	port_hint            a known pool port, only together with a mining-like session
//	donation_cadence     XMRig's donation: a ~1 min visit to one endpoint every 80–120 min
//	research_asset       a registered research asset (class research): takes points away
package score

import (
	"net/netip"
	"time"
)

// IntelHit says the remote end is in the pool intel.
type IntelHit struct {
	Pool, Coin string
	Shared     bool // address came from resolving a pool domain (maybe a CDN): weak alone
	// Confirmed says how and when the active prober confirmed the endpoint
	// (intel's confirmed entries), "" for listed pools. It is kept with the
	// host's pool contacts, so a flagged host carries the probe's evidence.
	Confirmed string
}

// Observation is one flow record, oriented from the internal host's side and
// enriched by the pipeline.
type Observation struct {
	Host, Remote         netip.Addr
	HostPort, RemotePort uint16
	Proto, TCPFlags      uint8
	Outbound             bool   // Host is the flow's source
	Start, End           int64  // Unix ms, flow clock
	Packets, Bytes       uint64 // scaled by sampling
	SamplingRate         uint32
	Unit                 string // unit id or "unassigned"
	Research             bool   // registered research asset
	Allowlisted          bool   // remote endpoint on the allowlist
	Intel                *IntelHit
}

// Config sets thresholds and bounds.
type Config struct {
	Threshold float64 // confirmed hosts are flagged at or above (default 50)
	// SuspectAt: a host with live mining-like behaviour and a score at or
	// above this, not confirmed, is a suspect (default 15: a Stratum-like
	// session with its message cadence, about five minutes unsampled).
	SuspectAt float64
	Floor     float64       // hosts at or above get per-host series (default 10)
	MaxHosts  int           // hard cap on hosts held (default 1,000,000)
	Window    time.Duration // how far back evidence counts (default 24h)
	// QuietAfter: no mining evidence this long and a host is not mining any
	// more (default 30m). Sampled sessions wait longer: several times the gap
	// between their own records (see session.quiet), so that a host sampled
	// at 1:1000 stays in one episode while it keeps mining.
	QuietAfter time.Duration

	// OnSuspect, when set, receives the remote endpoints of suspect hosts'
	// mining-like sessions, for the active prober. Evaluate calls it after it
	// has released its locks, at most maxSuspectCalls times per evaluation,
	// and again for the same session only after suspectReask; it must not
	// block (SuspectQueue gives a bounded, non-blocking channel).
	OnSuspect func(host netip.Addr, remote netip.AddrPort)
	// Probed, when set, says what the prober has said so far of the remote
	// endpoint of host's session (ProbeState). It is asked of every session
	// that looks like a pool's (a Stratum profile, young and sampled or not,
	// XMRig's donation visits), before the host is a suspect, and may hand
	// the endpoint to the prober right then (probe.Feed does). Called during
	// Evaluate under the engine's locks: it must be fast and must not call
	// back into the engine.
	Probed func(host netip.Addr, remote netip.AddrPort) ProbeState
	// Confirmed, when set, is asked at each evaluation of a live session
	// whose endpoint is known only as a pool domain's shared (CDN) address,
	// or is not in the intel and was just asked of Probed: the probe's
	// confirmation there as it holds for this host (a non-shared IntelHit
	// with its evidence), nil if none. For a shared address probe.Feed
	// answers only for a host noted there (its own mining-like session went
	// to the address). A confirmation thus flags the host at the evaluation
	// right after it, while the session is live, instead of with its next
	// record (a sampled miner's next record may be most of an hour away). It
	// counts no record: the pool contact carries the evidence, the counts
	// stay those of the records seen. Same rules as Probed (under the
	// engine's locks: fast, no calls back).
	Confirmed func(host netip.Addr, remote netip.AddrPort) *IntelHit
}

// ProbeState is what the prober has said of an endpoint, as the engine uses it.
type ProbeState uint8

const (
	// Unprobed: no answer, and none awaited (not asked, nothing to decide,
	// a listed or confirmed pool, or the wait for an answer is over):
	// behaviour counts as it is.
	Unprobed ProbeState = iota
	// ProbePending: handed to the prober, its answer awaited (for a bounded
	// wait, probe.Feed.Wait). The session's behaviour earns no points yet, so
	// it does not make its host a suspect until the probe has answered: the
	// stage is there to confirm before accusing. A host already a suspect
	// stays one.
	ProbePending
	// ProbeRefuted: the prober found no pool there. The session earns no
	// behaviour points and makes no suspect (a listed or confirmed intel hit
	// still counts).
	ProbeRefuted
)

// DefaultConfig returns the defaults of the config file.
func DefaultConfig() Config {
	return Config{Threshold: 50, SuspectAt: 15, Floor: 10, MaxHosts: 1_000_000, Window: 24 * time.Hour, QuietAfter: 30 * time.Minute}
}

func (c *Config) fill() {
	d := DefaultConfig()
	if c.Threshold <= 0 {
		c.Threshold = d.Threshold
	}
	if c.SuspectAt <= 0 {
		c.SuspectAt = d.SuspectAt
	}
	if c.Floor < 0 {
		c.Floor = 0
	}
	if c.MaxHosts <= 0 {
		c.MaxHosts = d.MaxHosts
	}
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.QuietAfter <= 0 {
		c.QuietAfter = d.QuietAfter
	}
}

// Report is one host's verdict with its reasons.
type Report struct {
	IP          netip.Addr `json:"ip"`
	Unit        string     `json:"unit"`
	Score       float64    `json:"score"`
	Mining      bool       `json:"mining"`  // confirmed: a mining IP
	Suspect     bool       `json:"suspect"` // behaviour only, not confirmed: not a mining IP
	Class       string     `json:"class"`   // active | passive | research | unknown
	ClassReason string     `json:"class_reason"`
	// MiningHours are the hours of day (Beijing time) with mining-like
	// activity in the last 24 h; ObservedHours how many hours of that day
	// the engine has watched since the host's first such activity: the
	// class hint rests on these.
	MiningHours   []int         `json:"mining_hours,omitempty"`
	ObservedHours int           `json:"observed_hours"`
	Machines      int           `json:"machines"`
	FirstSeen     int64         `json:"first_seen_ms"`
	FlaggedSince  int64         `json:"flagged_since_ms,omitempty"`
	SuspectSince  int64         `json:"suspect_since_ms,omitempty"`
	LastSeen      int64         `json:"last_seen_ms"`
	Reasons       []Reason      `json:"reasons"`
	PoolContacts  []PoolContact `json:"pool_contacts,omitempty"`
}

// Reason is one signal's contribution.
type Reason struct {
	Signal string  `json:"signal"`
	Points float64 `json:"points"`
	Detail string  `json:"detail"`
	Remote string  `json:"remote,omitempty"` // ip:port
	Since  int64   `json:"since_ms,omitempty"`
}

// PoolContact counts flows to one intel endpoint (monotonic while the host is tracked).
type PoolContact struct {
	Pool      string `json:"pool"`
	Coin      string `json:"coin"`
	Count     uint64 `json:"count"`
	Confirmed string `json:"confirmed,omitempty"` // the probe's evidence (IntelHit.Confirmed)
}

// Stats describe the state's size.
type Stats struct {
	Hosts     int
	Sessions  int
	Evictions uint64
	Bytes     int64 // estimate
}
