package names

import (
	"fmt"
	"strconv"
)

// Signal ids: the `signal` label of HostSignalPoints and the reasons of a
// host's report.
const (
	PoolContact       = "pool_contact"
	PoolContactShared = "pool_contact_shared"
	StratumProfile    = "stratum_profile"
	Periodicity       = "periodicity"
	Persistence       = "persistence"
	PortHint          = "port_hint"
	DonationCadence   = "donation_cadence"
	ResearchAsset     = "research_asset"
)

// Signal is one piece of evidence the score adds up.
type Signal struct {
	ID string
	// Points is what the signal adds to the score at most; negative, what
	// it takes away. The score engine reads its points from here.
	Points float64
	// Graded signals give from 0 up to Points as their evidence grows;
	// the others give Points or nothing.
	Graded bool
	Zh, En string // what the signal means, for people (Chinese first)
}

// Label is the Chinese then English label, as reports show it.
func (s Signal) Label() string { return s.Zh + " " + s.En }

// PointsText is the points column of docs/metrics.md: "55", "0–35", "-30".
func (s Signal) PointsText() string {
	p := strconv.FormatFloat(s.Points, 'f', -1, 64)
	if s.Graded {
		return "0–" + p
	}
	return p
}

var signals = []Signal{
	{PoolContact, 55, false, "连接已登记矿池", "contacted a listed mining pool"},
	{PoolContactShared, 20, false, "连接矿池域名解析出的地址(可能为共享CDN)", "contacted an address a pool domain resolves to (may be a shared CDN)"},
	{StratumProfile, 35, true, "Stratum会话特征:长连接、小包、低速率、对端推送任务", "Stratum-like session: long-lived, small packets, low rate, jobs pushed by the remote"},
	{Periodicity, 15, true, "报文每10–200秒周期出现", "records recur every 10–200 s"},
	{Persistence, 15, true, "跨多个小时持续活动", "active across many hours"},
	{PortHint, 10, false, "常见矿池端口", "well-known pool port"},
	{DonationCadence, 25, false, "XMRig捐赠节奏:每80–120分钟约1分钟会话", "XMRig donation cadence: ~1 min visit every 80–120 min"},
	{ResearchAsset, -30, false, "登记的科研算力", "registered research compute"},
}

// Signals returns every signal the score engine can emit, in the order of
// docs/metrics.md. The slice is a copy.
func Signals() []Signal { return append([]Signal(nil), signals...) }

// SignalOf returns the signal with the given id. An unknown id is a
// programming error (ids are the constants above), so it panics.
func SignalOf(id string) Signal {
	for _, s := range signals {
		if s.ID == id {
			return s
		}
	}
	panic(fmt.Sprintf("names: unknown signal %q", id))
}
