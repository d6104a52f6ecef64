package score

import (
	"net/netip"
	"unsafe"
)

// slotsPerHost bounds the sessions held per host: a miner needs one or two.
// When all are taken, a newcomer may replace only a session of lower rank
// (session.rank: confirmed pool contacts, then pool-like sessions, then
// undecided candidates, then sessions already found ordinary), so a busy host
// cannot push its pool contact out with web traffic.
const slotsPerHost = 4

// portsPerSession bounds the host ports remembered per session: distinct
// concurrent ports to one pool endpoint estimate the machines behind a NAT.
const portsPerSession = 4

// host is the state of one internal IP, held inline in its shard's
// hostTable. Hosts that never showed a candidate session carry no session
// table, so an ordinary host costs its 192-byte slot and a 4-byte index entry.
//
// The fields every record reads or writes (Observe: the key compared by the
// table, the unit's identity, lastSeen, the session keys, the hours of use
// and the flags) fill the struct's first 64 bytes, and the table's pages
// start on a cache line (hostTable.newPage), so with the size a multiple of
// 64 they are one cache line: a record's first touch of a host among
// thousands is a cache miss, and this way it is one miss, not two or three.
// The second line holds what Observe reads only for a new unit, a session
// key that matches or a pool contact; the third, Evaluate's fields.
// TestHostLayout keeps it so.
type host struct {
	key addrKey // the address (hostTable)
	// unitID identifies the bytes of unit (unitIDOf) so that a record of
	// the same unit (the ledger hands out one string per unit) is
	// recognised without reading unit itself, which lies in the second
	// cache line; 0 when not known (a restored host), then unit is compared.
	unitID   uint64
	lastSeen int64
	sessKeys [slotsPerHost]uint32 // sessKey of each slot in use, 0 if free
	// Ordinary use of the host (records outside its mining-like sessions),
	// for the class hint: bit k of useHours is set when hour useHr-k saw at
	// least useHourPkts such packets; usePkts counts them in hour useHr.
	useHours uint32
	useHr    int32
	usePkts  uint32
	is4      bool // key is an IPv4 address (not its IPv4-mapped IPv6 form)
	live     bool // the slot holds a host (hostTable)
	research bool
	best     int8 // slot index of the strongest session at the last evaluation, -1 none
	// Second cache line: what Observe reads beyond the first line (the
	// unit for a new unit, the session table for a session key that
	// matches, the pool counts for a pool contact), so that a record never
	// needs the third line and ObserveBatch prefetches two lines, not three.
	unit    string
	sess    []session    // grows to slotsPerHost
	pools   *[]poolCount // nil until the first pool contact (rare: saves 16 bytes a host)
	mining  bool         // confirmed: a mining IP
	suspect bool         // behaviour only: not a mining IP
	// Read by Evaluate only (Observe writes firstSeen of a new host).
	points       [nSignals]float32
	score        float32
	firstSeen    int64
	flaggedSince int64
	lastMining   int64   // last evaluation at which the host was flagged
	suspectSince int64   // evaluation at which the current suspect stage began, 0 when not a suspect
	_            [8]byte // to a multiple of 64 bytes: every host's first line then starts a cache line
}

// unitIDOf is the address and length of s's bytes in one word (0 when they
// do not fit: an address past 48 bits, a name of 64 KiB). Two strings with
// one unitID hold the same bytes as long as one of them is alive, and
// host.unit keeps alive the one whose unitID the host holds.
func unitIDOf(s string) uint64 {
	p, n := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))), uint64(len(s))+1 // +1: never 0
	if p>>48 != 0 || n>>16 != 0 {
		return 0
	}
	return n<<48 | p
}

type poolCount struct {
	pool, coin string
	confirmed  string // the probe's evidence (IntelHit.Confirmed)
	n          uint64
	saved      uint64 // n as of the last snapshot written (see HoldCounters)
}

// session is one host's traffic with one remote endpoint. It comes in two
// forms, so that the many candidate sessions a busy host opens and drops
// (one message-sized record to a web server, replaced by the next) cost
// less than a cache line each instead of a full aggregate:
//
//   - one record (agg nil): the record itself, in dur…hostPort below, which
//     is all an aggregate of one record would hold (tally.init and
//     tally.add of it give the aggregate again: grow);
//   - the aggregate (agg), from the second record on, or from the first
//     when it does not fit the narrow fields of the one-record form.
//
// The endpoint and the flags are here in both forms. 48 bytes, no padding
// holes: one, two and four sessions fill the allocator's 48-, 96- and
// 192-byte size classes exactly; the aggregate is one more allocation of 160.
type session struct {
	remote [16]byte // the remote address (IPv4 in its mapped form; fIs4 says which; no zone: flow records carry none)
	agg    *tally   // nil while the session has one record
	// The one record, while agg is nil (fitsOne: a record that does not fit
	// these widths makes the aggregate at once).
	dur      uint32 // end − start, ms
	inBytes  uint32 // bytes when inbound (the host the destination), else 0
	start    ms48   // its start
	pkts     uint16 // packets, scaled by sampling
	rate     uint16 // its sampling rate (0: unsampled)
	hostPort uint16 // its host port
	// Both forms.
	port  uint16 // the remote port
	flags uint16 // fUsed, …
}

// ms48 is a Unix ms time from 0 to 2⁴⁸−1 (the year 10889) in three 16-bit
// halves, so that it packs with the session's 2-byte fields. A struct, not
// a [3]uint16: the compiler keeps a small struct in registers, while it
// copies an array of more than one element through the stack on every use.
type ms48 struct{ hi, mid, lo uint16 }

func toMs48(ms int64) ms48 { return ms48{uint16(ms >> 32), uint16(ms >> 16), uint16(ms)} }
func (t ms48) ms() int64   { return int64(t.hi)<<32 | int64(t.mid)<<16 | int64(t.lo) }

// Session flags (session.flags).
const (
	fUsed    = 1 << iota // the slot holds a session
	fNew                 // init done, no record added yet
	fIs4                 // remote is an IPv4 address (not its IPv4-mapped IPv6 form)
	fIntel               // a record matched the intel (listed pool, or confirmed since)
	fShared              // … at a shared (CDN) address
	fSampled             // a record was sampled
	fRefuted             // the prober found no pool at the endpoint (Config.Probed, as of the last evaluation)
	// The one record (agg nil): its kind.
	fMsg       // message-like (messageLike)
	fHandshake // SYN, FIN or RST
	fInbound   // the host was the flow's destination
)

func (s *session) has(f uint16) bool { return s.flags&f != 0 }

func (s *session) set(f uint16, on bool) {
	if on {
		s.flags |= f
	} else {
		s.flags &^= f
	}
}

func (s *session) used() bool    { return s.flags&fUsed != 0 }
func (s *session) intel() bool   { return s.flags&fIntel != 0 }
func (s *session) shared() bool  { return s.flags&fShared != 0 }
func (s *session) sampled() bool { return s.flags&fSampled != 0 }
func (s *session) refuted() bool { return s.flags&fRefuted != 0 }

// addr is the remote address.
func (s *session) addr() netip.Addr {
	if s.has(fIs4) {
		return netip.AddrFrom4([4]byte(s.remote[12:]))
	}
	return netip.AddrFrom16(s.remote)
}

// endpoint is the remote address and port, for the prober and reports.
func (s *session) endpoint() netip.AddrPort { return netip.AddrPortFrom(s.addr(), s.port) }

// tally aggregates the records of a session (its second form). Fields are
// ordered widest first (no padding holes). The records that were not
// message-like are records − profile.
type tally struct {
	first      int64  // first record start
	runStart   int64  // start of the current run of continuous activity (unsampled)
	last       int64  // last record end
	lastStart  int64  // start of the newest record, for gaps
	pkts       uint64 // both directions, scaled by sampling, in the current run
	inPkts     uint64
	inBytes    uint64
	hours      uint64 // ring of hours (of the window) with activity
	hoursBase  int64  // hour number of bit 0
	asked      int64  // evaluation at which the endpoint was last handed to OnSuspect (not snapshotted)
	visitStart int64  // donation cadence: visits separated by > 10 min of silence
	rate       uint32 // highest sampling rate of its records
	records    uint32
	profile    uint32 // records that look like Stratum messages
	handshakes uint32 // records with SYN/FIN/RST: new connections, not one long session
	gapsIn     uint32 // gaps between record starts within periodMinMs–periodMaxMs
	gapsAll    uint32
	ports      [portsPerSession]portSeen
	visitGaps  uint8 // consecutive visit gaps of 70–130 min with ~1 min visits
}

// portSeen is one connection (host port) of a session: first and last
// activity of its current run, in Unix seconds (a second is fine for runs of
// minutes to hours; four of these per session, so the bytes count: 10 each).
type portSeen struct {
	port        uint16
	first, last sec32
}

// sec32 is a uint32 of Unix seconds kept as two halves, so that portSeen is
// 2-byte aligned and takes 10 bytes instead of 12 (a struct for the reason
// ms48 is one).
type sec32 struct{ hi, lo uint16 }

func toSec(ms int64) sec32 {
	v := uint32(max(ms, 0) / 1000)
	return sec32{uint16(v >> 16), uint16(v)}
}
func (t sec32) secs() uint32       { return uint32(t.hi)<<16 | uint32(t.lo) }
func (p *portSeen) firstMs() int64 { return int64(p.first.secs()) * 1000 }
func (p *portSeen) lastMs() int64  { return int64(p.last.secs()) * 1000 }

// tallyBytes is what an aggregate takes on the heap: its size rounded up to
// the allocator's size class (multiples of 16 from 128 to 256 bytes).
const tallyBytes = int64(unsafe.Sizeof(tally{})+15) &^ 15

// hostBytes estimates the memory a host holds beyond its slot in the table
// (hostTable.bytes), for the state-size gauge: its session table and pool counts.
func hostBytes(h *host) int64 {
	n := int64(cap(h.sess)) * int64(unsafe.Sizeof(session{}))
	for i := range h.sess {
		if h.sess[i].agg != nil {
			n += tallyBytes
		}
	}
	if h.pools != nil {
		n += 24 + int64(cap(*h.pools))*int64(unsafe.Sizeof(poolCount{}))
	}
	return n
}
