package score

import (
	"fmt"
	"math/bits"
	"net/netip"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// The signals, in the order of their points in host.points.
const (
	sigPool = iota
	sigPoolShared
	sigStratum
	sigPeriodicity
	sigPersistence
	sigPortHint
	sigDonation
	sigResearch
	nSignals
)

// signalDefs are the engine's signals by index; ids, labels and points are
// names' (one definition for the engine, the catalogue and the docs).
var signalDefs = [nSignals]names.Signal{
	sigPool:        names.SignalOf(names.PoolContact),
	sigPoolShared:  names.SignalOf(names.PoolContactShared),
	sigStratum:     names.SignalOf(names.StratumProfile),
	sigPeriodicity: names.SignalOf(names.Periodicity),
	sigPersistence: names.SignalOf(names.Persistence),
	sigPortHint:    names.SignalOf(names.PortHint),
	sigDonation:    names.SignalOf(names.DonationCadence),
	sigResearch:    names.SignalOf(names.ResearchAsset),
}

// Points per signal, from names (see the package comment for the rationale).
var (
	ptsPool        = points(sigPool)
	ptsPoolShared  = points(sigPoolShared)
	ptsStratum     = points(sigStratum)
	ptsPeriodicity = points(sigPeriodicity)
	ptsPersistence = points(sigPersistence)
	ptsPortHint    = points(sigPortHint)
	ptsDonation    = points(sigDonation)
	ptsResearch    = points(sigResearch)
)

func points(k int) float32 { return float32(signalDefs[k].Points) }

// poolPorts are ports pools commonly listen on; weak evidence, used only
// together with a mining-like session.
var poolPorts = map[uint16]bool{3333: true, 3334: true, 3335: true, 4444: true, 5555: true, 6666: true, 7777: true,
	8888: true, 9999: true, 14433: true, 14444: true, 45560: true, 45700: true, 1800: true, 3032: true, 10128: true,
	10300: true, 20580: true, 20535: true}

// shanghai gives hours of day for the day/night rhythm: the campaign's
// users all live on Beijing time.
var shanghai = names.Location()

// Stratum's cadence: a job pushed every 10–120 s and a share submitted every
// 15–60 s per connection, each answered, plus TCP ACKs: about 5–15 packets a
// minute. Interactive sessions (SSH keystrokes, remote desktop) and media run
// far above this ceiling, which leaves room for a fast GPU rig.
const maxStratumPerMin = 40

// profileOK says whether a session, taken as a whole, looks like Stratum:
// mostly message-sized records in one long-lived connection at Stratum's
// packet rate, with the remote pushing payloads (jobs) rather than bare
// keepalives.
func (s *session) profileOK() bool {
	need := uint32(3)
	if s.profile < need || s.profile*5 < s.records*4 || s.handshakes*5 > s.records {
		return false
	}
	if s.inPkts > 0 && s.inBytes/s.inPkts < 100 {
		return false // keepalives only (MQTT PINGRESP, SSH or TCP keepalives): no job pushes
	}
	span := s.last - s.runStart
	if s.sampled && span < hourMs {
		// A sampled record is one or two packets: whether it looks like a
		// message says little, so only an hour of them at Stratum's rate counts.
		return false
	}
	if mins := span / minuteMs; mins >= 5 && s.pkts/uint64(mins) > maxStratumPerMin*uint64(s.conns()) {
		return false
	}
	return true
}

// longest is how long the session's longest connection has been active
// without a break (unsampled), or the session's span (sampled, where the
// breaks are the sampler's).
func (s *session) longest() int64 {
	if s.sampled {
		return s.last - s.runStart
	}
	var d int64
	for _, p := range s.ports {
		if p.port != 0 {
			d = max(d, p.last-p.first)
		}
	}
	return d
}

// conns counts the connections (host ports) seen in the current run: each
// machine behind a NAT address keeps its own.
func (s *session) conns() int {
	n := 0
	for _, p := range s.ports {
		if p.port != 0 && p.last >= s.runStart {
			n++
		}
	}
	return max(n, 1)
}

// Evaluate recomputes every host's score at flow time now (Unix ms), expires
// old sessions and classifies the flagged hosts.
func (e *Engine) Evaluate(now int64) {
	e.now.Store(now)
	e.first.CompareAndSwap(0, now)
	window := e.cfg.Window.Milliseconds()
	quiet := e.cfg.QuietAfter.Milliseconds()
	starts := map[string][]flagStart{} // unit → flagged-since of its flagged hosts
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for ip, h := range sh.hosts {
			e.evalHost(h, now, window, quiet)
			// Hosts flagged in the first hour of watching were mining before
			// it began: when they started is unknown, so they start nothing together.
			if h.mining && h.unit != names.Unassigned && h.flaggedSince > e.first.Load()+hourMs {
				starts[h.unit] = append(starts[h.unit], flagStart{ip, h.flaggedSince})
			}
			if h.lastSeen < now-window && !h.mining {
				delete(sh.hosts, ip) // nothing left to remember
			}
		}
		sh.mu.Unlock()
	}
	cs := coStarts(starts)
	e.coStart.Store(&cs)
}

// coStarts finds the hosts that started mining within an hour of two or more
// others of their unit: a trojan spreading, not one person's decision. Only
// those hosts are marked, so one unit's trojans do not relabel its other miners.
func coStarts(starts map[string][]flagStart) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, ts := range starts {
		if len(ts) < 3 {
			continue
		}
		for _, a := range ts {
			n := 0
			for _, b := range ts {
				if b.at >= a.at && b.at-a.at <= hourMs {
					n++
				}
			}
			if n < 3 {
				continue
			}
			for _, b := range ts {
				if b.at >= a.at && b.at-a.at <= hourMs {
					out[b.ip] = true
				}
			}
		}
	}
	return out
}

type flagStart struct {
	ip netip.Addr
	at int64
}

func (e *Engine) evalHost(h *host, now, window, quiet int64) {
	var pts [nSignals]float32
	best, bestPts := -1, float32(0)
	nowHr := now / hourMs
	for i := range h.sess {
		s := &h.sess[i]
		if !s.used {
			continue
		}
		if now-s.last > window {
			s.used, h.sessKeys[i] = false, 0
			continue
		}
		live := now-s.last <= quiet
		prof := s.profileOK()
		var sp [nSignals]float32
		if live && s.intel && !s.shared {
			sp[sigPool] = ptsPool
		} else if live && s.intel {
			sp[sigPoolShared] = ptsPoolShared
		}
		if live && prof {
			// The evidence grows with the run's length: a chat or game-lobby
			// connection looks like Stratum for a while, rarely for an hour.
			span := float32(s.longest()) / float32(hourMs)
			sp[sigStratum] = ptsStratum * min(span, 1)
			// Under sampling the gaps between records are the sampler's, not
			// the protocol's cadence.
			if !s.sampled && s.gapsIn >= 4 && s.gapsIn*10 >= s.gapsAll*7 {
				sp[sigPeriodicity] = ptsPeriodicity * min(float32(s.gapsIn)/8, 1)
			}
			if poolPorts[s.port] {
				sp[sigPortHint] = ptsPortHint
			}
		}
		if prof || s.intel {
			switch n := s.hoursWithin(nowHr, window/hourMs); {
			case n >= 12:
				sp[sigPersistence] = ptsPersistence
			case n >= 6:
				sp[sigPersistence] = ptsPersistence * 2 / 3
			case n >= 3:
				sp[sigPersistence] = ptsPersistence / 3
			}
		}
		if s.visitGaps >= 2 && now-s.last <= 3*hourMs {
			sp[sigDonation] = ptsDonation
		}
		var sum float32
		for k := range sp {
			pts[k] = max(pts[k], sp[k])
			sum += sp[k]
		}
		if sum > bestPts {
			best, bestPts = i, sum
		}
	}
	var total float32
	for k := range pts {
		total += pts[k]
	}
	if h.research && total > 0 {
		pts[sigResearch] = ptsResearch
		total += ptsResearch
	}
	h.points, h.best = pts, int8(best)
	h.score = min(max(total, 0), 100)
	wasMining := h.mining
	h.mining = float64(h.score) >= e.cfg.Threshold
	switch {
	case h.mining && !wasMining:
		h.flaggedSince = now
	case !h.mining:
		h.flaggedSince = 0
	}
	if h.mining {
		h.lastMining = now
		h.workHours |= 1 << uint(time.UnixMilli(now).In(shanghai).Hour())
	}
}

// class hints who is behind the mining, with the reason.
func (e *Engine) class(ip netip.Addr, h *host) (string, string) {
	work := h.workHours & 0x7FF00 // 08:00–18:59
	switch {
	case h.research:
		return "research", "登记的科研算力资产 registered research asset"
	case e.coStart.Load() != nil && (*e.coStart.Load())[ip]:
		return "passive", "同单位多台主机一小时内相继开始挖矿,疑似木马传播 several hosts of the unit started within an hour: likely a trojan"
	case bits.OnesCount32(h.workHours) >= 6 && work == 0:
		return "passive", "只在夜间/空闲时段挖矿,疑似木马 mines only off-hours: likely a trojan using idle machines"
	case bits.OnesCount32(h.workHours) >= 6:
		return "active", "工作时段与夜间持续挖矿 mines around the clock, working hours included"
	}
	return "unknown", "观察时间不足,暂无法判断 not enough history yet"
}

func (e *Engine) machines(h *host, now int64) int {
	n := 0
	for i := range h.sess {
		s := &h.sess[i]
		if !s.used || !(s.intel && !s.shared || s.profileOK()) {
			continue
		}
		for _, p := range s.ports {
			if p.port != 0 && now-p.last <= 10*minuteMs {
				n++
			}
		}
	}
	if n == 0 && h.mining {
		n = 1
	}
	return n
}

func (e *Engine) report(ip netip.Addr, h *host) *Report {
	now := e.now.Load()
	r := &Report{IP: ip, Unit: h.unit, Score: float64(h.score), Mining: h.mining, FirstSeen: h.firstSeen,
		FlaggedSince: h.flaggedSince, LastSeen: h.lastSeen}
	r.Class, r.ClassReason = e.class(ip, h)
	r.Machines = e.machines(h, now)
	var best *session
	if h.best >= 0 && int(h.best) < len(h.sess) && h.sess[h.best].used {
		best = &h.sess[h.best]
	}
	for k, p := range h.points {
		if p == 0 {
			continue
		}
		reason := Reason{Signal: signalDefs[k].ID, Points: float64(p), Detail: signalDefs[k].Label()}
		if best != nil && k != sigResearch {
			reason.Remote = netip.AddrPortFrom(best.remote, best.port).String()
			reason.Since = best.first
			if k == sigStratum || k == sigPeriodicity {
				reason.Detail += fmt.Sprintf(" (%d records, %d message-like, %d regular gaps)", best.records, best.profile, best.gapsIn)
			}
		}
		r.Reasons = append(r.Reasons, reason)
	}
	for i := range h.pools {
		pc := &h.pools[i]
		r.PoolContacts = append(r.PoolContacts, PoolContact{Pool: pc.pool, Coin: pc.coin, Count: e.poolCount(pc)})
	}
	return r
}

// Watched calls fn for every host worth per-host series: flagged, with pool
// contacts, or scoring at least the floor.
func (e *Engine) Watched(fn func(r *Report)) {
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		var reps []*Report
		for ip, h := range sh.hosts {
			if h.mining || len(h.pools) > 0 || float64(h.score) >= e.cfg.Floor {
				reps = append(reps, e.report(ip, h))
			}
		}
		sh.mu.Unlock()
		for _, r := range reps {
			fn(r)
		}
	}
}

// Report returns one host's verdict, nil when it is not tracked.
func (e *Engine) Report(ip netip.Addr) *Report {
	sh := e.shard(ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if h := sh.hosts[ip]; h != nil {
		return e.report(ip, h)
	}
	return nil
}
