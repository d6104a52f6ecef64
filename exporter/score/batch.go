package score

import "math/bits"

// batchGroup is how many records ObserveBatch takes at once: their shards'
// locks are held together (in ascending shard order, so readers never
// deadlock), so a group should stay short for the readers' sake.
const batchGroup = 8

// ObserveBatch adds records in order, with the same result as Observe on
// each in turn. It looks up the hosts of a few records one after another
// before it updates any: each first touch of a host among many is a cache
// miss, and independent lookups let the processor wait for several of those
// at once instead of one after the other. A flow datagram's records are such
// a batch.
func (e *Engine) ObserveBatch(obs []Observation) {
	var (
		keys   [batchGroup]addrKey
		hashes [batchGroup]uint64
		v4     [batchGroup]bool
		found  [batchGroup]*host
	)
	for len(obs) > 0 {
		g := obs[:min(len(obs), batchGroup)]
		obs = obs[len(g):]
		var held [nShards / 64]uint64 // shards of the group, a bit each
		for i := range g {
			if g[i].Allowlisted {
				continue
			}
			keys[i], v4[i] = keyOf(g[i].Host), g[i].Host.Is4()
			hashes[i] = hashAddr(keys[i], v4[i])
			s := hashes[i] >> (64 - 7)
			held[s/64] |= 1 << (s % 64)
		}
		for w, m := range held {
			for ; m != 0; m &= m - 1 {
				e.shards[w*64+bits.TrailingZeros64(m)].mu.Lock()
			}
		}
		for i := range g {
			if !g[i].Allowlisted {
				found[i] = e.shards[hashes[i]>>(64-7)].hosts.get(keys[i], v4[i], hashes[i])
			}
		}
		for i := range g {
			if g[i].Allowlisted {
				continue // allowlisted services never count as evidence
			}
			sh := &e.shards[hashes[i]>>(64-7)]
			// An earlier record of the group may have added a host to this
			// shard (then this one may be new too) or made room by dropping
			// one (maybe this one): look again unless the host found is
			// still the one.
			h := found[i]
			if h == nil || !h.live || h.key != keys[i] || h.is4 != v4[i] {
				h = sh.hosts.get(keys[i], v4[i], hashes[i])
			}
			e.observeLocked(sh, &g[i], keys[i], v4[i], hashes[i], h)
		}
		for w, m := range held {
			for ; m != 0; m &= m - 1 {
				e.shards[w*64+bits.TrailingZeros64(m)].mu.Unlock()
			}
		}
	}
}
