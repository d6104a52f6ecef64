package score

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
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

// The verdicts of a session's profile.
const (
	profileNo           = iota // not Stratum: bulk, handshakes, keepalives only, or too fast
	profileYoung               // not enough records to judge
	profileSampledYoung        // sampled and Stratum-like so far, but under an hour: no points yet
	profileYes                 // Stratum-like
)

// profileOK says whether a session, taken as a whole, looks like Stratum:
// mostly message-sized records in one long-lived connection at Stratum's
// packet rate, with the remote pushing payloads (jobs) rather than bare
// keepalives.
func (s *session) profileOK() bool { return s.verdict() == profileYes }

func (s *session) verdict() int {
	t := s.agg
	if t == nil {
		return s.oneVerdict()
	}
	if t.profile*5 < t.records*4 || t.handshakes*5 > t.records {
		if t.records < 3 {
			return profileYoung
		}
		return profileNo
	}
	if t.inPkts > 0 && t.inBytes/t.inPkts < 100 && t.records >= 3 {
		return profileNo // keepalives only (MQTT PINGRESP, SSH or TCP keepalives): no job pushes
	}
	span := t.last - t.runStart
	if mins := span / minuteMs; mins >= 5 && t.pkts/uint64(mins) > maxStratumPerMin*uint64(t.conns()) {
		return profileNo
	}
	if t.profile < 3 && s.sharedEarly() {
		return profileSampledYoung
	}
	if t.profile < 3 || t.inPkts > 0 && t.inBytes/t.inPkts < 100 {
		return profileYoung
	}
	if s.sampled() && span < hourMs {
		// A sampled record is one or two packets: whether it looks like a
		// message says little, so only an hour of them at Stratum's rate counts.
		// It is still worth asking the prober now (Evaluate): a pool's answer
		// is evidence the hour of records would only have approximated.
		return profileSampledYoung
	}
	return profileYes
}

// oneVerdict is verdict for a session of one record, what verdict of its
// aggregate says (TestOneRecordForm checks it), without building that: too
// young to judge, unless the record is message-like yet runs above
// Stratum's packet rate for five minutes or more (one record has one
// connection, and too few records for the other tests).
func (s *session) oneVerdict() int {
	if s.has(fMsg) && !s.has(fHandshake) {
		if mins := int64(s.dur) / minuteMs; mins >= 5 && uint64(s.pkts)/uint64(mins) > maxStratumPerMin {
			return profileNo
		}
	}
	return profileYoung
}

// sharedEarlySpanMs is how far apart, at least, the two sampled records of
// sharedEarly must be: one TCP connection open that long, carrying messages,
// is a long-lived session, not a page load.
const sharedEarlySpanMs = 10 * minuteMs

// sharedEarly says whether a sampled session to a pool domain's shared (CDN)
// address is worth asking the prober about before its third Stratum-like
// record: two message-sized records (the caller has checked that nearly all
// its records are, without handshakes) on one connection at least
// sharedEarlySpanMs apart, the remote's payloads (if any were sampled)
// larger than keepalives. The address is already evidence
// (pool_contact_shared), and under sampling the third record may be most of
// an hour away. This only asks the question (Probed notes the host and hands
// over the endpoint); the SNI probe of the listed domain decides, and no
// points come of it. A host with no such session of its own is never noted.
func (s *session) sharedEarly() bool {
	t := s.agg // one record is not two message-like ones
	if t == nil || !s.sampled() || !s.intel() || !s.shared() || t.profile < 2 || t.last-t.first < sharedEarlySpanMs {
		return false
	}
	if t.inPkts > 0 && t.inBytes/t.inPkts < 100 {
		return false
	}
	n := 0
	for _, p := range t.ports {
		if p.port != 0 {
			n++
		}
	}
	return n == 1
}

// Sampling-aware quiet period. A sampled record stands for many packets and
// arrives only every so often, so a sampled session stays live for several
// of its expected gaps between records: sampledQuietGaps times the larger of
// its own mean gap and the gap the sampling rate gives a Stratum connection
// (at least one packet every stratumPacketGapMs: a job push, a share or
// XMRig's 60 s keepalive, each acked). An exponential gap exceeds six means
// with probability e^-6 (0.25 %), so a host that keeps mining stays in one
// episode; maxSampledQuiet bounds how long a host that stopped stays flagged.
const (
	sampledQuietGaps   = 6
	stratumPacketGapMs = 6_000
	maxSampledQuiet    = 12 * hourMs
)

// quietFor is how long the session may be silent and still count as live.
// Unsampled, that is quiet; the rest is sampledQuiet, so that this test
// inlines (a new candidate record ranks every session of a full host with it).
func (s *session) quietFor(quiet, window int64) int64 {
	if !s.sampled() {
		return quiet
	}
	return s.sampledQuiet(quiet, window)
}

// sampledQuiet is quietFor of a sampled session: six of its records' mean
// gap (at least the gap of a Stratum packet at its sampling rate), within
// quiet and the bounds.
func (s *session) sampledQuiet(quiet, window int64) int64 {
	gap := int64(s.rateOf()) * stratumPacketGapMs
	if n := s.nrec(); n >= 2 {
		gap = max(gap, (s.lastEnd()-s.firstStart())/int64(n-1))
	}
	return min(max(sampledQuietGaps*gap, quiet), maxSampledQuiet, window)
}

// longest is how long the session's longest connection has been active
// without a break (unsampled), or the session's span (sampled, where the
// breaks are the sampler's).
func (s *session) longest() int64 {
	var buf tally
	t := s.view(&buf)
	if s.sampled() {
		return t.last - t.runStart
	}
	var d int64
	for _, p := range t.ports {
		if p.port != 0 {
			d = max(d, p.lastMs()-p.firstMs())
		}
	}
	return d
}

// conns counts the connections (host ports) seen in the current run: each
// machine behind a NAT address keeps its own.
func (t *tally) conns() int {
	n := 0
	for _, p := range t.ports {
		if p.port != 0 && p.lastMs() >= t.runStart/1000*1000 {
			n++
		}
	}
	return max(n, 1)
}

// maxSuspectCalls bounds the OnSuspect calls of one evaluation; endpoints
// left over are handed over at the next one. suspectReask is how long before
// a suspect's endpoint is handed over again (the prober caches its answers:
// this only repeats a request it may have dropped).
const (
	maxSuspectCalls = 1024
	suspectReask    = hourMs
)

// Suspicion is one endpoint of a suspect host, for the active prober.
type Suspicion struct {
	Host   netip.Addr
	Remote netip.AddrPort
}

// Evaluate recomputes every host's score at flow time now (Unix ms), expires
// old sessions, sets each host's stage and hands suspects' endpoints to
// Config.OnSuspect.
func (e *Engine) Evaluate(now int64) {
	e.now.Store(now)
	e.first.CompareAndSwap(0, now)
	window := e.cfg.Window.Milliseconds()
	quiet := e.cfg.QuietAfter.Milliseconds()
	starts := map[string][]flagStart{} // unit → flagged-since of its flagged hosts
	var ask []Suspicion
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for ip, h := range sh.hosts.all() {
			e.evalHost(ip, h, now, window, quiet)
			if h.suspect && e.cfg.OnSuspect != nil && len(ask) < maxSuspectCalls {
				ask = h.suspicions(ip, now, quiet, window, ask)
			}
			// Hosts flagged in the first hour of watching were mining before
			// it began: when they started is unknown, so they start nothing together.
			if h.mining && h.unit != names.Unassigned && h.flaggedSince > e.first.Load()+hourMs {
				starts[h.unit] = append(starts[h.unit], flagStart{ip, h.flaggedSince})
			}
			if h.lastSeen < now-window && !h.mining {
				e.drop(sh, h) // nothing left to remember
			}
		}
		sh.mu.Unlock()
	}
	cs := coStarts(starts)
	e.coStart.Store(&cs)
	for _, a := range ask { // outside the locks: the callback may take its time
		e.cfg.OnSuspect(a.Host, a.Remote)
	}
}

// suspicions appends the endpoints of a suspect's mining-like sessions not
// handed over in the last suspectReask, up to maxSuspectCalls in all.
func (h *host) suspicions(ip netip.Addr, now, quiet, window int64, ask []Suspicion) []Suspicion {
	for i := range h.sess {
		s := &h.sess[i]
		if len(ask) >= maxSuspectCalls {
			break
		}
		if !s.used() || s.refuted() || s.intel() && !s.shared() || now-s.lastEnd() > s.quietFor(quiet, window) {
			continue
		}
		if !s.profileOK() && s.visitGaps() < 2 {
			continue
		}
		s.grow() // a no-op: one record is neither (profile < 3, no visits)
		if s.agg.asked != 0 && now-s.agg.asked < suspectReask {
			continue
		}
		s.agg.asked = now
		ask = append(ask, Suspicion{ip, s.endpoint()})
	}
	return ask
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

func (e *Engine) evalHost(ip netip.Addr, h *host, now, window, quiet int64) {
	var pts [nSignals]float32
	best, bestPts := -1, float32(0)
	behaviour := false // a live mining-like session the prober has not refuted
	nowHr := now / hourMs
	for i := range h.sess {
		s := &h.sess[i]
		if !s.used() {
			continue
		}
		if now-s.lastEnd() > window {
			// expired: the slot is free, its aggregate (if any) garbage
			*s, h.sessKeys[i] = session{}, 0
			continue
		}
		live := now-s.lastEnd() <= s.quietFor(quiet, window)
		v := s.verdict()
		prof := v == profileYes
		donation := s.visitGaps() >= 2 && now-s.lastEnd() <= 3*hourMs
		// A young sampled Stratum-like session earns nothing yet, but its
		// endpoint goes to the prober (through Probed) now rather than an hour
		// in: at 1:100 that hour was most of the time to confirm a miner, and
		// refuting an ordinary server early keeps its clients from becoming
		// suspects when the hour is up.
		probe := Unprobed
		asked := (prof || donation || v == profileSampledYoung) && e.cfg.Probed != nil
		if asked {
			probe = e.cfg.Probed(ip, s.endpoint())
		}
		s.set(fRefuted, probe == ProbeRefuted)
		// An endpoint the prober confirmed since the session's last record
		// (a handed-over endpoint, or a shared address confirmed by the SNI
		// probe of the listed domain for this host, noted there): the session
		// is a confirmed pool contact from now, as its next record would make it.
		if live && e.cfg.Confirmed != nil && (s.intel() && s.shared() || !s.intel() && asked && !s.refuted()) {
			if hit := e.cfg.Confirmed(ip, s.endpoint()); hit != nil && !hit.Shared {
				s.flags = s.flags&^fShared | fIntel
				h.notePool(hit)
			}
		}
		var sp [nSignals]float32
		if live && s.intel() && !s.shared() {
			sp[sigPool] = ptsPool
		} else if live && s.intel() {
			sp[sigPoolShared] = ptsPoolShared
		}
		// A refuted endpoint earns no behaviour points: the prober asked it
		// and it is no pool. Only the intel (listed or confirmed) counts there.
		// Nor does one whose probe is pending, until the answer comes or the
		// wait is over (the probe, not behaviour, decides whom to accuse), unless
		// the host is a suspect already: a probe asked again does not unmake one.
		if s.refuted() || probe == ProbePending && !h.suspect {
			prof, donation = false, false
		}
		if live && prof {
			behaviour = true
			// The evidence grows with the run's length: a chat or game-lobby
			// connection looks like Stratum for a while, rarely for an hour.
			span := float32(s.longest()) / float32(hourMs)
			sp[sigStratum] = ptsStratum * min(span, 1)
			// Under sampling the gaps between records are the sampler's, not
			// the protocol's cadence.
			if t := s.agg; !s.sampled() && t != nil && t.gapsIn >= 4 && t.gapsIn*10 >= t.gapsAll*7 {
				sp[sigPeriodicity] = ptsPeriodicity * min(float32(t.gapsIn)/8, 1)
			}
			if poolPorts[s.port] {
				sp[sigPortHint] = ptsPortHint
			}
		}
		if prof || s.intel() && !s.refuted() {
			switch n := s.hoursWithin(nowHr, window/hourMs); {
			case n >= 12:
				sp[sigPersistence] = ptsPersistence
			case n >= 6:
				sp[sigPersistence] = ptsPersistence * 2 / 3
			case n >= 3:
				sp[sigPersistence] = ptsPersistence / 3
			}
		}
		if donation {
			sp[sigDonation] = ptsDonation
			behaviour = true
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
	// The two stages: confirmed (a live listed or probe-confirmed pool
	// contact) is a mining IP; behaviour alone only a suspect. Liveness is
	// sampling-aware (quietFor), which is what keeps a sampled miner in one
	// episode.
	wasMining, wasSuspect := h.mining, h.suspect
	h.mining = pts[sigPool] > 0 && float64(h.score) >= e.cfg.Threshold
	h.suspect = !h.mining && behaviour && float64(h.score) >= e.cfg.SuspectAt
	switch {
	case h.mining && !wasMining:
		h.flaggedSince = now
	case !h.mining:
		h.flaggedSince = 0
	}
	switch {
	case h.suspect && !wasSuspect:
		h.suspectSince = now
	case !h.suspect:
		h.suspectSince = 0
	}
	if h.mining {
		h.lastMining = now
	}
}

// Hours of day (Beijing time) that are working hours for the class hint:
// 08:00–18:59.
const workFrom, workTo = 8, 18

// hourMask is a set of the last 24 hours: bit k is hour nowHr-k.
type hourMask uint32

const day = 24

// miningMask is the hours of the last day with activity of a mining-like
// session: a listed or confirmed pool contact, or a Stratum profile the
// prober has not refuted.
func (h *host) miningMask(nowHr int64) hourMask {
	var m hourMask
	for i := range h.sess {
		s := &h.sess[i]
		if !s.used() || !(s.intel() && !s.shared() || s.profileOK() && !s.refuted()) {
			continue
		}
		var buf tally
		t := s.view(&buf)
		for k := int64(0); k < day; k++ {
			if d := nowHr - k - t.hoursBase; d >= 0 && d < 64 && t.hours&(1<<uint(d)) != 0 {
				m |= 1 << uint(k)
			}
		}
	}
	return m
}

// hourOfDay is the Beijing hour of day of hour number hr (hours since the epoch).
func hourOfDay(hr int64) int { return time.UnixMilli(hr * hourMs).In(shanghai).Hour() }

func isWork(hod int) bool { return hod >= workFrom && hod <= workTo }

// hint is the class hint's evidence over the last day.
type hint struct {
	mining, use         hourMask
	observed            int // hours watched since the first mining-like hour of the day
	minedWork, minedOff int // mining hours in and out of working hours
	sawWork, sawOff     int // watched hours since the first mining hour, in and out of working hours
	usedIdle, usedMined int // hours of use since the first mining hour, without and with mining
}

func (e *Engine) hint(h *host, now int64) hint {
	nowHr := now / hourMs
	x := hint{mining: h.miningMask(nowHr), use: hourMask(h.useMask(nowHr))}
	if x.mining == 0 {
		return x
	}
	oldest := int64(bits.Len32(uint32(x.mining)) - 1) // k of the first mining hour of the day
	if f := e.first.Load(); f > 0 {
		oldest = min(oldest, max(nowHr-f/hourMs, 0)) // hours before watching began were not seen
	}
	for k := int64(0); k <= oldest; k++ {
		x.observed++
		work := isWork(hourOfDay(nowHr - k))
		if work {
			x.sawWork++
		} else {
			x.sawOff++
		}
		mined := x.mining&(1<<uint(k)) != 0
		if x.use&(1<<uint(k)) != 0 {
			if mined {
				x.usedMined++
			} else {
				x.usedIdle++
			}
		}
		if mined {
			if work {
				x.minedWork++
			} else {
				x.minedOff++
			}
		}
	}
	return x
}

// hours lists the hours of day of a mask, oldest first.
func (m hourMask) hours(nowHr int64) []int {
	var out []int
	for k := int64(day - 1); k >= 0; k-- {
		if m&(1<<uint(k)) != 0 {
			out = append(out, hourOfDay(nowHr-k))
		}
	}
	return out
}

func (m hourMask) count() int { return bits.OnesCount32(uint32(m)) }

// class hints who is behind the mining, with the reason and the hours it
// rests on. Within the last day of watching:
//   - mining only while the host is otherwise idle (since mining began, the
//     host was in use in hours without mining, and hardly ever while it
//     mined), or only at night while working hours passed without it:
//     passive (a trojan using idle machines);
//   - mining around the clock, working hours and night, or while the host
//     is in use: active;
//   - otherwise unknown, until the day shows which.
func (e *Engine) class(ip netip.Addr, h *host, x hint) (string, string) {
	seen := ""
	if x.mining != 0 {
		hrs := hoursText(x.mining.hours(e.now.Load() / hourMs))
		seen = fmt.Sprintf(" (观察%d小时,挖矿时段%s时 observed %d h, mining hours %s)", x.observed, hrs, x.observed, hrs)
	}
	m := x.mining.count()
	switch {
	case h.research:
		return "research", "登记的科研算力资产 registered research asset"
	case e.coStart.Load() != nil && (*e.coStart.Load())[ip]:
		return "passive", "同单位多台主机一小时内相继开始挖矿,疑似木马传播 several hosts of the unit started within an hour: likely a trojan"
	case m >= 3 && x.usedIdle >= 2 && x.usedMined*4 <= m:
		return "passive", "只在主机空闲时挖矿,使用时不挖,疑似木马 mines only while the host is otherwise idle: likely a trojan" + seen
	case x.minedOff >= 3 && x.minedWork == 0 && x.sawWork >= 4:
		return "passive", "只在夜间挖矿,工作时段不挖,疑似木马 mines only at night, not in working hours: likely a trojan" + seen
	case x.minedWork >= 2 && x.minedOff >= 2 && m*5 >= x.observed*4:
		return "active", "工作时段与夜间持续挖矿 mines around the clock, working hours included" + seen
	case x.usedMined >= 2:
		return "active", "主机使用期间同时挖矿 mines while the host is in use" + seen
	}
	return "unknown", "观察时间不足,暂无法判断 not enough history yet" + seen
}

// hoursText writes hours of day as ranges: "00–06,19–23".
func hoursText(hs []int) string {
	if len(hs) == 0 {
		return "-"
	}
	set := [24]bool{}
	for _, h := range hs {
		set[h] = true
	}
	var parts []string
	for i := 0; i < 24; {
		if !set[i] {
			i++
			continue
		}
		j := i
		for j+1 < 24 && set[j+1] {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprintf("%02d", i))
		} else {
			parts = append(parts, fmt.Sprintf("%02d–%02d", i, j))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// machines estimates the machines mining behind the address: the most
// connections (host ports) to listed or confirmed pool endpoints open at
// one moment, among those active in the last ten minutes (unsampled) or the
// session's quiet period (sampled). Other sessions, however Stratum-like, are
// not counted: they may be anything until the prober confirms them.
func (e *Engine) machines(h *host, now int64) int {
	quiet, window := e.cfg.QuietAfter.Milliseconds(), e.cfg.Window.Milliseconds()
	var iv [slotsPerHost * portsPerSession][2]int64
	n := 0
	for i := range h.sess {
		s := &h.sess[i]
		if !s.used() || !s.intel() || s.shared() {
			continue
		}
		recent := int64(10 * minuteMs)
		if s.sampled() {
			recent = s.quietFor(quiet, window)
		}
		var buf tally
		for _, p := range s.view(&buf).ports {
			if p.port != 0 && now-p.lastMs() <= recent {
				iv[n] = [2]int64{p.firstMs(), p.lastMs()}
				n++
			}
		}
	}
	most := 0
	for i := 0; i < n; i++ {
		c := 0
		for j := 0; j < n; j++ {
			if iv[j][0] <= iv[i][0] && iv[i][0] <= iv[j][1] {
				c++
			}
		}
		most = max(most, c)
	}
	if most == 0 && h.mining {
		most = 1
	}
	return most
}

func (e *Engine) report(ip netip.Addr, h *host) *Report {
	now := e.now.Load()
	r := &Report{IP: ip, Unit: h.unit, Score: float64(h.score), Mining: h.mining, Suspect: h.suspect, FirstSeen: h.firstSeen,
		FlaggedSince: h.flaggedSince, SuspectSince: h.suspectSince, LastSeen: h.lastSeen}
	x := e.hint(h, now)
	r.Class, r.ClassReason = e.class(ip, h, x)
	r.MiningHours, r.ObservedHours = x.mining.hours(now/hourMs), x.observed
	r.Machines = e.machines(h, now)
	var best *session
	var bestT *tally
	var buf tally
	if h.best >= 0 && int(h.best) < len(h.sess) && h.sess[h.best].used() {
		best = &h.sess[h.best]
		bestT = best.view(&buf)
	}
	for k, p := range h.points {
		if p == 0 {
			continue
		}
		reason := Reason{Signal: signalDefs[k].ID, Points: float64(p), Detail: signalDefs[k].Label()}
		if best != nil && k != sigResearch {
			reason.Remote = best.endpoint().String()
			reason.Since = bestT.first
			if k == sigStratum || k == sigPeriodicity {
				reason.Detail += fmt.Sprintf(" (%d records, %d message-like, %d regular gaps)", bestT.records, bestT.profile, bestT.gapsIn)
			}
		}
		r.Reasons = append(r.Reasons, reason)
	}
	pools := h.poolList()
	for i := range pools {
		pc := &pools[i]
		r.PoolContacts = append(r.PoolContacts, PoolContact{Pool: pc.pool, Coin: pc.coin, Count: e.poolCount(pc), Confirmed: pc.confirmed})
	}
	return r
}

// Watched calls fn for every host worth per-host series: flagged, a suspect,
// with pool contacts, or scoring at least the floor.
func (e *Engine) Watched(fn func(r *Report)) {
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		var reps []*Report
		for ip, h := range sh.hosts.all() {
			if h.mining || h.suspect || h.pools != nil || float64(h.score) >= e.cfg.Floor {
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
	if h := sh.get(ip); h != nil {
		return e.report(ip, h)
	}
	return nil
}

// notePool puts the probe's evidence among the host's pool contacts without
// counting a record (Config.Confirmed: the confirmation came between records).
func (h *host) notePool(hit *IntelHit) {
	pools := h.poolList()
	for i := range pools {
		if p := &pools[i]; p.pool == hit.Pool {
			if hit.Confirmed != "" {
				p.confirmed = hit.Confirmed
			}
			return
		}
	}
	h.addPool(poolCount{pool: hit.Pool, coin: hit.Coin, confirmed: hit.Confirmed})
}
