package score

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

// TestObserveBatchIsObserve feeds the same records to one engine record by
// record and to another in batches of every size up to a few groups, and
// requires the same state, host by host and field by field. The small case
// holds one host a shard (MaxHosts 100), so nearly every new host evicts the
// shard's only one, deterministically: a batch's lookups are then stale
// whenever an earlier record of the group dropped or replaced that host.
func TestObserveBatchIsObserve(t *testing.T) {
	for _, c := range []struct {
		name            string
		maxHosts, hosts int
	}{
		{"campus", 1_000_000, 20_000},
		{"evicting", 100, 300},
	} {
		t.Run(c.name, func(t *testing.T) {
			obs := campusObservations(c.hosts, 1<<15)
			rng := rand.New(rand.NewPCG(5, 6))
			hit := &IntelHit{Pool: "bureau", Coin: "XMR"}
			for i := range obs {
				switch {
				case obs[i].Remote == pool:
					obs[i].Intel = hit
				case rng.IntN(40) == 0:
					obs[i].Allowlisted = true
				}
				switch prev := &obs[max(i-1-rng.IntN(3), 0)]; rng.IntN(10) {
				case 0: // now and then a host right after its previous record
					obs[i].Host = prev.Host
				case 1: // or its session
					obs[i].Host, obs[i].Remote, obs[i].RemotePort, obs[i].Intel = prev.Host, prev.Remote, prev.RemotePort, prev.Intel
				case 2, 3: // or a new message-like session of it: the host's slots fill and turn over within a group
					o := &obs[i]
					o.Host, o.Intel, o.Allowlisted = prev.Host, nil, false
					o.Remote = netip.AddrFrom4([4]byte{203, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
					o.Packets, o.Bytes, o.End, o.HostPort = 3, 300, o.Start+1000, 40000
				}
			}
			newSessions := 0 // records that allocate a session right after one of their host that did
			for i := 1; i < len(obs); i++ {
				if a, b := &obs[i-1], &obs[i]; a.Host == b.Host && a.Remote != b.Remote && messageLike(a) && messageLike(b) {
					newSessions++
				}
			}
			cfg := DefaultConfig()
			cfg.MaxHosts = c.maxHosts
			one, batched := New(cfg), New(cfg)
			for i := range obs {
				one.Observe(&obs[i])
			}
			for rest := obs; len(rest) > 0; {
				n := min(1+rng.IntN(3*batchGroup), len(rest))
				batched.ObserveBatch(rest[:n])
				rest = rest[n:]
			}
			if err := sameState(one, batched); err != nil {
				t.Fatal(err)
			}
			st := one.Stats()
			if st.Hosts == 0 || st.Sessions == 0 || c.maxHosts == 100 && st.Evictions < 1000 || newSessions < 1000 {
				t.Fatalf("test premise: %+v, %d records allocating a session after one of their host (hosts, sessions, such records, and evictions in the small case)", st, newSessions)
			}
		})
	}
}

// sameState compares two engines' hosts by address, every field.
func sameState(a, b *Engine) error {
	hosts := func(e *Engine) map[netip.Addr]host {
		m := map[netip.Addr]host{}
		for i := range e.shards {
			for ip, h := range e.shards[i].hosts.all() {
				m[ip] = *h
			}
		}
		return m
	}
	ha, hb := hosts(a), hosts(b)
	if len(ha) != len(hb) {
		return fmt.Errorf("%d hosts one by one, %d in batches", len(ha), len(hb))
	}
	for ip, h := range ha {
		g, ok := hb[ip]
		if !ok {
			return fmt.Errorf("%v tracked one by one, not in batches", ip)
		}
		if !reflect.DeepEqual(h, g) {
			return fmt.Errorf("%v differs:\none by one %+v\nin batches %+v", ip, h, g)
		}
	}
	if sa, sb := a.Stats(), b.Stats(); sa != sb {
		return fmt.Errorf("stats one by one %+v, in batches %+v", sa, sb)
	}
	return nil
}

// TestObserveBatchConcurrent: readers batching into shared shards while
// others observe one by one and Evaluate walks the shards must neither
// deadlock (a batch takes its shards' locks in ascending order) nor race
// (go test -race).
func TestObserveBatchConcurrent(t *testing.T) {
	obs := campusObservations(2_000, 1<<12)
	cfg := DefaultConfig()
	cfg.MaxHosts = 1_000 // evictions too
	e := New(cfg)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for rep := 0; rep < 5; rep++ {
				for i := g; i+24 <= len(obs); i += 24 * 4 {
					if g == 3 {
						for j := i; j < i+24; j++ {
							e.Observe(&obs[j])
						}
					} else {
						e.ObserveBatch(obs[i : i+24])
					}
				}
			}
		}()
	}
	go func() {
		defer func() { done <- struct{}{} }()
		for i := 0; i < 20; i++ {
			e.Evaluate(t0 + int64(i)*60_000)
		}
	}()
	for range 5 {
		<-done
	}
	if st := e.Stats(); st.Hosts == 0 || st.Hosts > cfg.MaxHosts+4 {
		t.Fatalf("%+v", st)
	}
}
