package score

import (
	"math/bits"
	"unsafe"
)

// batchGroup is how many records ObserveBatch takes at once: their shards'
// locks are held together (in ascending shard order, so readers never
// deadlock), so a group should stay short for the readers' sake.
const batchGroup = 8

// hostObserved is how much of a host a record may read (its first two
// cache lines: host, TestHostLayout), what ObserveBatch prefetches.
const hostObserved = 128

// pending is a record of a group between its lookup and its update.
type pending struct {
	o    *Observation
	sh   *shard
	h    *host    // as looked up; checked again before the update
	s    *session // its session as looked up (a prefetch hint only)
	key  addrKey
	hash uint64
	sk   uint32 // sessKey of the record's endpoint
	gen  uint32 // the shard's hostTable.gen when h was looked up
	is4  bool
	msg  bool // messageLike
}

// ObserveBatch adds records in order, with the same result as Observe on
// each in turn. A flow datagram's records are such a batch. Each record's
// first touch of its host among many, and then of its session, is a cache
// miss; record by record they come one after the other. Here a group of
// records goes in passes over its shards, locked together:
//
//   - the index entries of the group's hosts (the index is small and mostly
//     cached), and a prefetch of each host;
//   - with those hosts arriving together, each host's key compared and its
//     session keys read, and a prefetch of the matching session (of all
//     its slots when the record would open a new session: alloc reads them
//     for a free one or ranks them all);
//   - a prefetch of those sessions' aggregates (tally), when they have one;
//   - the updates, in order, as Observe makes them.
//
// A prefetch retires at once, so the misses of the whole group are in
// flight together instead of the few the processor's window holds. What
// the first two passes found is only a hint: an earlier record of the group
// may add, drop or replace a host or a session slot, so the update checks
// the host again and finds the session itself.
func (e *Engine) ObserveBatch(obs []Observation) {
	var group [batchGroup]pending
	for len(obs) > 0 {
		n := 0
		var held [nShards / 64]uint64 // shards of the group, a bit each
		for len(obs) > 0 && n < batchGroup {
			o := &obs[0]
			obs = obs[1:]
			if o.Allowlisted {
				continue // allowlisted services never count as evidence
			}
			p := &group[n]
			n++
			p.o, p.key, p.is4 = o, keyOf(o.Host), o.Host.Is4()
			p.hash = hashAddr(p.key, p.is4)
			s := p.hash >> (64 - 7)
			p.sh = &e.shards[s]
			held[s/64] |= 1 << (s % 64)
		}
		g := group[:n]
		for w, m := range held {
			for ; m != 0; m &= m - 1 {
				e.shards[w*64+bits.TrailingZeros64(m)].mu.Lock()
			}
		}
		for i := range g {
			p := &g[i]
			p.gen = p.sh.hosts.gen
			if p.h = p.sh.hosts.probe(p.hash); p.h != nil {
				prefetchSpan(uintptr(unsafe.Pointer(p.h)), hostObserved)
			}
		}
		for i := range g {
			p := &g[i]
			p.sk, p.s, p.msg = sessKey(p.o.Remote, p.o.RemotePort), nil, messageLike(p.o)
			h := p.h
			if h == nil {
				continue
			}
			if h.key != p.key || h.is4 != p.is4 { // another address with the same tag
				if h = p.sh.hosts.get(p.key, p.is4, p.hash); h == nil {
					p.h = nil
					continue
				}
				p.h = h
			}
			if j := h.slotOf(p.sk); j >= 0 && j < len(h.sess) {
				p.s = &h.sess[j]
				prefetchSpan(uintptr(unsafe.Pointer(p.s)), unsafe.Sizeof(session{}))
			} else if p.msg && len(h.sess) > 0 {
				// A new candidate session: alloc reads every slot (a
				// free one, else the ranks of all).
				prefetchSpan(uintptr(unsafe.Pointer(&h.sess[0])), uintptr(len(h.sess))*unsafe.Sizeof(session{}))
			}
		}
		for i := range g {
			if s := g[i].s; s != nil && s.agg != nil {
				prefetchSpan(uintptr(unsafe.Pointer(s.agg)), unsafe.Sizeof(tally{}))
			}
		}
		for i := range g {
			p := &g[i]
			// An earlier record of the group may have added a host to this
			// shard (then this one may be new too) or made room by dropping
			// one (maybe this one): look again if the shard's table has
			// changed since the lookup. Unchanged, the second pass's answer
			// stands: the host of the key (compared there), or none.
			h := p.h
			if p.sh.hosts.gen != p.gen {
				h = p.sh.hosts.get(p.key, p.is4, p.hash)
			}
			e.observeLocked(p, h)
		}
		for w, m := range held {
			for ; m != 0; m &= m - 1 {
				e.shards[w*64+bits.TrailingZeros64(m)].mu.Unlock()
			}
		}
	}
}
