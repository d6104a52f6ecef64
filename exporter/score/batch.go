package score

import "math/bits"

// batchGroup is how many records ObserveBatch takes at once: their shards'
// locks are held together (in ascending shard order, so readers never
// deadlock), so a group should stay short for the readers' sake.
const batchGroup = 8

// pending is a record of a group between its lookup and its update.
type pending struct {
	o    *Observation
	sh   *shard
	h    *host // as looked up; checked again before the update
	key  addrKey
	hash uint64
	is4  bool
}

// ObserveBatch adds records in order, with the same result as Observe on
// each in turn. It looks up the hosts of a few records one after another
// before it updates any: each first touch of a host among many is a cache
// miss, and independent lookups let the processor wait for several of those
// at once instead of one after the other. A flow datagram's records are such
// a batch.
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
			p.h = p.sh.hosts.get(p.key, p.is4, p.hash)
		}
		for i := range g {
			p := &g[i]
			// An earlier record of the group may have added a host to this
			// shard (then this one may be new too) or made room by dropping
			// one (maybe this one): look again unless the host found is
			// still the one.
			h := p.h
			if h == nil || !h.live || h.key != p.key || h.is4 != p.is4 {
				h = p.sh.hosts.get(p.key, p.is4, p.hash)
			}
			e.observeLocked(p.sh, p.o, p.key, p.is4, p.hash, h)
		}
		for w, m := range held {
			for ; m != 0; m &= m - 1 {
				e.shards[w*64+bits.TrailingZeros64(m)].mu.Unlock()
			}
		}
	}
}
