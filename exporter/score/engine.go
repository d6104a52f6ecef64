package score

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"
)

const nShards = 128

type shard struct {
	mu    sync.Mutex
	hosts hostTable
	_     [64]byte // keep shards' locks on separate cache lines
}

// Engine holds the per-host state. Observe may be called from many
// goroutines; Evaluate, Watched and Report walk the shards one at a time.
type Engine struct {
	cfg       Config
	perShard  int
	shards    [nShards]shard
	evictions atomic.Uint64
	hosts     atomic.Int64                        // tracked, all shards (changes only when a host comes or goes)
	now       atomic.Int64                        // flow time of the last Evaluate
	first     atomic.Int64                        // flow time of the first Evaluate: when watching began
	coStart   atomic.Pointer[map[netip.Addr]bool] // hosts that started mining together with others of their unit (set by Evaluate)
	// holdCounters: reports show pool counts as of the last snapshot (HoldCounters).
	holdCounters atomic.Bool
	pages        pageSource // the shards' host pages
}

// New returns an empty engine.
func New(cfg Config) *Engine {
	cfg.fill()
	// A shard may hold a quarter more than its share: hosts fall in shards
	// by hash, unevenly, and a cap of exactly the share would evict from the
	// fuller shards before MaxHosts hosts are tracked. The total is capped
	// by MaxHosts all the same.
	e := &Engine{cfg: cfg, perShard: min(max(1, cfg.MaxHosts/nShards*5/4), maxSlots)}
	for i := range e.shards {
		e.shards[i].hosts.src = &e.pages
	}
	return e
}

// Config returns the settings in force.
func (e *Engine) Config() Config { return e.cfg }

// shard picks the shard of a host address by its hash (hashAddr): hosts
// spread evenly, so readers on different cores rarely meet on one lock.
func (e *Engine) shard(ip netip.Addr) *shard {
	return &e.shards[hashAddr(keyOf(ip), ip.Is4())>>(64-7)]
}

// get returns the host of ip in sh (its shard), nil when it is not tracked.
func (sh *shard) get(ip netip.Addr) *host {
	k, is4 := keyOf(ip), ip.Is4()
	return sh.hosts.get(k, is4, hashAddr(k, is4))
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
)

// messageLike says whether one record counts as a Stratum-like message: TCP,
// a few JSON-line-sized packets at a low rate, inside an established
// connection, and not of a service port (servicePort). Bulk transfers,
// media, games and calls fail on size or rate. Such a record with no
// session of its own takes a slot (alloc). One function, the port test
// included, because ObserveBatch asks it of every record before the update.
func messageLike(o *Observation) bool {
	if o.Proto != 6 || o.Packets == 0 {
		return false
	}
	// Every record passes here: the tests are written without 64-bit
	// divisions where an exact equivalent exists (a division takes tens of
	// cycles; unsampled records, the usual case, need none).
	pk, sampledBytes := o.Packets, o.Bytes
	if o.SamplingRate > 1 {
		rate := uint64(o.SamplingRate)
		pk, sampledBytes = max(o.Packets/rate, 1), o.Bytes/rate
	}
	// avg := o.Bytes / o.Packets; avg < 40 || avg > 600, without the
	// division when the products cannot overflow.
	if o.Packets < 1<<48 {
		if o.Bytes < 40*o.Packets || o.Bytes >= 601*o.Packets {
			return false
		}
	} else if avg := o.Bytes / o.Packets; avg < 40 || avg > 600 {
		return false
	}
	if sampledBytes > 32<<10 {
		return false
	}
	var ok bool
	switch dur := o.End - o.Start; {
	case dur >= 2000 && dur < 1<<62:
		ok = pk*1000 < 4*uint64(dur) // pk*1000/dur <= 3
	case dur >= 2000:
		ok = pk*1000/uint64(dur) <= 3
	default:
		// A whole short connection (handshake and close in one record)
		// is a web request, not a message of a long-lived session.
		ok = pk <= 12 && o.TCPFlags&(tcpSYN|tcpFIN) != tcpSYN|tcpFIN
	}
	return ok && !servicePort(o.RemotePort) && !servicePort(o.HostPort)
}

// servicePort says whether p carries an interactive or IoT protocol that keep long, quiet TCP
// connections of small messages much as Stratum does (an SSH session
// watching a research job, a remote desktop, MQTT keepalives). Their port
// names the protocol, so they are not profiled; a pool listed in the intel
// still counts there.
func servicePort(p uint16) bool {
	switch p {
	case 22, 23, 1883, 3389, 5900, 8883:
		return true
	}
	return false
}

// Observe adds one record to the state.
func (e *Engine) Observe(o *Observation) {
	if o.Allowlisted {
		return // allowlisted services never count as evidence
	}
	p := pending{o: o, key: keyOf(o.Host), is4: o.Host.Is4()}
	p.hash = hashAddr(p.key, p.is4) // once: it picks the shard and the slot
	p.sh = &e.shards[p.hash>>(64-7)]
	p.sk, p.msg = sessKey(o.Remote, o.RemotePort), messageLike(o)
	p.sh.mu.Lock()
	e.observeLocked(&p, p.sh.hosts.get(p.key, p.is4, p.hash))
	p.sh.mu.Unlock()
}

// observeLocked adds the record of p (not allowlisted; its key, hash,
// shard, sessKey and messageLike filled in) to its shard, whose lock the
// caller holds; h is the host as the caller found it (nil: not tracked).
// Observe and ObserveBatch share it, so both score alike. It takes the
// record's pending rather than its eight values: with the receiver those
// were ten words, one past the registers of Go's calling convention, so
// every call spilled arguments to the stack; and the key and hash are read
// only for a new host.
func (e *Engine) observeLocked(p *pending, h *host) {
	o, sk, msg := p.o, p.sk, p.msg
	if h == nil {
		if h = e.add(p.sh, p.key, p.is4, p.hash); h == nil {
			return
		}
		h.firstSeen, h.best = o.Start, -1
	}
	// The unit's identity is in the host's first cache line, the name in
	// the second: the name is read only when the identity differs.
	if id := unitIDOf(o.Unit); id != h.unitID || id == 0 {
		h.unit, h.unitID = o.Unit, id
	}
	h.research = o.Research
	if o.End > h.lastSeen {
		h.lastSeen = o.End
	}
	if o.Intel != nil {
		h.countPool(o.Intel)
	}
	var s *session // the session of the record's endpoint, if the host has one
	if i := h.slotOf(sk); i >= 0 {
		s = h.findFrom(i, sk, o.Remote, o.RemotePort)
	}
	if s == nil && (msg || o.Intel != nil) {
		s = h.alloc(sk, o, e.cfg.QuietAfter.Milliseconds(), e.cfg.Window.Milliseconds())
	}
	if s != nil {
		s.add(o, msg)
	}
	if s == nil || !s.miningLike() {
		h.countUse(o)
	}
}

// useHourPkts is how many packets outside its mining-like sessions make an
// hour one in which the host was in use: a person browsing or working moves
// thousands of packets an hour, an idle PC's background chatter (time, name
// lookups, update checks) far fewer. Packets are scaled by sampling, so the
// estimate holds at 1:N.
const useHourPkts = 2000

// countUse adds an ordinary record to the host's hours of use.
func (h *host) countUse(o *Observation) {
	hr := int32(o.End / hourMs)
	switch d := hr - h.useHr; {
	case d < 0:
		return // a late record of an hour already past: its hour is settled
	case d > 0:
		if d >= 32 {
			h.useHours = 0
		} else {
			h.useHours <<= uint(d)
		}
		h.useHr, h.usePkts = hr, 0
	}
	h.usePkts = uint32(min(uint64(h.usePkts)+o.Packets, 1<<31))
	if h.usePkts >= useHourPkts {
		h.useHours |= 1
	}
}

// useMask gives the hours of use as of hour nowHr: bit k is hour nowHr-k,
// the last 24 hours only.
func (h *host) useMask(nowHr int64) uint32 {
	d := nowHr - int64(h.useHr)
	if d < 0 || d >= 24 {
		return 0
	}
	return h.useHours << uint(d) & (1<<24 - 1)
}

func (h *host) countPool(hit *IntelHit) {
	pools := h.poolList()
	for i := range pools {
		if p := &pools[i]; p.pool == hit.Pool {
			p.n++
			if hit.Confirmed != "" {
				p.confirmed = hit.Confirmed
			}
			return
		}
	}
	h.addPool(poolCount{pool: hit.Pool, coin: hit.Coin, confirmed: hit.Confirmed, n: 1})
}

// poolList is the host's pool counts (nil when it contacted none).
func (h *host) poolList() []poolCount {
	if h.pools == nil {
		return nil
	}
	return *h.pools
}

// addPool appends a pool count, at most maxPools.
func (h *host) addPool(p poolCount) {
	if h.pools == nil {
		h.pools = new([]poolCount)
	}
	if len(*h.pools) < maxPools {
		*h.pools = append(*h.pools, p)
	}
}

// maxPools bounds the pools counted per host.
const maxPools = 8

// sessKey is a hash of a session's remote endpoint, never 0: slotOf compares
// these in the host struct first, so the records of ordinary traffic (no
// session of theirs) never touch the session table. 32 bits are plenty:
// a match is confirmed against the session's endpoint, and every host
// carries the keys, so each byte counts.
func sessKey(remote netip.Addr, port uint16) uint32 {
	b := remote.As16()
	x := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])*0x9E3779B97F4A7C15 ^ uint64(port)<<48
	x ^= x >> 29
	return uint32(x^x>>32) | 1
}

// findFrom is the session of remote:port among the host's from slot i on,
// slot i being the first whose key is k (slotOf), nil if none. A free
// slot's key is 0, never a sessKey, so a slot whose key matches is in use;
// the keys are in the host's first line, so the records of ordinary traffic
// (no session of theirs) never touch the session table: observeLocked asks
// slotOf, which inlines, and findFrom only on a match (one function of the
// two would be too large to inline).
func (h *host) findFrom(i int, k uint32, remote netip.Addr, port uint16) *session {
	for ; i < len(h.sess); i++ {
		// Two endpoints may share a key (1 pair in 2³¹): then the next
		// slot of that key may be the one.
		if s := &h.sess[i]; h.sessKeys[i] == k && s.port == port && s.remote == remote.As16() && s.flags&fIs4 != 0 == remote.Is4() {
			return s
		}
	}
	return nil
}

// slotOf is the first slot whose session key is k, -1 if none: every
// record asks it (ObserveBatch, then observeLocked), and the four compares written
// out take a third of the instructions of a loop over the keys.
func (h *host) slotOf(k uint32) int {
	switch k {
	case h.sessKeys[0]:
		return 0
	case h.sessKeys[1]:
		return 1
	case h.sessKeys[2]:
		return 2
	case h.sessKeys[3]:
		return 3
	}
	return -1
}

// slotOf compares four keys: slotsPerHost is 4 (fewer would not compile
// there, more not here).
var _ [4 - slotsPerHost]struct{}

// Slot ranks (session.rank): a newcomer takes the slot of a session of lower
// rank, never of a higher one.
const (
	rankStale     = iota // silent for longer than its quiet period
	rankOrdinary         // found not to be Stratum (bulk, handshakes, keepalives only, fast), or refuted by the prober
	rankCandidate        // undecided: too young to judge
	rankPoolLike         // a Stratum profile, or an address a pool domain resolves to
	rankConfirmed        // a listed or probe-confirmed pool endpoint: kept even when silent
)

// rank orders a session for its slot at flow time now.
func (s *session) rank(now, quiet, window int64) int {
	switch {
	case s.intel() && !s.shared():
		return rankConfirmed
	case now-s.lastEnd() > s.quietFor(quiet, window):
		return rankStale
	case s.refuted():
		return rankOrdinary
	case s.intel():
		return rankPoolLike
	}
	switch s.verdict() {
	case profileYes:
		return rankPoolLike
	case profileYoung, profileSampledYoung:
		return rankCandidate
	}
	return rankOrdinary
}

// miningLike says whether a session's records are mining evidence rather
// than ordinary use of the host (cheap: for every record of a session).
func (s *session) miningLike() bool {
	if s.intel() && !s.shared() {
		return true
	}
	if s.agg == nil {
		return false // one record: not three message-like ones
	}
	return s.agg.profile >= 3 && s.agg.profile*5 >= s.agg.records*4
}

// alloc finds a slot for a new candidate session: a free one, else the one
// of lowest rank below the newcomer's (candidates may replace candidates:
// the one with fewest message-like records, then the stalest, since under
// sampling a miner's session gains a record every few hours and must
// outlive the one-packet records of web traffic). A confirmed newcomer may
// also replace a silent confirmed session.
func (h *host) alloc(k uint32, o *Observation, quiet, window int64) *session {
	for i := range h.sess {
		if !h.sess[i].used() {
			h.sess[i], h.sessKeys[i] = session{}, k
			return h.sess[i].init(o)
		}
	}
	if len(h.sess) < slotsPerHost {
		h.sess = append(h.sess, session{})
		h.sessKeys[len(h.sess)-1] = k
		return h.sess[len(h.sess)-1].init(o)
	}
	newRank := rankCandidate
	if o.Intel != nil && !o.Intel.Shared {
		newRank = rankConfirmed
	} else if o.Intel != nil {
		newRank = rankPoolLike
	}
	// The victim's rank, message-like records and last end are kept as
	// they are found, not read again for every slot after it; whether a
	// confirmed session is stale is asked only of a confirmed one.
	victim, vRank, vProf, vLast := -1, 0, uint32(0), int64(0)
	for i := range h.sess {
		s := &h.sess[i]
		r := s.rank(o.End, quiet, window)
		if !(r < newRank || r == newRank && r == rankCandidate ||
			r == rankConfirmed && newRank == rankConfirmed && o.End-s.lastEnd() > s.quietFor(quiet, window)) {
			continue
		}
		if p, l := s.nprof(), s.lastEnd(); victim < 0 || r < vRank || r == vRank && (p < vProf || p == vProf && l < vLast) {
			victim, vRank, vProf, vLast = i, r, p, l
		}
	}
	if victim < 0 {
		return nil
	}
	h.sess[victim], h.sessKeys[victim] = session{}, k
	return h.sess[victim].init(o)
}

// init makes s, a zeroed slot, the session of o's endpoint; its first
// record comes with add.
func (s *session) init(o *Observation) *session {
	s.remote, s.port = o.Remote.As16(), o.RemotePort
	s.flags = fUsed | fNew
	s.set(fIs4, o.Remote.Is4())
	return s
}

// init starts an aggregate at o, the session's first record (tally.add
// then adds it).
func (t *tally) init(o *Observation) {
	t.first, t.runStart, t.last, t.visitStart = o.Start, o.Start, o.End, o.Start
	t.hoursBase = o.Start / hourMs
}

const (
	minuteMs = 60_000
	hourMs   = 3_600_000
	// Stratum's message cadence, the periodicity signal's window (its label
	// in names says the same; a test keeps them in step).
	periodMinMs = 10_000
	periodMaxMs = 200_000
)

// fitsOne says whether o, a session's first record, fits the one-record
// form's narrow fields.
func fitsOne(o *Observation) bool {
	return o.Start >= 0 && o.Start < 1<<48 && o.End >= o.Start && o.End-o.Start <= math.MaxUint32 &&
		o.Packets <= math.MaxUint16 && o.SamplingRate <= math.MaxUint16 && (o.Outbound || o.Bytes <= math.MaxUint32)
}

func (s *session) add(o *Observation, msg bool) {
	switch {
	case s.has(fNew):
		s.flags &^= fNew
		if fitsOne(o) {
			s.start, s.dur, s.pkts, s.hostPort = toMs48(o.Start), uint32(o.End-o.Start), uint16(o.Packets), o.HostPort
			s.set(fMsg, msg)
			s.set(fHandshake, o.TCPFlags&(tcpSYN|tcpFIN|tcpRST) != 0)
			s.set(fInbound, !o.Outbound)
			if !o.Outbound {
				s.inBytes = uint32(o.Bytes)
			}
			s.note(o)
			return
		}
		s.agg = new(tally)
		s.agg.init(o)
	case s.agg == nil:
		s.grow() // before note, which would overwrite the one record's rate
	}
	s.note(o)
	s.agg.add(o, msg)
}

// note keeps what the flags and the rate say of record o.
func (s *session) note(o *Observation) {
	if o.Intel != nil {
		s.flags |= fIntel
		s.set(fShared, o.Intel.Shared)
	}
	if o.SamplingRate > 1 {
		s.flags |= fSampled
		if s.agg != nil {
			s.agg.rate = max(s.agg.rate, o.SamplingRate)
		} else {
			s.rate = uint16(o.SamplingRate) // the one record's (fitsOne)
		}
	}
}

// rateOf is the highest sampling rate of the session's records.
func (s *session) rateOf() uint32 {
	if s.agg != nil {
		return s.agg.rate
	}
	return uint32(s.rate)
}

// one is the one record of a session in that form, as it was observed (as
// far as the aggregate reads it).
func (s *session) one() Observation {
	o := Observation{Start: s.start.ms(), End: s.start.ms() + int64(s.dur), Packets: uint64(s.pkts), Outbound: !s.has(fInbound),
		HostPort: s.hostPort, SamplingRate: max(uint32(s.rate), 1)}
	if !o.Outbound {
		o.Bytes = uint64(s.inBytes)
	}
	if s.has(fHandshake) {
		o.TCPFlags = tcpSYN
	}
	return o
}

// view is the session's aggregate: agg, or (one record) the aggregate of
// its record, built in buf.
func (s *session) view(buf *tally) *tally {
	if s.agg != nil {
		return s.agg
	}
	*buf = tally{}
	if !s.has(fNew) {
		o := s.one()
		buf.init(&o)
		buf.add(&o, s.has(fMsg))
		buf.rate = uint32(s.rate)
	}
	return buf
}

// grow turns a one-record session into its aggregate.
func (s *session) grow() {
	if s.agg == nil {
		var t tally
		s.view(&t)
		s.agg = &t
		s.flags &^= fMsg | fHandshake | fInbound
		s.start, s.dur, s.pkts, s.inBytes, s.rate, s.hostPort = ms48{}, 0, 0, 0, 0, 0
	}
}

// Accessors that read either form without building the aggregate.
func (s *session) lastEnd() int64 {
	if s.agg != nil {
		return s.agg.last
	}
	return s.start.ms() + int64(s.dur)
}

func (s *session) firstStart() int64 {
	if s.agg != nil {
		return s.agg.first
	}
	return s.start.ms()
}

func (s *session) nrec() uint32 {
	if s.agg != nil {
		return s.agg.records
	}
	return 1
}

func (s *session) nprof() uint32 {
	if s.agg != nil {
		return s.agg.profile
	}
	if s.has(fMsg) {
		return 1
	}
	return 0
}

func (s *session) visitGaps() uint8 {
	if s.agg != nil {
		return s.agg.visitGaps
	}
	return 0
}

func (t *tally) add(o *Observation, msg bool) {
	// Stratum keeps its connection busy at least every minute (XMRig's
	// keepalive is 60 s, shares come every 15–60 s): five silent minutes end
	// a run, so separate game or chat sessions to one server never add up to
	// one long-lived connection. Sampling hides most packets, so there the
	// run is the whole session.
	if o.SamplingRate <= 1 && o.Start-t.last > 5*minuteMs {
		t.runStart, t.pkts = o.Start, 0
	}
	t.records++
	t.pkts += o.Packets
	if msg {
		t.profile++
	}
	if o.TCPFlags&(tcpSYN|tcpFIN|tcpRST) != 0 {
		t.handshakes++
	}
	if !o.Outbound {
		t.inPkts += o.Packets
		t.inBytes += o.Bytes
	}
	// Gaps between records: Stratum traffic comes as a message every
	// 10–200 s, each one its own record once the router's inactive timeout
	// (15 s) splits them. Records of the two directions of one exchange
	// start within a second and are not a gap.
	if g := o.Start - t.lastStart; t.lastStart != 0 && g > 1000 {
		t.gapsAll++
		if g >= periodMinMs && g <= periodMaxMs {
			t.gapsIn++
		}
	}
	if o.Start > t.lastStart {
		t.lastStart = o.Start
	}
	// Donation cadence: visits separated by 10+ min of silence.
	if o.Start-t.last > 10*minuteMs {
		visitLen := t.last - t.visitStart
		gap := o.Start - t.visitStart
		if visitLen >= 20_000 && visitLen <= 180_000 && gap >= 70*minuteMs && gap <= 130*minuteMs {
			t.visitGaps = min(t.visitGaps+1, 100)
		} else {
			t.visitGaps = 0
		}
		t.visitStart = o.Start
	}
	if o.Start < t.first {
		t.first = o.Start
	}
	if o.End > t.last {
		t.last = o.End
	}
	t.markHour(o.End / hourMs)
	t.markPort(o.HostPort, o.Start, o.End, o.SamplingRate > 1)
}

// markHour sets the bit of hour hr in a 64-hour ring.
func (t *tally) markHour(hr int64) {
	if d := hr - t.hoursBase; d >= 64 {
		shift := d - 63
		if shift >= 64 {
			t.hours = 0
		} else {
			t.hours >>= uint(shift)
		}
		t.hoursBase += shift
	} else if d < 0 {
		return // older than the ring
	}
	t.hours |= 1 << uint(hr-t.hoursBase)
}

// hoursWithin counts active hours in the last `window` hours before now.
func (s *session) hoursWithin(nowHr, window int64) int {
	var buf tally
	t := s.view(&buf)
	lo := nowHr - window + 1 - t.hoursBase
	if lo >= 64 {
		return 0
	}
	m := t.hours
	if lo > 0 {
		m >>= uint(lo)
	}
	return bits.OnesCount64(m)
}

// markPort notes a record's host port. Most records of a session come from
// a port it already holds, so the ports are matched first in a loop of
// compares only; the oldest port (the first of the least recent, the one a
// new port replaces) is looked for only when none matches.
func (t *tally) markPort(p uint16, start, end int64, sampled bool) {
	for i := range t.ports {
		if c := &t.ports[i]; c.port == p {
			if !sampled && start-c.lastMs() > 5*minuteMs {
				c.first = toSec(start) // the same port reused by a new connection
			}
			if ts := toSec(end); ts.secs() > c.last.secs() {
				c.last = ts
			}
			return
		}
	}
	oldest, oldestLast := 0, t.ports[0].last.secs()
	for i := 1; i < len(t.ports); i++ {
		if l := t.ports[i].last.secs(); l < oldestLast {
			oldest, oldestLast = i, l
		}
	}
	t.ports[oldest] = portSeen{port: p, first: toSec(start), last: toSec(end)}
}

// add tracks a new host in sh (its shard, locked), making room first when
// the shard or the engine is full; nil when there is no room. Readers adding
// hosts to different shards at once may pass MaxHosts by one host each.
func (e *Engine) add(sh *shard, k addrKey, is4 bool, hash uint64) *host {
	if sh.hosts.len() >= e.perShard || e.hosts.Load() >= int64(e.cfg.MaxHosts) {
		if !e.evictOne(sh) {
			return nil // full, and nothing of this shard to drop
		}
	}
	h := sh.hosts.insert(k, is4, hash)
	if h != nil {
		e.hosts.Add(1)
	}
	return h
}

// drop forgets h, a host of sh (locked).
func (e *Engine) drop(sh *shard, h *host) {
	sh.hosts.del(h)
	e.hosts.Add(-1)
}

// evictOne drops the least suspicious of a few hosts of the shard, sampled
// from a random place; false when the shard is empty.
func (e *Engine) evictOne(sh *shard) bool {
	var vh *host
	for h := range sh.hosts.sample(16) {
		if vh == nil || less(h, vh) {
			vh = h
		}
	}
	if vh == nil {
		return false
	}
	e.drop(sh, vh)
	e.evictions.Add(1)
	return true
}

// less orders hosts by how little they matter: not flagged, no pool
// contacts, not a suspect, low score, then long unseen.
func less(a, b *host) bool {
	if a.mining != b.mining {
		return !a.mining
	}
	if (a.pools != nil) != (b.pools != nil) {
		return a.pools == nil
	}
	if a.suspect != b.suspect {
		return !a.suspect
	}
	if a.score != b.score {
		return a.score < b.score
	}
	return a.lastSeen < b.lastSeen
}

// Stats describe the state.
func (e *Engine) Stats() Stats {
	st := Stats{Evictions: e.evictions.Load()}
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		st.Hosts += sh.hosts.len()
		st.Bytes += sh.hosts.bytes()
		for _, h := range sh.hosts.all() {
			st.Bytes += hostBytes(h)
			st.Sessions += len(h.sess)
		}
		sh.mu.Unlock()
	}
	return st
}
