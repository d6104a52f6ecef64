package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Host is one simulated internal address (several machines when NAT > 1).
type Host struct {
	IP        netip.Addr
	Unit      string
	Kind      string
	Behaviour string // mining behaviour, "research-gpu" for research assets, else "normal"
	Ordinary  []string
	Research  bool
	NAT       int
	Pool      string
	Episodes  []Episode
	exporter  int
}

// Hosts lays out the scenario's hosts: addresses are handed out in order from
// each unit's first range, skipping the first 10 (gateways and servers).
func (s *Scenario) Hosts() ([]Host, error) {
	var hosts []Host
	for ui := range s.Units {
		u := &s.Units[ui]
		exp := -1
		for i, e := range s.Exporters {
			if len(e.Units) == 0 && exp < 0 {
				exp = i
			}
			if slices.Contains(e.Units, u.ID) {
				exp = i
				break
			}
		}
		if exp < 0 {
			return nil, fmt.Errorf("unit %s: no exporter carries its traffic", u.ID)
		}
		pfx := netip.MustParsePrefix(u.CIDRs[0]).Masked()
		ip := pfx.Addr()
		for range 10 {
			ip = ip.Next()
		}
		next := func() (netip.Addr, error) {
			a := ip
			ip = ip.Next()
			if !pfx.Contains(a) {
				return a, fmt.Errorf("unit %s: %s has no room for all hosts", u.ID, pfx)
			}
			return a, nil
		}
		for _, m := range u.Miners {
			for range m.Count {
				a, err := next()
				if err != nil {
					return nil, err
				}
				nat := max(m.NAT, 1)
				hosts = append(hosts, Host{IP: a, Unit: u.ID, Kind: "pc", Behaviour: m.Behaviour, Ordinary: m.Also,
					NAT: nat, Pool: m.Pool, Episodes: m.Episodes, exporter: exp})
			}
		}
		for _, g := range u.Hosts {
			for range g.Count {
				a, err := next()
				if err != nil {
					return nil, err
				}
				b := "normal"
				if g.Research {
					b = "research-gpu"
				}
				hosts = append(hosts, Host{IP: a, Unit: u.ID, Kind: g.Kind, Behaviour: b, Ordinary: g.Behaviours,
					Research: g.Research, NAT: 1, exporter: exp})
			}
		}
	}
	return hosts, nil
}

// Override replaces every exporter's protocol and sampling (for evaluation
// at several sampling rates on one scenario).
type Override struct {
	Protocol string
	Sampling uint32
}

// Result is a generated scenario.
type Result struct {
	Hosts   []Host
	Truth   []Truth
	Records []Rec // sorted by End, then the 5-tuple; Record expands one

	exporters []exporterInfo
	PerExp    []int // records per exporter
}

// Protocol maps the scenario's protocol names to flow.Protocol.
func Protocol(name string) flow.Protocol {
	switch name {
	case "v5":
		return flow.NetFlowV5
	case "v9":
		return flow.NetFlowV9
	case "ipfix":
		return flow.IPFIX
	}
	return flow.SFlowV5
}

// Generate simulates the whole span. progress, when set, is called after each host.
func Generate(s *Scenario, ov *Override, progress func(done, total int)) (*Result, error) {
	hosts, err := s.Hosts()
	if err != nil {
		return nil, err
	}
	pools := map[string]*Pool{}
	for i := range s.Pools {
		pools[s.Pools[i].ID] = &s.Pools[i]
	}
	var donate netip.Addr
	if p := pools["donate"]; p != nil {
		donate = s.PoolAddr(p)
	}
	from := s.Start.UnixMilli()
	to := s.Start.Add(s.Duration).UnixMilli()
	res := &Result{Hosts: hosts, PerExp: make([]int, len(s.Exporters)), Truth: make([]Truth, len(hosts))}
	// Hosts are independent: workers take them in turns, each with its own
	// caches and record chunks; the final sort gives one deterministic order.
	workers := max(1, min(runtime.GOMAXPROCS(0), 8))
	type work struct {
		chunks [][]Rec
		perExp []int
	}
	ws := make([]work, workers)
	var done atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			my := &ws[w]
			my.perExp = make([]int, len(s.Exporters))
			cur := make([]Rec, 0, 1<<14)
			var expIdx uint8
			emit := func(r *flow.Record) {
				if len(cur) == cap(cur) {
					my.chunks = append(my.chunks, cur)
					cur = make([]Rec, 0, 1<<14)
				}
				cur = append(cur, pack(r, expIdx))
			}
			caches := make([]*Cache, len(s.Exporters))
			for i, e := range s.Exporters {
				proto, rate := Protocol(e.Protocol), e.Sampling
				if ov != nil {
					proto, rate = Protocol(ov.Protocol), ov.Sampling
				}
				caches[i] = NewCache(e.Active.Milliseconds(), e.Inactive.Milliseconds(), rate, proto, netip.MustParseAddr(e.Address), nil, emit)
			}
			var trains []Train
			for hi := w; hi < len(hosts); hi += workers {
				h := &hosts[hi]
				c := caches[h.exporter]
				expIdx = uint8(h.exporter)
				trains = trains[:0]
				res.Truth[hi] = simulateHost(s, h, hi, pools, donate, from, to, &trains)
				c.rng = rand.New(rand.NewPCG(uint64(s.Seed)^0x5a5a, uint64(hi)))
				n0 := len(my.chunks)*(1<<14) + len(cur)
				for i := range trains {
					c.Add(&trains[i])
				}
				c.Flush()
				my.perExp[h.exporter] += len(my.chunks)*(1<<14) + len(cur) - n0
				if progress != nil {
					progress(int(done.Add(1)), len(hosts))
				}
			}
			my.chunks = append(my.chunks, cur)
		}()
	}
	wg.Wait()
	total := 0
	for _, w := range ws {
		for _, c := range w.chunks {
			total += len(c)
		}
		for i, n := range w.perExp {
			res.PerExp[i] += n
		}
	}
	res.Records = make([]Rec, 0, total)
	for wi := range ws {
		for ci, c := range ws[wi].chunks {
			res.Records = append(res.Records, c...)
			ws[wi].chunks[ci] = nil // free as we go: peak memory stays near one copy
		}
	}
	slices.SortFunc(res.Records, compareRecs)
	for _, e := range s.Exporters {
		proto, rate := Protocol(e.Protocol), e.Sampling
		if ov != nil {
			proto, rate = Protocol(ov.Protocol), ov.Sampling
		}
		res.exporters = append(res.exporters, exporterInfo{addr: netip.MustParseAddr(e.Address), rate: rate, proto: proto})
	}
	return res, nil
}

// simulateHost generates one host's packet trains in time order and its truth.
func simulateHost(s *Scenario, h *Host, hi int, pools map[string]*Pool, donate netip.Addr, from, to int64, trains *[]Train) Truth {
	rng := rand.New(rand.NewPCG(uint64(s.Seed), uint64(hi)))
	g := &hostGen{rng: rng, ip: h.IP, kind: h.Kind, from: from, to: to, loc: s.Start.Location()}
	g.out = func(t *Train) {
		if t.T >= from && t.T < to {
			*trains = append(*trains, *t)
		}
	}
	for _, b := range h.Ordinary {
		ordinaryBehaviours[b](g)
	}
	if h.Research {
		ordinaryBehaviours["research-gpu"](g)
	}
	tr := Truth{IP: h.IP.String(), Unit: h.Unit, Behaviour: h.Behaviour, NAT: h.NAT, Class: ExpectedClass(h.Behaviour),
		Kind: h.Kind, Ordinary: h.Ordinary}
	if st, ok := minerBehaviours[h.Behaviour]; ok {
		p := pools[h.Pool]
		tr.Pool, tr.PoolAddr, tr.PoolPort = p.ID, s.PoolAddr(p).String(), p.Port
		for _, ep := range h.Episodes {
			for _, sp := range g.mine(st, s.PoolAddr(p), p.Port, donate, h.NAT, from+ep.Start.Milliseconds(), from+ep.End.Milliseconds()) {
				tr.Episodes = append(tr.Episodes, Span{Start: sp[0], End: sp[1]})
			}
		}
	}
	// The router sees packets in time order.
	slices.SortStableFunc(*trains, func(a, b Train) int { return cmp.Compare(a.T, b.T) })
	return tr
}

// Span is a time range in Unix ms.
type Span struct {
	Start int64 `json:"start_ms"`
	End   int64 `json:"end_ms"`
}

// Truth is what a host really did: one JSON line of the ground-truth file.
type Truth struct {
	IP        string   `json:"ip"`
	Unit      string   `json:"unit"`
	Behaviour string   `json:"behaviour"`
	Class     string   `json:"expected_class"` // active | passive | research | none
	Kind      string   `json:"kind"`
	Ordinary  []string `json:"ordinary,omitempty"` // ordinary behaviours of the host
	NAT       int      `json:"nat_machines"`
	Pool      string   `json:"pool,omitempty"`
	PoolAddr  string   `json:"pool_addr,omitempty"`
	PoolPort  uint16   `json:"pool_port,omitempty"`
	Episodes  []Span   `json:"episodes,omitempty"`
}

// Mining says the host mined at some point.
func (t *Truth) Mining() bool { return len(t.Episodes) > 0 }
