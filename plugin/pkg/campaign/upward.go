package campaign

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/minewatch/minewatch/exporter/intel"
)

// NewPool is one row of the upward report of pools (上报矿池): a pool
// endpoint the unit's hosts contacted that the bureau's list does not have.
type NewPool struct {
	Pool, Coin          string
	FoundBy             string // how it was found (see FoundBy* below)
	FirstSeen, LastSeen time.Time
	Units, Hosts        []string // unit ids; hosts as ip (unit)
	Contacts            float64  // flows to it in the range
	FlaggedHosts        int      // hosts flagged as mining in the range
	MaxScore            float64  // highest score of those hosts
	Signals             []string // signals that scored on those hosts (minewatch_host_signal_points > 0)
}

// How a pool in the report was found.
const (
	// FoundByIntel: an intel list the exporter loads (another bureau's,
	// a public list, a unit's own) matched it; the bureau's list lacks it.
	FoundByIntel = "intel"
)

// Evidence is the row's evidence in words, Chinese first.
func (p NewPool) Evidence() string {
	s := fmt.Sprintf("连接 %g 次 contacts；%d 台主机被判定挖矿 flagged hosts；最高分 max score %g", p.Contacts, p.FlaggedHosts, p.MaxScore)
	if len(p.Signals) > 0 {
		s += "；信号 signals " + strings.Join(p.Signals, ", ")
	}
	return s
}

// BureauList is the bureau's pool list (one or more intel files) the
// upward report compares against.
type BureauList struct{ lists []*intel.List }

// NewBureauList takes parsed intel files (intel.Parse).
func NewBureauList(lists ...*intel.List) BureauList { return BureauList{lists: lists} }

// Has reports whether the list names the pool endpoint: the same entry, the
// same host (domain or address, any port when the entry gives none), or an
// address inside a listed range.
func (b BureauList) Has(pool string) bool {
	host, port := splitPool(pool)
	addr, aerr := netip.ParseAddr(host)
	isAddr := aerr == nil
	for _, l := range b.lists {
		for _, e := range l.Entries {
			if strings.EqualFold(e.Pool, pool) {
				return true
			}
			if p, err := netip.ParsePrefix(e.Pool); err == nil {
				if isAddr && p.Contains(addr) {
					return true
				}
				continue
			}
			eh, ep := splitPool(e.Pool)
			if strings.EqualFold(eh, host) && (ep == "" || ep == port) {
				return true
			}
			if d := e.Domain(); d != "" && strings.EqualFold(d, host) && (ep == "" || ep == port) {
				return true
			}
		}
	}
	return false
}

// splitPool splits host:port (IPv6 in brackets); no port gives "".
func splitPool(s string) (host, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return strings.ToLower(h), p
	}
	return strings.ToLower(strings.Trim(s, "[]")), ""
}

// NewPools lists the pool endpoints contacted in [from, to] by hosts in
// scope that the bureau's list does not have, with when they were first seen
// (in the look-back) and last seen (in the range), the units and hosts involved and the evidence.
// The pools come from minewatch_pool_contacts_total, whose pool label the
// exporter sets only on an intel hit: an endpoint found by behaviour alone
// (a Stratum-like session to an unlisted address) has no series yet, so it
// cannot appear here until probe confirmation writes one (docs/campaign.md).
func (s *Source) NewPools(ctx context.Context, f Filter, bureau BureauList, from, to time.Time, st *Stats) ([]NewPool, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: from %s is not before to %s", ErrBadInput, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	histFrom := HistoryStart(s.Config, from)
	sc, _, err := s.Resolve(ctx, st, f, to, to.Sub(histFrom))
	if err != nil || sc.Empty() {
		return nil, err
	}
	// first seen over the look-back (when it first appeared at all), the rest over the range
	w, wh := dur(to.Sub(from)), dur(to.Sub(histFrom))
	sel := sc.Selector("minewatch_pool_contacts_total")
	queries := []string{
		fmt.Sprintf("max by (ip, unit, pool, coin) (increase(%s[%s])) > 0", sel, w),
		fmt.Sprintf("min by (ip, unit, pool, coin) (tfirst_over_time(%s[%s]))", sel, wh),
		fmt.Sprintf("max by (ip, unit, pool, coin) (tlast_over_time(%s[%s]))", sel, w),
		fmt.Sprintf("max by (ip, unit) (max_over_time(%s[%s]))", sc.Selector("minewatch_host_mining"), w),
		fmt.Sprintf("max by (ip, unit) (max_over_time(%s[%s]))", sc.Selector("minewatch_host_score"), w),
		fmt.Sprintf("max by (ip, unit, signal) (max_over_time(%s[%s])) > 0", sc.Selector("minewatch_host_signal_points"), w),
	}
	res := make([]model.Vector, len(queries))
	for i, q := range queries {
		v, err := s.instant(ctx, st, q, to)
		if err != nil {
			return nil, err
		}
		res[i] = asVector(v)
	}
	host := func(m model.Metric) HostKey { return HostKey{IP: string(m["ip"]), Unit: string(m["unit"])} }
	mining, score, signals := map[HostKey]bool{}, map[HostKey]float64{}, map[HostKey][]string{}
	for _, smp := range res[3] {
		mining[host(smp.Metric)] = smp.Value > 0
	}
	for _, smp := range res[4] {
		score[host(smp.Metric)] = float64(smp.Value)
	}
	for _, smp := range res[5] {
		k := host(smp.Metric)
		signals[k] = addUniq(signals[k], string(smp.Metric["signal"]))
	}
	type key struct{ pool, coin string }
	rows := map[key]*NewPool{}
	hostsOf := map[key]map[HostKey]bool{}
	for _, smp := range res[0] {
		m := smp.Metric
		k, h := key{string(m["pool"]), string(m["coin"])}, host(m)
		if !sc.Allows(h.Unit) || bureau.Has(k.pool) {
			continue
		}
		r := rows[k]
		if r == nil {
			r = &NewPool{Pool: k.pool, Coin: k.coin, FoundBy: FoundByIntel}
			rows[k], hostsOf[k] = r, map[HostKey]bool{}
		}
		r.Contacts += float64(smp.Value)
		hostsOf[k][h] = true
	}
	seen := func(v model.Vector, first bool) {
		for _, smp := range v {
			m := smp.Metric
			k := key{string(m["pool"]), string(m["coin"])}
			r := rows[k]
			if r == nil || !hostsOf[k][host(m)] {
				continue
			}
			t := time.Unix(int64(smp.Value), 0)
			if first && (r.FirstSeen.IsZero() || t.Before(r.FirstSeen)) {
				r.FirstSeen = t
			}
			if !first && t.After(r.LastSeen) {
				r.LastSeen = t
			}
		}
	}
	seen(res[1], true)
	seen(res[2], false)
	out := make([]NewPool, 0, len(rows))
	for k, r := range rows {
		var hs []HostKey
		for h := range hostsOf[k] {
			hs = append(hs, h)
		}
		sort.Slice(hs, func(i, j int) bool {
			if hs[i].Unit != hs[j].Unit {
				return hs[i].Unit < hs[j].Unit
			}
			return lessIP(hs[i].IP, hs[j].IP)
		})
		for _, h := range hs {
			r.Units = addUniq(r.Units, h.Unit)
			r.Hosts = append(r.Hosts, h.IP+" ("+h.Unit+")")
			if mining[h] {
				r.FlaggedHosts++
			}
			r.MaxScore = max(r.MaxScore, score[h])
			for _, sig := range signals[h] {
				r.Signals = addUniq(r.Signals, sig)
			}
		}
		sort.Strings(r.Signals)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.Before(out[j].FirstSeen)
		}
		return out[i].Pool < out[j].Pool
	})
	return out, nil
}

// NewPoolColumns are the upward report's columns.
var NewPoolColumns = []Column[NewPool]{
	StringCol("pool", "矿池 pool", func(r NewPool) string { return r.Pool }),
	StringCol("coin", "币种 coin", func(r NewPool) string { return r.Coin }),
	StringCol("found_by", "发现方式 found by", func(r NewPool) string { return r.FoundBy }),
	TimeCol("first_seen", "首次发现 first seen", func(r NewPool) time.Time { return r.FirstSeen }),
	TimeCol("last_seen", "最近发现 last seen", func(r NewPool) time.Time { return r.LastSeen }),
	StringCol("units", "涉及单位 units", func(r NewPool) string { return strings.Join(r.Units, ", ") }),
	StringCol("hosts", "涉及主机 hosts", func(r NewPool) string { return strings.Join(r.Hosts, ", ") }),
	FloatCol("contacts", "连接次数 contacts", func(r NewPool) float64 { return r.Contacts }),
	IntCol("flagged_hosts", "判定挖矿主机 flagged hosts", func(r NewPool) int { return r.FlaggedHosts }),
	FloatCol("max_score", "最高分 max score", func(r NewPool) float64 { return r.MaxScore }),
	StringCol("evidence", "证据 evidence", func(r NewPool) string { return r.Evidence() }),
}

// NewPoolTable renders the upward report.
func NewPoolTable(rows []NewPool) Table { return Build(NewPoolColumns, rows) }
