package score

// Snapshots keep the evidence across restarts: a miner behind a private
// proxy needs an hour of Stratum-like traffic before it is flagged, and
// first-seen, flagged-since and the pool counters cannot be rebuilt from new
// traffic at all.
//
// File layout (all integers big-endian):
//
//	magic    8 bytes  "MWSTATE\n"
//	version  uint32   snapshotVersion; any other is refused
//	length   uint64   bytes of the body that follows
//	crc32    uint32   IEEE CRC of the body
//	body     gob stream: one snapMeta, then one []snapHost per shard
//
// Points, best session and reasons are not stored: Restore evaluates the
// restored state at the snapshot's own time, which recomputes them exactly,
// so the format does not depend on how signals are numbered.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// SnapshotConfig says where and how often the state is saved (the config
// file's snapshot section). An empty File disables snapshots: a restart then
// starts from nothing.
type SnapshotConfig struct {
	File     string
	Interval time.Duration // also written on shutdown; a crash loses at most this much
}

// DefaultSnapshotConfig is the default: no file, a minute between snapshots.
func DefaultSnapshotConfig() SnapshotConfig { return SnapshotConfig{Interval: time.Minute} }

const (
	snapshotMagic   = "MWSTATE\n"
	snapshotVersion = 1
	headerLen       = 8 + 4 + 8 + 4
)

// maxSnapshotBody bounds what Restore reads: the state is bounded by
// MaxHosts, and no host record comes near 8 KiB (4 sessions, 8 pools).
func (e *Engine) maxSnapshotBody() int64 { return int64(e.cfg.MaxHosts)*8<<10 + 1<<20 }

type snapMeta struct {
	Now, First int64 // flow clock of the last evaluation and of the first
	Hosts      int
}

// Fields are added, never renamed or retyped: gob decodes a snapshot
// without them (an older exporter's) into zero values, which mean "not yet
// seen" (testdata/state-v1.snap is one, written before the suspect stage),
// and ignores fields it no longer has (WorkHours, replaced by the hint's
// hours of use). A change gob cannot decode so must bump snapshotVersion.
type snapHost struct {
	IP                                                netip.Addr
	Unit                                              string
	FirstSeen, LastSeen, FlaggedSince, LastSeenMining int64
	Score                                             float32
	Mining, Research                                  bool
	Sessions                                          []snapSession
	Pools                                             []snapPool
	Suspect                                           bool
	SuspectSince                                      int64
	UseHours, UsePkts                                 uint32
	UseHr                                             int32
}

type snapPool struct {
	Pool, Coin string
	N          uint64
	Confirmed  string
}

type snapSession struct {
	Remote                              netip.Addr
	Port                                uint16
	Intel, Shared, Sampled, ShortVisit  bool
	First, RunStart, Last, LastStart    int64
	Records, Profile, Other, Handshakes uint32
	Pkts, InPkts, InBytes               uint64
	GapsIn, GapsAll                     uint32
	Hours                               uint64
	HoursBase, VisitStart               int64
	VisitGaps                           uint8
	Ports                               []snapPort
	Rate                                uint32
}

type snapPort struct {
	Port        uint16
	First, Last int64
}

// HoldCounters makes the pool-contact counters in reports (hence in the
// metrics) show the count as of the last snapshot written, not the live one.
// After a kill -9 the state comes back from that snapshot, so no exported
// counter ever goes backwards (which increase() would read as a reset and
// count the whole value again); the price is that the counters lag by at
// most one snapshot interval. Call it when snapshots are enabled.
func (e *Engine) HoldCounters() { e.holdCounters.Store(true) }

func (e *Engine) poolCount(pc *poolCount) uint64 {
	if e.holdCounters.Load() {
		return pc.saved
	}
	return pc.n
}

// SaveFile writes the state to path atomically (a temporary file in the same
// directory, synced, renamed over path) and returns the file's size.
func (e *Engine) SaveFile(path string) (int64, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	saved, err := e.writeSnapshot(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("state snapshot %s: %w", path, err)
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // holds who mined: not for every local user
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("state snapshot %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() //nolint:errcheck // best effort: makes the rename durable on ext4/xfs
		d.Close()
	}
	e.commitCounters(saved)
	return st.Size(), nil
}

// savedCount is one pool counter as written in a snapshot.
type savedCount struct {
	ip   netip.Addr
	pool string
	n    uint64
}

// writeSnapshot writes the file layout to f (header filled in at the end).
func (e *Engine) writeSnapshot(f *os.File) ([]savedCount, error) {
	if _, err := f.Write(make([]byte, headerLen)); err != nil {
		return nil, err
	}
	crc := crc32.NewIEEE()
	cw := &countWriter{w: io.MultiWriter(f, crc)}
	bw := bufio.NewWriterSize(cw, 256<<10)
	enc := gob.NewEncoder(bw)
	st := e.Stats()
	if err := enc.Encode(snapMeta{Now: e.now.Load(), First: e.first.Load(), Hosts: st.Hosts}); err != nil {
		return nil, err
	}
	var saved []savedCount
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		recs := make([]snapHost, 0, sh.hosts.len())
		for ip, h := range sh.hosts.all() {
			recs = append(recs, h.snap(ip))
			for _, pc := range h.poolList() {
				saved = append(saved, savedCount{ip, pc.pool, pc.n})
			}
		}
		sh.mu.Unlock()
		if err := enc.Encode(recs); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	var hdr [headerLen]byte
	copy(hdr[:], snapshotMagic)
	binary.BigEndian.PutUint32(hdr[8:], snapshotVersion)
	binary.BigEndian.PutUint64(hdr[12:], uint64(cw.n))
	binary.BigEndian.PutUint32(hdr[20:], crc.Sum32())
	_, err := f.WriteAt(hdr[:], 0)
	return saved, err
}

// commitCounters publishes the counts a durable snapshot now holds.
func (e *Engine) commitCounters(saved []savedCount) {
	for _, s := range saved {
		sh := e.shard(s.ip)
		sh.mu.Lock()
		if h := sh.get(s.ip); h != nil {
			pools := h.poolList()
			for i := range pools {
				if p := &pools[i]; p.pool == s.pool && s.n <= p.n {
					p.saved = max(p.saved, s.n)
				}
			}
		}
		sh.mu.Unlock()
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ErrSnapshot marks a snapshot file that is refused (corrupt, truncated, of
// another format version or too large); the engine stays as it was.
var ErrSnapshot = errors.New("state snapshot refused")

// LoadFile restores the state saved by SaveFile into an engine that has not
// seen any record yet, and returns how many hosts it restored. A missing
// file returns an error satisfying errors.Is(err, fs.ErrNotExist); a bad one
// an error wrapping ErrSnapshot, with the engine left empty.
func (e *Engine) LoadFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var hdr [headerLen]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return 0, fmt.Errorf("%w: %s: header: %v", ErrSnapshot, path, err)
	}
	if string(hdr[:8]) != snapshotMagic {
		return 0, fmt.Errorf("%w: %s is not a minewatch state snapshot", ErrSnapshot, path)
	}
	if v := binary.BigEndian.Uint32(hdr[8:]); v != snapshotVersion {
		return 0, fmt.Errorf("%w: %s has format version %d, this exporter reads version %d", ErrSnapshot, path, v, snapshotVersion)
	}
	n := binary.BigEndian.Uint64(hdr[12:])
	if n > uint64(e.maxSnapshotBody()) {
		return 0, fmt.Errorf("%w: %s: body of %d bytes exceeds the bound for detect.max_hosts=%d", ErrSnapshot, path, n, e.cfg.MaxHosts)
	}
	if st, err := f.Stat(); err != nil || st.Size() != headerLen+int64(n) {
		return 0, fmt.Errorf("%w: %s: truncated or extended (header says %d bytes of body)", ErrSnapshot, path, n)
	}
	// The body is checked before it is parsed: nothing unverified is decoded.
	body := make([]byte, n)
	if _, err := io.ReadFull(f, body); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrSnapshot, path, err)
	}
	if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(hdr[20:]) {
		return 0, fmt.Errorf("%w: %s: checksum mismatch (damaged)", ErrSnapshot, path)
	}
	dec := gob.NewDecoder(bytes.NewReader(body))
	var meta snapMeta
	if err := dec.Decode(&meta); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrSnapshot, path, err)
	}
	hosts := make([]snapHost, 0, min(max(meta.Hosts, 0), e.cfg.MaxHosts))
	for {
		var recs []snapHost
		if err := dec.Decode(&recs); err == io.EOF {
			break
		} else if err != nil {
			return 0, fmt.Errorf("%w: %s: %v", ErrSnapshot, path, err)
		}
		hosts = append(hosts, recs...)
	}
	for i := range hosts {
		e.restore(&hosts[i])
	}
	e.first.Store(meta.First)
	if meta.Now > 0 {
		// Recompute points, reasons and unit co-starts at the snapshot's time:
		// the same inputs give the verdicts the exporter had when it saved.
		e.Evaluate(meta.Now)
	}
	return len(hosts), nil
}

func (h *host) snap(ip netip.Addr) snapHost {
	r := snapHost{IP: ip, Unit: h.unit, FirstSeen: h.firstSeen, LastSeen: h.lastSeen, FlaggedSince: h.flaggedSince,
		LastSeenMining: h.lastMining, Score: h.score, Mining: h.mining, Research: h.research,
		Suspect: h.suspect, SuspectSince: h.suspectSince, UseHours: h.useHours, UsePkts: h.usePkts, UseHr: h.useHr}
	for _, pc := range h.poolList() {
		r.Pools = append(r.Pools, snapPool{pc.pool, pc.coin, pc.n, pc.confirmed})
	}
	for i := range h.sess {
		s := &h.sess[i]
		if !s.used() {
			continue
		}
		var buf tally
		t := s.view(&buf)
		ss := snapSession{Remote: s.addr(), Port: s.port, Intel: s.intel(), Shared: s.shared(), Sampled: s.sampled(),
			First: t.first, RunStart: t.runStart, Last: t.last, LastStart: t.lastStart,
			Records: t.records, Profile: t.profile, Other: t.records - t.profile, Handshakes: t.handshakes, Pkts: t.pkts,
			InPkts: t.inPkts, InBytes: t.inBytes, GapsIn: t.gapsIn, GapsAll: t.gapsAll, Hours: t.hours,
			HoursBase: t.hoursBase, VisitStart: t.visitStart, VisitGaps: t.visitGaps, Rate: t.rate}
		for _, p := range t.ports {
			ss.Ports = append(ss.Ports, snapPort{p.port, p.firstMs(), p.lastMs()})
		}
		r.Sessions = append(r.Sessions, ss)
	}
	return r
}

func (e *Engine) restore(r *snapHost) {
	if !r.IP.IsValid() {
		return
	}
	h := host{unit: r.Unit, firstSeen: r.FirstSeen, lastSeen: r.LastSeen, flaggedSince: r.FlaggedSince,
		lastMining: r.LastSeenMining, score: r.Score, mining: r.Mining, research: r.Research, best: -1,
		suspect: r.Suspect, suspectSince: r.SuspectSince, useHours: r.UseHours, usePkts: r.UsePkts, useHr: r.UseHr}
	for _, p := range r.Pools[:min(len(r.Pools), maxPools)] {
		h.addPool(poolCount{pool: p.Pool, coin: p.Coin, confirmed: p.Confirmed, n: p.N, saved: p.N})
	}
	for _, ss := range r.Sessions[:min(len(r.Sessions), slotsPerHost)] {
		// The aggregate as saved (Other is records − profile, ShortVisit
		// was never set: neither is kept); a session of one record takes
		// the one-record form again when that gives the same aggregate.
		t := &tally{first: ss.First, runStart: ss.RunStart, last: ss.Last, lastStart: ss.LastStart,
			records: ss.Records, profile: ss.Profile, handshakes: ss.Handshakes, pkts: ss.Pkts,
			inPkts: ss.InPkts, inBytes: ss.InBytes, gapsIn: ss.GapsIn, gapsAll: ss.GapsAll, hours: ss.Hours,
			hoursBase: ss.HoursBase, visitStart: ss.VisitStart, visitGaps: ss.VisitGaps, rate: ss.Rate}
		for i, p := range ss.Ports[:min(len(ss.Ports), portsPerSession)] {
			t.ports[i] = portSeen{p.Port, toSec(p.First), toSec(p.Last)}
		}
		s := session{remote: ss.Remote.As16(), port: ss.Port, agg: t, flags: fUsed}
		s.set(fIs4, ss.Remote.Is4())
		s.set(fIntel, ss.Intel)
		s.set(fShared, ss.Shared)
		s.set(fSampled, ss.Sampled)
		s.compact()
		h.sessKeys[len(h.sess)] = sessKey(ss.Remote, s.port)
		h.sess = append(h.sess, s)
	}
	k, is4 := keyOf(r.IP), r.IP.Is4()
	hash := hashAddr(k, is4)
	sh := &e.shards[hash>>(64-7)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	slot := sh.hosts.get(k, is4, hash)
	if slot == nil {
		// add evicts when full: detect.max_hosts was lowered since the snapshot
		if slot = e.add(sh, k, is4, hash); slot == nil {
			return
		}
	}
	h.key, h.is4, h.live = k, is4, true
	*slot = h
}

// compact turns a restored session of one record back into the one-record
// form, when the record that form would hold gives exactly the aggregate
// (it does for every session of one record saved by this version; an odd
// one, from an older version or a record that never fitted, stays as it is).
func (s *session) compact() {
	t := s.agg
	if t == nil || t.records != 1 || t.last < t.first {
		return
	}
	o := Observation{Start: t.first, End: t.last, Packets: t.pkts, Bytes: t.inBytes, Outbound: t.inPkts == 0,
		HostPort: t.ports[0].port, SamplingRate: max(t.rate, 1)}
	if t.handshakes > 0 {
		o.TCPFlags = tcpSYN
	}
	if !fitsOne(&o) {
		return
	}
	c := session{remote: s.remote, port: s.port, flags: s.flags | fNew}
	c.add(&o, t.profile == 1)
	c.flags = c.flags&^(fIntel|fShared|fSampled) | s.flags&(fIntel|fShared|fSampled) // as saved, not as the replay says
	var buf tally
	if *c.view(&buf) == *t {
		*s = c
	}
}
