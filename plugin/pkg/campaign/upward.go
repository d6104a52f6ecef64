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
	"github.com/minewatch/minewatch/exporter/names"
)

// NewPool is one row of the upward report of pools (上报矿池): a pool
// endpoint the bureau's list does not have, found by the active prober's
// confirmation or by another intel list, with the hosts that contacted it.
type NewPool struct {
	Pool                string // the endpoint (ip:port, or as the intel list names it)
	Domain              string // the pool's domain: the SNI it was confirmed with, or the list's name; "" when unknown
	Coin                string
	FoundBy             string // how it was found (see FoundBy* below)
	FirstSeen, LastSeen time.Time
	Units, Hosts        []string // unit ids; hosts as ip (unit)
	Contacts            float64  // flows to it in the range
	FlaggedHosts        int      // hosts flagged as mining in the range
	MaxScore            float64  // highest score of those hosts
	Signals             []string // signals that scored on those hosts (minewatch_host_signal_points > 0)
	// FoundByConfirmed: how the prober confirmed it (minewatch_pool_confirmed).
	Protocol  string
	TLS       bool
	Confirmed time.Time // first confirmation
}

// How a pool in the report was found.
const (
	// FoundByConfirmed: the active prober confirmed the endpoint answers a
	// mining protocol (minewatch_pool_confirmed) after a host's behaviour
	// made it a suspect; no list named it.
	FoundByConfirmed = "confirmed"
	// FoundByIntel: an intel list the exporter loads (another bureau's,
	// a public list, a unit's own) matched it; the bureau's list lacks it.
	FoundByIntel = "intel"
	// FoundByBehaviour: a suspect's or flagged host's Stratum-like session
	// went there (minewatch_host_pool_like_endpoint), and neither a list nor
	// the prober has named it (not probed, or the prober is off).
	FoundByBehaviour = "behaviour"
)

// FoundByLabel is how a pool was found as bureau staff read it, Chinese first.
func FoundByLabel(how string) string {
	switch how {
	case FoundByConfirmed:
		return "已确认 confirmed (主动探测 probe)"
	case FoundByIntel:
		return "情报 intel (其他名单 another list)"
	case FoundByBehaviour:
		return "行为发现 behaviour (未经探测确认 not confirmed)"
	}
	return how
}

// Evidence is the row's evidence in words, Chinese first (times in Beijing time).
func (p NewPool) Evidence() string {
	s := ""
	if p.FoundBy == FoundByConfirmed {
		tls := ""
		if p.TLS {
			tls = " over TLS"
		}
		s = fmt.Sprintf("主动探测确认 probe confirmed %s%s，首次确认 first confirmed %s；", p.Protocol, tls,
			p.Confirmed.In(names.Location()).Format("2006-01-02 15:04"))
	}
	if p.FoundBy == FoundByBehaviour {
		s = "类 Stratum 会话 Stratum-like session，未经主动探测确认 not confirmed by a probe；"
	}
	s += fmt.Sprintf("连接 %g 次 contacts；%d 台主机被判定挖矿 flagged hosts；最高分 max score %g", p.Contacts, p.FlaggedHosts, p.MaxScore)
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

// confirmation is one endpoint's minewatch_pool_confirmed series.
type confirmation struct {
	domain, protocol string
	tls              bool
	first            time.Time
}

// NewPools lists the pool endpoints that the bureau's list does not have,
// found in [from, to]: those contacted by hosts in scope (from
// minewatch_pool_contacts_total, whose pool label the exporter sets on a hit
// of its intel, the prober's confirmations included), and those the prober
// first confirmed in the range (minewatch_pool_confirmed) though no host in
// scope contacted them since (only for a scope of all units: the series
// names no unit). Each row has when it was first seen (in the look-back:
// first contact or first confirmation) and last seen (in the range), the
// units and hosts involved and the evidence.
//
// An endpoint found by behaviour alone (the Stratum-like session of a
// suspect or flagged host, minewatch_host_pool_like_endpoint, to an address
// no list and no probe named) is reported as found by behaviour, with the
// hosts whose sessions went there.
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
		// every confirmation seen in the look-back: the value is its first confirmation
		fmt.Sprintf("min by (endpoint, domain, protocol, tls) (min_over_time(%s[%s]))", names.PoolConfirmed, wh),
		// endpoints of suspects' and flagged hosts' Stratum-like sessions: in the range, first and last seen
		fmt.Sprintf("max by (ip, unit, endpoint) (max_over_time(%s[%s])) > 0", sc.Selector(names.HostPoolLike), w),
		fmt.Sprintf("min by (ip, unit, endpoint) (tfirst_over_time(%s[%s]))", sc.Selector(names.HostPoolLike), wh),
		fmt.Sprintf("max by (ip, unit, endpoint) (tlast_over_time(%s[%s]))", sc.Selector(names.HostPoolLike), w),
	}
	res := make([]model.Vector, len(queries))
	for i, q := range queries {
		v, err := s.instant(ctx, st, q, to)
		if err != nil {
			return nil, err
		}
		res[i] = asVector(v)
	}
	confirmed := map[string]confirmation{} // endpoint → its earliest confirmation
	for _, smp := range res[6] {
		m := smp.Metric
		ep := string(m["endpoint"])
		c := confirmation{domain: string(m["domain"]), protocol: string(m["protocol"]), tls: m["tls"] == "true", first: time.Unix(int64(smp.Value), 0)}
		prev, ok := confirmed[ep]
		if !ok || c.first.Before(prev.first) {
			if ok && c.domain == "" {
				c.domain = prev.domain
			}
			confirmed[ep] = c
		} else if prev.domain == "" && c.domain != "" {
			prev.domain = c.domain
			confirmed[ep] = prev
		}
	}
	// listed reports whether the bureau's list has the endpoint, by itself
	// or by the domain it was confirmed with.
	listed := func(pool string) bool {
		if bureau.Has(pool) {
			return true
		}
		c, ok := confirmed[pool]
		if !ok || c.domain == "" {
			return false
		}
		_, port := splitPool(pool)
		return bureau.Has(net.JoinHostPort(c.domain, port))
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
		if !sc.Allows(h.Unit) || listed(k.pool) {
			continue
		}
		r := rows[k]
		if r == nil {
			r = newPoolRow(k.pool, k.coin, confirmed)
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
	// Confirmed in the range, contacted by no host in scope since: still
	// news for the bureau above, but only a view of all units may say so.
	contacted := map[string]bool{}
	for k := range rows {
		contacted[k.pool] = true
	}
	if sc.All {
		for ep, c := range confirmed {
			if contacted[ep] || c.first.Before(from) || c.first.After(to) || listed(ep) {
				continue
			}
			rows[key{pool: ep}] = newPoolRow(ep, "", confirmed)
		}
	}
	// Found by behaviour: endpoints of Stratum-like sessions that no list
	// has and no probe confirmed, and no pool contact already reports.
	for _, smp := range res[7] {
		m := smp.Metric
		ep, h := string(m["endpoint"]), host(m)
		if _, ok := confirmed[ep]; ok || contacted[ep] || !sc.Allows(h.Unit) || listed(ep) {
			continue
		}
		k := key{pool: ep}
		if rows[k] == nil {
			rows[k], hostsOf[k] = &NewPool{Pool: ep, FoundBy: FoundByBehaviour}, map[HostKey]bool{}
		}
		hostsOf[k][h] = true
	}
	for i, first := range []bool{true, false} {
		for _, smp := range res[8+i] {
			m := smp.Metric
			k := key{pool: string(m["endpoint"])}
			r := rows[k]
			if r == nil || r.FoundBy != FoundByBehaviour || !hostsOf[k][host(m)] {
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
	out := make([]NewPool, 0, len(rows))
	for k, r := range rows {
		if r.FoundBy == FoundByConfirmed {
			// found when first confirmed, if no host's contact came earlier
			if r.FirstSeen.IsZero() || r.Confirmed.Before(r.FirstSeen) {
				r.FirstSeen = r.Confirmed
			}
			if r.LastSeen.IsZero() {
				r.LastSeen = r.Confirmed
			}
		}
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
		if out[i].Pool != out[j].Pool {
			return out[i].Pool < out[j].Pool
		}
		return out[i].Coin < out[j].Coin
	})
	return out, nil
}

// newPoolRow starts a row: found by confirmation when the prober confirmed
// the endpoint, else by an intel list (its domain from the list's name).
func newPoolRow(pool, coin string, confirmed map[string]confirmation) *NewPool {
	r := &NewPool{Pool: pool, Coin: coin, FoundBy: FoundByIntel}
	if c, ok := confirmed[pool]; ok {
		r.FoundBy, r.Domain, r.Protocol, r.TLS, r.Confirmed = FoundByConfirmed, c.domain, c.protocol, c.tls, c.first
		return r
	}
	if h, _ := splitPool(pool); h != "" {
		if _, err := netip.ParsePrefix(h); err != nil {
			if _, err := netip.ParseAddr(h); err != nil {
				r.Domain = h
			}
		}
	}
	return r
}

// NewPoolColumns are the upward report's columns.
var NewPoolColumns = []Column[NewPool]{
	StringCol("pool", "矿池地址 endpoint", func(r NewPool) string { return r.Pool }),
	StringCol("domain", "域名 domain", func(r NewPool) string { return r.Domain }),
	StringCol("coin", "币种 coin", func(r NewPool) string { return r.Coin }),
	StringCol("found_by", "发现方式 found by", func(r NewPool) string { return FoundByLabel(r.FoundBy) }),
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
