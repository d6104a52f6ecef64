package flow

import (
	"container/list"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The source table: one entry per exporter address, with its templates,
// option data, series and log limiter. Spoofed UDP can come from any address,
// so every part of it is bounded and nothing in it is kept for good:
//
//   - at most MaxSources entries, each with at most MaxTemplates templates
//     (MaxTotalTemplates together) and maxDomains entries of option data;
//   - an entry not heard from for SourceIdle is forgotten, a template neither
//     announced nor used for TemplateIdle is dropped (both counted);
//   - when the table or the template total is full, the newcomer is never
//     refused: it displaces the least recently heard source, taken first
//     from the sources that never delivered a flow record ("fresh"), then
//     from the others ("proven"). A flood of spoofed addresses sending
//     templates or garbage only ever displaces itself, so a real router
//     that starts during or after it is tracked at once, and routers that
//     deliver flows keep their state as long as there are fresh entries to
//     displace. A flood of well-formed flows from spoofed addresses is
//     indistinguishable from routers; flow.allowed_sources is the answer to it.
//   - at most MaxSourceLabels sources have series of their own, deleted when
//     the source is forgotten; the others are counted under source="other".
//     A source that proves itself takes a label from a fresh one if none is free.
//   - a source named in sampling.sources (Options.Sampling) is proven from
//     its first datagram.

// override is the configured sampling rate of addr, 0 if none: the entry
// for addr itself, else, for a link-local source, the entry for its address
// without the interface (sampling.sources may name either).
func (d *Decoder) override(addr netip.Addr) uint32 {
	if r, ok := d.opts.Sampling[addr]; ok || addr.Zone() == "" {
		return r
	}
	return d.opts.Sampling[addr.WithZone("")]
}

// source is the state of one exporter address.
type source struct {
	addr      netip.Addr // invalid for the not_allowed stand-in
	override  uint32     // configured sampling rate, 0 if none
	templates *templateStore
	series    atomic.Pointer[sourceSeries]
	seen      atomic.Int64 // unix ns of the latest datagram, to the second (touch)
	proven    atomic.Bool  // has delivered a flow record

	// Clock and sampling state (clock.go), for one log line per change.
	clockState                  atomic.Int32 // clockOK or clockOff
	futureLogged, arrivalLogged atomic.Bool
	unannounced                 atomic.Bool // records without a sampling rate seen

	// gone is set when the source is forgotten (removeLocked): a reader
	// holding it in Decoder.recent looks it up again.
	gone atomic.Bool

	// Guarded by Decoder.mu.
	elem     *list.Element // in fresh or proven; nil once forgotten
	inProven bool

	mu        sync.Mutex
	lastLog   map[string]time.Time // protocol+"/"+reason
	sampling  map[uint32]uint32    // per observation domain / source id, from option data
	sysInitMs map[uint32]int64     // IPFIX systemInitTimeMilliseconds per observation domain
	// optioned: sampling or sysInitMs holds an entry (set under mu, never
	// cleared). Most exporters send no such option data: their datagrams
	// then take neither the lock nor the two map reads (source.timing).
	optioned atomic.Bool
}

// source finds or creates the state of an allowed exporter address; nil if
// the address is not allowed.
//
// A router sends datagram after datagram: its source is found first in
// Decoder.recent, without the lock and the map look-up (both shared by every
// reader, on every core); the table decides only when that misses.
func (d *Decoder) source(addr netip.Addr, now int64) *source {
	slot := &d.recent[recentSlot(addr)]
	if s := slot.Load(); s != nil && s.addr == addr && !s.gone.Load() {
		if now-s.seen.Load() > int64(time.Second) {
			d.touch(s, now)
		}
		return s
	}
	d.mu.RLock()
	s := d.sources[addr]
	d.mu.RUnlock()
	if s != nil {
		slot.Store(s)
		if now-s.seen.Load() > int64(time.Second) {
			d.touch(s, now)
		}
		return s
	}
	if !d.opts.Allowed(addr) {
		return nil
	}
	s = d.add(addr, now)
	slot.Store(s)
	return s
}

// recentSlots is the size of Decoder.recent: enough for the routers of a
// campus to seldom share a slot (sharing costs a table look-up, not a
// wrong answer).
const recentSlots = 64

// recentSlot is addr's slot in Decoder.recent: a few bits of its last bytes,
// where the exporters of one network differ.
func recentSlot(addr netip.Addr) int {
	b := addr.As16()
	return int(b[15]^b[14]<<2^b[13]<<4) % recentSlots
}

// touch moves a source to the front of its list (at most once a second per
// source, so a busy router costs one exclusive lock a second).
func (d *Decoder) touch(s *source, now int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.elem != nil && now > s.seen.Load() {
		s.seen.Store(now)
		d.listOf(s).MoveToFront(s.elem)
	}
}

func (d *Decoder) listOf(s *source) *list.List {
	if s.inProven {
		return &d.proven
	}
	return &d.fresh
}

func (d *Decoder) add(addr netip.Addr, now int64) *source {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sources[addr]; s != nil {
		return s
	}
	for len(d.sources) >= d.opts.MaxSources {
		v := d.victimLocked(nil, false)
		if v == nil {
			break
		}
		d.removeLocked(v)
		d.sourcesDisplaced.Inc()
	}
	s := &source{addr: addr, override: d.override(addr), lastLog: map[string]time.Time{},
		sampling: map[uint32]uint32{}, sysInitMs: map[uint32]int64{}}
	s.seen.Store(now)
	ss := d.other
	if d.labels < d.opts.MaxSourceLabels {
		ss = newSeries(d.set, addr.String(), true)
		d.labels++
	}
	s.series.Store(ss)
	s.templates = newTemplateStore(d.opts.MaxTemplates, func() bool { return d.reserveTemplate(s) },
		d.releaseTemplates, func(n int) { s.series.Load().setTemplates(n) })
	s.elem = d.fresh.PushFront(s)
	d.sources[addr] = s
	d.sourcesTracked.Set(float64(len(d.sources)))
	if s.override > 0 {
		d.promoteLocked(s) // a router named in sampling.sources is known real
	}
	return s
}

// victimLocked picks the source to displace: the least recently heard fresh
// one, else the least recently heard proven one (with templateHolder, only
// one holding templates, since only that frees template room). except is
// never picked.
func (d *Decoder) victimLocked(except *source, templateHolder bool) *source {
	for e := d.fresh.Back(); e != nil; e = e.Prev() {
		if s := e.Value.(*source); s != except {
			return s
		}
	}
	for e := d.proven.Back(); e != nil; e = e.Prev() {
		if s := e.Value.(*source); s != except && (!templateHolder || s.templates.count() > 0) {
			return s
		}
	}
	return nil
}

// removeLocked forgets a source: its templates, option data and series.
func (d *Decoder) removeLocked(s *source) {
	if s.elem == nil {
		return
	}
	if d.sources[s.addr] == s {
		delete(d.sources, s.addr)
	}
	d.listOf(s).Remove(s.elem)
	s.elem = nil
	s.gone.Store(true)
	d.recent[recentSlot(s.addr)].CompareAndSwap(s, nil) // a reader may store it back: gone tells it
	s.templates.drop()
	if ss := s.series.Load(); ss.own {
		ss.unregister()
		d.labels--
	}
	d.sourcesTracked.Set(float64(len(d.sources)))
}

// promote moves a source that delivered its first flow records to the
// proven list and gives it series of its own, taking the label of the least
// recently heard fresh source if none is free.
func (d *Decoder) promote(s *source) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.promoteLocked(s)
}

func (d *Decoder) promoteLocked(s *source) {
	if s.elem == nil || s.inProven {
		return
	}
	d.fresh.Remove(s.elem)
	s.elem = d.proven.PushFront(s)
	s.inProven = true
	s.proven.Store(true)
	if s.series.Load().own {
		return
	}
	if d.labels >= d.opts.MaxSourceLabels {
		for e := d.fresh.Back(); e != nil; e = e.Prev() {
			v := e.Value.(*source)
			if ss := v.series.Load(); ss.own {
				ss.unregister()
				v.series.Store(d.other)
				d.labels--
				break
			}
		}
	}
	if d.labels < d.opts.MaxSourceLabels {
		ss := newSeries(d.set, s.addr.String(), true)
		d.labels++
		s.series.Store(ss)
		ss.setTemplates(s.templates.count())
	}
}

// reserveTemplate takes one slot of MaxTotalTemplates for owner, displacing
// other sources while the total is full (victimLocked's order). It fails only
// when no other source holds anything to give up.
func (d *Decoder) reserveTemplate(owner *source) bool {
	for {
		n := d.templates.Load()
		if n < int64(d.opts.MaxTotalTemplates) {
			if d.templates.CompareAndSwap(n, n+1) {
				d.templatesTracked.Set(float64(n + 1))
				return true
			}
			continue
		}
		d.mu.Lock()
		v := d.victimLocked(owner, true)
		if v != nil {
			d.removeLocked(v)
			d.sourcesDisplaced.Inc()
		}
		d.mu.Unlock()
		if v == nil {
			return false
		}
	}
}

func (d *Decoder) releaseTemplates(n int) {
	d.templatesTracked.Set(float64(d.templates.Add(int64(-n))))
}

// maybeExpire runs Expire when a tenth of the shorter idle time has passed
// since the last run, on the clock of the datagrams (so replays of captures
// expire as the live exporter would).
func (d *Decoder) maybeExpire(now int64) {
	last := d.lastSweep.Load()
	if now-last < d.sweepEvery || !d.lastSweep.CompareAndSwap(last, now) {
		return
	}
	d.Expire(time.Unix(0, now))
}

// Expire forgets the sources not heard from for SourceIdle and drops the
// templates not announced or used for TemplateIdle, as of now. The decoder
// calls it itself as datagrams arrive.
func (d *Decoder) Expire(now time.Time) {
	cut := now.UnixNano() - int64(d.opts.SourceIdle)
	d.mu.Lock()
	for _, l := range []*list.List{&d.fresh, &d.proven} {
		for e := l.Back(); e != nil; {
			s, prev := e.Value.(*source), e.Prev()
			if s.seen.Load() >= cut {
				break // the rest were heard from later
			}
			d.removeLocked(s)
			d.sourcesIdle.Inc()
			e = prev
		}
	}
	all := make([]*source, 0, len(d.sources))
	for _, s := range d.sources {
		all = append(all, s)
	}
	d.mu.Unlock()
	tcut := now.UnixNano() - int64(d.opts.TemplateIdle)
	n := 0
	for _, s := range all {
		n += s.templates.expire(tcut)
	}
	d.templatesExpired.Add(n)
}
