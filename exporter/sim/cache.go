package sim

import (
	"math"
	"math/rand/v2"
	"net/netip"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Key is a flow's 5-tuple.
type Key struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
}

// Train is a burst of packets of one flow seen at one instant (Unix ms):
// generating bursts instead of single packets keeps a simulated day fast,
// while sampling still decides packet by packet.
type Train struct {
	Key
	T       int64
	Packets uint32
	Bytes   uint64 // total, all packets
	Flags   uint8
}

type entry struct {
	first, last int64
	packets     uint64
	bytes       uint64
	flags       uint8
}

// Cache is a router's flow cache: records are keyed by 5-tuple, TCP flags
// OR'ed, and a record ends when the flow is idle longer than the inactive
// timeout or older than the active timeout (the flow goes on in a new record).
// With sampling 1:N each packet is kept with probability 1/N; NetFlow
// aggregates the sampled packets, sFlow emits every sampled packet as its own
// sample. Emitted records carry counts scaled by N, as a collector reports them.
type Cache struct {
	Active, Inactive int64 // ms
	Rate             uint32
	SFlow            bool
	Exporter         netip.Addr
	Protocol         flow.Protocol
	Emit             func(*flow.Record)

	rng   *rand.Rand
	flows map[Key]*entry
}

// NewCache returns a cache for one exporter; rng makes sampling deterministic.
func NewCache(activeMs, inactiveMs int64, rate uint32, proto flow.Protocol, exporter netip.Addr, rng *rand.Rand, emit func(*flow.Record)) *Cache {
	if rate == 0 {
		rate = 1
	}
	return &Cache{Active: activeMs, Inactive: inactiveMs, Rate: rate, SFlow: proto == flow.SFlowV5,
		Exporter: exporter, Protocol: proto, Emit: emit, rng: rng, flows: map[Key]*entry{}}
}

// sampled draws how many of n packets a 1:N sampler keeps.
func (c *Cache) sampled(n uint32) uint32 {
	if c.Rate <= 1 {
		return n
	}
	p := 1 / float64(c.Rate)
	if n <= 64 {
		var k uint32
		for range n {
			if c.rng.Float64() < p {
				k++
			}
		}
		return k
	}
	mean := float64(n) * p
	if mean < 20 { // Poisson approximation by inversion
		l, k, prod := math.Exp(-mean), uint32(0), c.rng.Float64()
		for prod > l {
			k++
			prod *= c.rng.Float64()
		}
		return k
	}
	v := mean + c.rng.NormFloat64()*math.Sqrt(mean*(1-p))
	if v < 0 {
		return 0
	}
	return uint32(v + 0.5)
}

// Add feeds one packet train; trains of one key must come in time order.
func (c *Cache) Add(t *Train) {
	k := c.sampled(t.Packets)
	if k == 0 {
		return
	}
	size := t.Bytes / uint64(t.Packets)
	if c.SFlow {
		for range k {
			c.Emit(&flow.Record{Start: t.T, End: t.T, Src: t.Src, Dst: t.Dst, SrcPort: t.SrcPort, DstPort: t.DstPort,
				Proto: t.Proto, TCPFlags: t.Flags, Packets: uint64(c.Rate), Bytes: size * uint64(c.Rate),
				SamplingRate: c.Rate, Exporter: c.Exporter, Protocol: c.Protocol})
		}
		return
	}
	e := c.flows[t.Key]
	if e != nil && (t.T-e.last > c.Inactive || t.T-e.first >= c.Active) {
		c.emit(&t.Key, e)
		e = nil
	}
	if e == nil {
		e = &entry{first: t.T}
		c.flows[t.Key] = e
	}
	e.last = t.T
	e.packets += uint64(k)
	e.bytes += uint64(k) * size
	e.flags |= t.Flags
	if t.Flags&(tcpFIN|tcpRST) != 0 && t.Proto == 6 {
		c.emit(&t.Key, e) // routers end TCP records on FIN/RST
	}
}

func (c *Cache) emit(k *Key, e *entry) {
	c.Emit(&flow.Record{Start: e.first, End: e.last, Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort,
		Proto: k.Proto, TCPFlags: e.flags, Packets: e.packets * uint64(c.Rate), Bytes: e.bytes * uint64(c.Rate),
		SamplingRate: c.Rate, Exporter: c.Exporter, Protocol: c.Protocol})
	delete(c.flows, *k)
}

// Flush ends every open record (end of simulation).
func (c *Cache) Flush() {
	for k, e := range c.flows {
		c.emit(&k, e)
	}
}

// Len is the number of open records.
func (c *Cache) Len() int { return len(c.flows) }

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)
