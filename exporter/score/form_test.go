package score

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"unsafe"
)

// refSession is the session as it was before the one-record form (one
// struct of int64 times and 64-bit counters, the remote a netip.Addr): the
// oracle of TestOneRecordForm. Its methods are the old ones, unchanged but
// for the names.
type refSession struct {
	remote                                               netip.Addr
	first, runStart, last, lastStart                     int64
	pkts, inPkts, inBytes, hours                         uint64
	hoursBase, asked, visitStart                         int64
	records, profile, other, handshakes, gapsIn, gapsAll uint32
	rate                                                 uint32
	ports                                                [portsPerSession]portSeen
	port                                                 uint16
	used, intel, shared, sampled, refuted                bool
	visitGaps                                            uint8
}

func (s *refSession) init(o *Observation) {
	s.used, s.remote, s.port = true, o.Remote, o.RemotePort
	s.first, s.runStart, s.last, s.visitStart = o.Start, o.Start, o.End, o.Start
	s.hoursBase = o.Start / hourMs
}

func (s *refSession) add(o *Observation, msg bool) {
	if o.Intel != nil {
		s.intel, s.shared = true, o.Intel.Shared
	}
	if o.SamplingRate > 1 {
		s.sampled = true
		s.rate = max(s.rate, o.SamplingRate)
	}
	if o.SamplingRate <= 1 && o.Start-s.last > 5*minuteMs {
		s.runStart, s.pkts = o.Start, 0
	}
	s.records++
	s.pkts += o.Packets
	if msg {
		s.profile++
	} else {
		s.other++
	}
	if o.TCPFlags&(tcpSYN|tcpFIN|tcpRST) != 0 {
		s.handshakes++
	}
	if !o.Outbound {
		s.inPkts += o.Packets
		s.inBytes += o.Bytes
	}
	if g := o.Start - s.lastStart; s.lastStart != 0 && g > 1000 {
		s.gapsAll++
		if g >= periodMinMs && g <= periodMaxMs {
			s.gapsIn++
		}
	}
	if o.Start > s.lastStart {
		s.lastStart = o.Start
	}
	if o.Start-s.last > 10*minuteMs {
		visitLen := s.last - s.visitStart
		gap := o.Start - s.visitStart
		if visitLen >= 20_000 && visitLen <= 180_000 && gap >= 70*minuteMs && gap <= 130*minuteMs {
			s.visitGaps = min(s.visitGaps+1, 100)
		} else {
			s.visitGaps = 0
		}
		s.visitStart = o.Start
	}
	if o.Start < s.first {
		s.first = o.Start
	}
	if o.End > s.last {
		s.last = o.End
	}
	if d := o.End/hourMs - s.hoursBase; d >= 64 {
		shift := d - 63
		if shift >= 64 {
			s.hours = 0
		} else {
			s.hours >>= uint(shift)
		}
		s.hoursBase += shift
	}
	if d := o.End/hourMs - s.hoursBase; d >= 0 {
		s.hours |= 1 << uint(d)
	}
	oldest, p, start, end := 0, o.HostPort, o.Start, o.End
	for i := range s.ports {
		c := &s.ports[i]
		if c.port == p {
			if o.SamplingRate <= 1 && start-c.lastMs() > 5*minuteMs {
				c.first = toSec(start)
			}
			if t := toSec(end); t.secs() > c.last.secs() {
				c.last = t
			}
			return
		}
		if c.last.secs() < s.ports[oldest].last.secs() {
			oldest = i
		}
	}
	s.ports[oldest] = portSeen{port: p, first: toSec(start), last: toSec(end)}
}

func (s *refSession) conns() int {
	n := 0
	for _, p := range s.ports {
		if p.port != 0 && p.lastMs() >= s.runStart/1000*1000 {
			n++
		}
	}
	return max(n, 1)
}

func (s *refSession) sharedEarly() bool {
	if !s.sampled || !s.intel || !s.shared || s.profile < 2 || s.last-s.first < sharedEarlySpanMs {
		return false
	}
	if s.inPkts > 0 && s.inBytes/s.inPkts < 100 {
		return false
	}
	n := 0
	for _, p := range s.ports {
		if p.port != 0 {
			n++
		}
	}
	return n == 1
}

func (s *refSession) verdict() int {
	if s.profile*5 < s.records*4 || s.handshakes*5 > s.records {
		if s.records < 3 {
			return profileYoung
		}
		return profileNo
	}
	if s.inPkts > 0 && s.inBytes/s.inPkts < 100 && s.records >= 3 {
		return profileNo
	}
	span := s.last - s.runStart
	if mins := span / minuteMs; mins >= 5 && s.pkts/uint64(mins) > maxStratumPerMin*uint64(s.conns()) {
		return profileNo
	}
	if s.profile < 3 && s.sharedEarly() {
		return profileSampledYoung
	}
	if s.profile < 3 || s.inPkts > 0 && s.inBytes/s.inPkts < 100 {
		return profileYoung
	}
	if s.sampled && span < hourMs {
		return profileSampledYoung
	}
	return profileYes
}

func (s *refSession) quietFor(quiet, window int64) int64 {
	if !s.sampled {
		return quiet
	}
	gap := int64(s.rate) * stratumPacketGapMs
	if s.records >= 2 {
		gap = max(gap, (s.last-s.first)/int64(s.records-1))
	}
	return min(max(sampledQuietGaps*gap, quiet), maxSampledQuiet, window)
}

func (s *refSession) rank(now, quiet, window int64) int {
	switch {
	case s.intel && !s.shared:
		return rankConfirmed
	case now-s.last > s.quietFor(quiet, window):
		return rankStale
	case s.refuted:
		return rankOrdinary
	case s.intel:
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

func (s *refSession) miningLike() bool {
	return s.intel && !s.shared || s.profile >= 3 && s.profile*5 >= s.records*4
}

func (s *refSession) longest() int64 {
	if s.sampled {
		return s.last - s.runStart
	}
	var d int64
	for _, p := range s.ports {
		if p.port != 0 {
			d = max(d, p.lastMs()-p.firstMs())
		}
	}
	return d
}

func (s *refSession) hoursWithin(nowHr, window int64) int {
	lo := nowHr - window + 1 - s.hoursBase
	if lo >= 64 {
		return 0
	}
	m := s.hours
	if lo > 0 {
		m >>= uint(lo)
	}
	return bits.OnesCount64(m)
}

// randomObs draws a record of one endpoint near the previous one, with the
// edges the session's arithmetic turns on close by: gaps about 1 s, 10 s,
// 200 s, 5 and 10 min and 70–130 min, records of about five minutes,
// inbound and outbound, handshakes, host port 0, sampling, intel, and now
// and then a field too wide for the one-record form or a record that ends
// before it starts.
func randomObs(rng *rand.Rand, prev int64, remote netip.Addr) (Observation, bool) {
	gaps := []int64{0, 999, 1000, 1001, 9_999, 10_000, 200_000, 200_001, 5*minuteMs + 1, 10*minuteMs + 1, 70 * minuteMs, 100 * minuteMs, 130*minuteMs + 1, hourMs, 70 * hourMs}
	start := prev + gaps[rng.IntN(len(gaps))] + int64(rng.IntN(3)) - 1
	if rng.IntN(10) == 0 {
		start = prev - int64(rng.IntN(20*minuteMs)) // out of order
	}
	if rng.IntN(50) == 0 {
		start = int64(rng.IntN(3)) - 1 // about zero (a test's clock)
	}
	durs := []int64{0, 500, 20_000, 180_000, 5*minuteMs - 1, 5 * minuteMs, 6 * minuteMs, 2 * hourMs, 65 * hourMs}
	end := start + durs[rng.IntN(len(durs))]
	o := Observation{Remote: remote, RemotePort: 3333, HostPort: []uint16{0, 40000, 40001, 40002, 40003, 40004}[rng.IntN(6)],
		Proto: 6, Start: start, End: end, Packets: uint64(1 + rng.IntN(400)), Outbound: rng.IntN(2) == 0,
		SamplingRate: []uint32{0, 1, 1, 100, 1000}[rng.IntN(5)]}
	o.Bytes = o.Packets * uint64(40+rng.IntN(200))
	switch rng.IntN(30) {
	case 4:
		o.Packets = math.MaxUint16 + uint64(rng.IntN(2)) // the widest that fits, and one more
	case 5:
		o.SamplingRate = math.MaxUint16 + uint32(rng.IntN(2))
	case 6:
		o.Start, o.End = 1<<48-int64(rng.IntN(2)), 1<<48+1000
	case 0:
		o.End = o.Start - 1000 // ends before it starts
	case 1:
		o.End = o.Start + math.MaxUint32 + 1
	case 2:
		o.Packets = math.MaxUint32 + 1
	case 3:
		o.Bytes = math.MaxUint32 + 1
	}
	if rng.IntN(4) == 0 {
		o.TCPFlags = []uint8{tcpSYN, tcpFIN, tcpRST}[rng.IntN(3)]
	}
	switch rng.IntN(6) {
	case 0:
		o.Intel = &IntelHit{Pool: "p"}
	case 1:
		o.Intel = &IntelHit{Pool: "p", Shared: true}
	}
	return o, rng.IntN(4) != 0
}

// TestOneRecordForm checks the compact session against the old one over
// random record sequences: after every record (the first in the
// one-record form, the rest in the aggregate grown from it), every
// decision the engine takes from a session (verdict, rank, quiet period,
// mining-like, longest run, connections, active hours) and the snapshot's
// fields are the old session's.
func TestOneRecordForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	const quiet, window = 30 * minuteMs, 24 * hourMs
	base := int64(1_795_000_000_000)
	remotes := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("::ffff:198.51.100.7")}
	for run := 0; run < 20_000; run++ {
		remote := remotes[run%len(remotes)]
		var ref refSession
		var s session
		prev := base + int64(rng.IntN(hourMs))
		if run%7 == 0 {
			prev = int64(rng.IntN(2 * minuteMs))
		}
		n := 1 + rng.IntN(8)
		if run%2 == 0 {
			n = 1 // the form most sessions keep
		}
		for i := 0; i < n; i++ {
			o, msg := randomObs(rng, prev, remote)
			prev = o.Start
			if i == 0 {
				ref.init(&o)
				s.init(&o)
			}
			ref.add(&o, msg)
			s.add(&o, msg)
			if rng.IntN(5) == 0 { // what an evaluation may set
				ref.refuted = rng.IntN(2) == 0
				s.set(fRefuted, ref.refuted)
			}
			if i == 0 && fitsOne(&o) && s.agg != nil {
				t.Fatalf("run %d: a record that fits took the aggregate form", run)
			}
			compareSession(t, run, i, &ref, &s, o.End, quiet, window)
		}
	}
}

func compareSession(t *testing.T, run, i int, ref *refSession, s *session, end, quiet, window int64) {
	t.Helper()
	fail := func(what string, want, got any) {
		t.Helper()
		t.Fatalf("run %d record %d (one-record form %v): %s = %v, the old session's is %v", run, i, s.agg == nil, what, got, want)
	}
	if s.addr() != ref.remote || s.port != ref.port || !s.used() {
		fail("endpoint", netip.AddrPortFrom(ref.remote, ref.port), s.endpoint())
	}
	if got, want := s.verdict(), ref.verdict(); got != want {
		fail("verdict", want, got)
	}
	for _, now := range []int64{end, end + quiet, end + quiet + 1, end + 3*hourMs, end + 13*hourMs} {
		if got, want := s.rank(now, quiet, window), ref.rank(now, quiet, window); got != want {
			fail("rank", want, got)
		}
		for _, w := range []int64{1, 24, 64} {
			if got, want := s.hoursWithin(now/hourMs, w), ref.hoursWithin(now/hourMs, w); got != want {
				fail("hoursWithin", want, got)
			}
		}
	}
	if got, want := s.quietFor(quiet, window), ref.quietFor(quiet, window); got != want {
		fail("quietFor", want, got)
	}
	if got, want := s.miningLike(), ref.miningLike(); got != want {
		fail("miningLike", want, got)
	}
	if got, want := s.longest(), ref.longest(); got != want {
		fail("longest", want, got)
	}
	if got, want := s.sharedEarly(), ref.sharedEarly(); got != want {
		fail("sharedEarly", want, got)
	}
	if got, want := s.lastEnd(), ref.last; got != want {
		fail("last", want, got)
	}
	if got, want := s.nprof(), ref.profile; got != want {
		fail("profile", want, got)
	}
	if got, want := s.visitGaps(), ref.visitGaps; got != want {
		fail("visitGaps", want, got)
	}
	if s.intel() != ref.intel || s.shared() != ref.shared || s.sampled() != ref.sampled || s.refuted() != ref.refuted || s.rateOf() != ref.rate {
		fail("flags", [5]any{ref.intel, ref.shared, ref.sampled, ref.refuted, ref.rate}, [5]any{s.intel(), s.shared(), s.sampled(), s.refuted(), s.rateOf()})
	}
	// What a snapshot writes.
	var buf tally
	v := s.view(&buf)
	want := tally{first: ref.first, runStart: ref.runStart, last: ref.last, lastStart: ref.lastStart, pkts: ref.pkts,
		inPkts: ref.inPkts, inBytes: ref.inBytes, hours: ref.hours, hoursBase: ref.hoursBase, visitStart: ref.visitStart,
		records: ref.records, profile: ref.profile, handshakes: ref.handshakes, gapsIn: ref.gapsIn, gapsAll: ref.gapsAll,
		ports: ref.ports, visitGaps: ref.visitGaps, rate: ref.rate}
	if *v != want {
		fail("aggregate", want, *v)
	}
	if v.records-v.profile != ref.other {
		fail("other", ref.other, v.records-v.profile)
	}
}

// TestSessionSizes keeps the forms in the sizes their comments promise:
// four one-record sessions in the allocator's 192-byte class, an aggregate
// in the 160-byte one.
func TestSessionSizes(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n != 48 {
		t.Errorf("session is %d bytes, want 48", n)
	}
	if tallyBytes != 160 {
		t.Errorf("tally takes %d bytes, want 160", tallyBytes)
	}
}

// TestFindTellsAddressFormsApart: an IPv4 endpoint and its IPv4-mapped IPv6
// twin are two sessions (as they were when the remote was a netip.Addr),
// and a freed slot is found no more.
func TestFindTellsAddressFormsApart(t *testing.T) {
	var h host
	remotes := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("::ffff:198.51.100.7"), netip.MustParseAddr("2001:db8::7")}
	for i, r := range remotes {
		o := Observation{Remote: r, RemotePort: 3333, HostPort: 40000, Proto: 6, Start: 1000, End: 2000, Packets: 3, Bytes: 300}
		s := h.alloc(sessKey(r, 3333), &o, 30*minuteMs, 24*hourMs)
		s.add(&o, true)
		if got := findSession(&h, sessKey(r, 3333), r, 3333); got != &h.sess[i] || got.addr() != r {
			t.Fatalf("findSession(%v) = slot %p (%v), want slot %d", r, got, got, i)
		}
	}
	for i, r := range remotes {
		if got := findSession(&h, sessKey(r, 3333), r, 3333); got != &h.sess[i] {
			t.Errorf("findSession(%v) after the others: %p, want slot %d", r, got, i)
		}
		if got := findSession(&h, sessKey(r, 3334), r, 3334); got != nil {
			t.Errorf("findSession(%v:3334) = %v, want none", r, got.endpoint())
		}
	}
	h.sess[1], h.sessKeys[1] = session{}, 0 // as Evaluate frees an expired slot
	if got := findSession(&h, sessKey(remotes[1], 3333), remotes[1], 3333); got != nil {
		t.Errorf("freed slot still found: %v", got.endpoint())
	}
}

// TestSnapshotKeepsTheForms: a session written to a snapshot and read back
// holds the same aggregate, and one of one record takes the one-record form
// again (a restart does not swell the state).
func TestSnapshotKeepsTheForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ip := netip.MustParseAddr("10.0.0.9")
	compact := 0
	for run := 0; run < 5000; run++ {
		var h host
		n := 1 + rng.IntN(3)
		if run%2 == 0 {
			n = 1
		}
		prev := int64(1_795_000_000_000)
		remote := netip.MustParseAddr("198.51.100.7")
		for i := 0; i < n; i++ {
			o, msg := randomObs(rng, prev, remote)
			prev = o.Start
			s := findSession(&h, sessKey(remote, 3333), remote, 3333)
			if s == nil {
				s = h.alloc(sessKey(remote, 3333), &o, 30*minuteMs, 24*hourMs)
			}
			s.add(&o, msg)
		}
		orig := &h.sess[0]
		r := h.snap(ip)
		e := New(DefaultConfig())
		e.restore(&r)
		got := e.shard(ip).get(ip)
		if got == nil || len(got.sess) != 1 || findSession(got, sessKey(remote, 3333), remote, 3333) != &got.sess[0] {
			t.Fatalf("run %d: session not restored: %+v", run, got)
		}
		back := &got.sess[0]
		var b1, b2 tally
		if *orig.view(&b1) != *back.view(&b2) || orig.flags&^(fMsg|fHandshake|fInbound) != back.flags&^(fMsg|fHandshake|fInbound) {
			t.Fatalf("run %d: restored session differs:\n%+v\n%+v", run, *orig, *back)
		}
		if (orig.agg == nil) != (back.agg == nil) {
			t.Fatalf("run %d: one-record form %v saved, %v restored", run, orig.agg == nil, back.agg == nil)
		}
		if back.agg == nil {
			compact++
		}
	}
	if compact < 1000 {
		t.Fatalf("only %d of the sessions restored in the one-record form", compact)
	}
}

// findSession is the session of remote:port as observeLocked finds it
// (slotOf, then findFrom), nil if none.
func findSession(h *host, k uint32, remote netip.Addr, port uint16) *session {
	if i := h.slotOf(k); i >= 0 {
		return h.findFrom(i, k, remote, port)
	}
	return nil
}

// refVictim is the slot the former alloc gave a newcomer o on a host whose
// slots are all taken (-1: none), kept as the oracle for TestAllocVictim.
func refVictim(h *host, o *Observation, quiet, window int64) int {
	newRank := rankCandidate
	if o.Intel != nil && !o.Intel.Shared {
		newRank = rankConfirmed
	} else if o.Intel != nil {
		newRank = rankPoolLike
	}
	victim, vRank := -1, 0
	for i := range h.sess {
		s := &h.sess[i]
		r := s.rank(o.End, quiet, window)
		stale := o.End-s.lastEnd() > s.quietFor(quiet, window)
		if !(r < newRank || r == newRank && r == rankCandidate || r == rankConfirmed && newRank == rankConfirmed && stale) {
			continue
		}
		if victim < 0 || r < vRank {
			victim, vRank = i, r
		} else if v := &h.sess[victim]; r == vRank && (s.nprof() < v.nprof() || s.nprof() == v.nprof() && s.lastEnd() < v.lastEnd()) {
			victim = i
		}
	}
	return victim
}

// TestAllocVictim: on a host with its slots full of sessions of every kind
// (confirmed, shared, refuted, sampled, stale, one record or many, equal
// message counts and ends), a newcomer candidate, pool-like or confirmed
// session takes the slot the former alloc chose, or none when it did.
func TestAllocVictim(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	const quiet, window = 30 * minuteMs, 24 * hourMs
	base := int64(1_795_000_000_000)
	seen := map[int]int{}
	for run := 0; run < 50_000; run++ {
		var h host
		h.sess = make([]session, slotsPerHost)
		last := base
		for i := range h.sess {
			remote := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			prev := base + int64(rng.IntN(3))*hourMs
			if run%3 == 0 {
				prev = base // equal starts: the ties of the choice
			}
			s := &h.sess[i]
			for j, n := 0, 1+rng.IntN(5); j < n; j++ {
				o, msg := randomObs(rng, prev, remote)
				if run%3 == 0 {
					o.Start, o.End = base, base+1000
				}
				prev = o.Start
				if j == 0 {
					s.init(&o)
				}
				s.add(&o, msg)
				last = max(last, o.End)
			}
			s.set(fRefuted, rng.IntN(5) == 0)
			h.sessKeys[i] = sessKey(remote, 3333)
		}
		o, _ := randomObs(rng, last, netip.MustParseAddr("203.0.113.1"))
		o.End = last + []int64{0, quiet - 1, quiet + 1, 3 * hourMs, 13 * hourMs}[rng.IntN(5)]
		want := refVictim(&h, &o, quiet, window)
		seen[want]++
		g := h
		g.sess = slices.Clone(h.sess)
		got := -1
		if s := g.alloc(sessKey(o.Remote, o.RemotePort), &o, quiet, window); s != nil {
			got = int((uintptr(unsafe.Pointer(s)) - uintptr(unsafe.Pointer(&g.sess[0]))) / unsafe.Sizeof(session{}))
		}
		if got != want {
			t.Fatalf("run %d: the newcomer (intel %+v, end %d) took slot %d, the former alloc's choice is %d", run, o.Intel, o.End, got, want)
		}
	}
	for v := -1; v < slotsPerHost; v++ {
		if seen[v] == 0 {
			t.Errorf("no run chose %d: the test does not reach every outcome (%v)", v, seen)
		}
	}
}
