package sim

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/minewatch/minewatch/exporter/flow"
)

var k1 = Key{Src: netip.MustParseAddr("10.1.0.10"), Dst: netip.MustParseAddr("45.76.65.12"), SrcPort: 40000, DstPort: 3333, Proto: 6}

func collect(c **Cache, active, inactive int64, rate uint32, proto flow.Protocol) *[]flow.Record {
	var out []flow.Record
	*c = NewCache(active, inactive, rate, proto, netip.MustParseAddr("10.9.255.1"), rand.New(rand.NewPCG(1, 2)), func(r *flow.Record) { out = append(out, *r) })
	return &out
}

func TestCacheInactiveTimeout(t *testing.T) {
	var c *Cache
	out := collect(&c, 1800_000, 15_000, 1, flow.IPFIX)
	// keepalive every 10 s: one record; then a 60 s gap: a new record.
	for i := range 6 {
		c.Add(&Train{Key: k1, T: int64(i) * 10_000, Packets: 1, Bytes: 100, Flags: tcpACK})
	}
	c.Add(&Train{Key: k1, T: 110_000, Packets: 2, Bytes: 200, Flags: tcpPSH})
	c.Flush()
	if len(*out) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(*out), *out)
	}
	r := (*out)[0]
	if r.Start != 0 || r.End != 50_000 || r.Packets != 6 || r.Bytes != 600 || r.TCPFlags != tcpACK {
		t.Errorf("first record %+v", r)
	}
	if (*out)[1].Packets != 2 || (*out)[1].TCPFlags != tcpPSH {
		t.Errorf("second record %+v", (*out)[1])
	}
}

func TestCacheActiveTimeoutAndFlags(t *testing.T) {
	var c *Cache
	out := collect(&c, 60_000, 15_000, 1, flow.NetFlowV9)
	c.Add(&Train{Key: k1, T: 0, Packets: 1, Bytes: 60, Flags: tcpSYN})
	for t := int64(5_000); t < 180_000; t += 5_000 {
		c.Add(&Train{Key: k1, T: t, Packets: 1, Bytes: 100, Flags: tcpACK | tcpPSH})
	}
	c.Add(&Train{Key: k1, T: 180_000, Packets: 1, Bytes: 52, Flags: tcpFIN | tcpACK})
	if c.Len() != 0 {
		t.Errorf("FIN should end the record; %d open", c.Len())
	}
	if len(*out) != 4 { // 0-55 s, 60-115 s, 120-175 s, and the FIN at 180 s
		t.Fatalf("%d records, want 4 (active timeout 60 s over 180 s)", len(*out))
	}
	var pk uint64
	for i, r := range *out {
		if r.End-r.Start >= 60_000 {
			t.Errorf("record %d lasts %d ms, beyond the active timeout", i, r.End-r.Start)
		}
		pk += r.Packets
	}
	if (*out)[0].TCPFlags != tcpSYN|tcpACK|tcpPSH || (*out)[3].TCPFlags != tcpFIN|tcpACK {
		t.Errorf("flags %#x %#x", (*out)[0].TCPFlags, (*out)[3].TCPFlags)
	}
	if pk != 37 {
		t.Errorf("packets %d, want 37", pk)
	}
}

func TestCacheSampling(t *testing.T) {
	for _, tc := range []struct {
		proto flow.Protocol
		rate  uint32
	}{{flow.NetFlowV9, 100}, {flow.SFlowV5, 256}, {flow.SFlowV5, 1024}} {
		var c *Cache
		out := collect(&c, 1800_000, 15_000, tc.rate, tc.proto)
		const n = 2_000_000
		for i := range 2000 {
			c.Add(&Train{Key: k1, T: int64(i) * 1000, Packets: n / 2000, Bytes: n / 2000 * 1000, Flags: tcpACK})
		}
		c.Flush()
		var pk uint64
		for _, r := range *out {
			if r.SamplingRate != tc.rate || r.Packets%uint64(tc.rate) != 0 {
				t.Fatalf("%v: record %+v", tc, r)
			}
			if tc.proto == flow.SFlowV5 && r.Packets != uint64(tc.rate) {
				t.Fatalf("sFlow sample should stand for one packet: %+v", r)
			}
			pk += r.Packets
		}
		// The estimate is within 5 sigma of the truth (binomial).
		want, sigma := float64(n), float64(tc.rate)*sqrt(float64(n)/float64(tc.rate))
		if d := float64(pk) - want; d > 5*sigma || d < -5*sigma {
			t.Errorf("%v: estimated %d packets, real %d", tc, pk, n)
		}
		if tc.proto == flow.SFlowV5 && len(*out) < n/int(tc.rate)/2 {
			t.Errorf("%v: only %d samples", tc, len(*out))
		}
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 50 {
		z -= (z*z - x) / (2 * z)
	}
	return z
}
