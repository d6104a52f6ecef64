// Package ingestbench measures how many flow records a collector takes in
// without loss: it replays pre-encoded NetFlow v9, IPFIX and sFlow v5
// datagrams over loopback at a set rate, for a bounded time, to minewatch's
// exporter and to the collectors users would otherwise pick (goflow2,
// nfdump's nfcapd, pmacct's nfacctd), and reads what each received from its
// own counters or output.
package ingestbench

import (
	"math/rand/v2"

	"github.com/VictoriaMetrics/metrics"
	"net/netip"
	"time"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
)

// Traffic is a set of datagrams to send over and over.
type Traffic struct {
	Protocol   flow.Protocol
	Datagrams  [][]byte
	Records    []int    // records in each datagram
	Bytes      []uint64 // sum of the records' byte counts in each datagram (as exported)
	PerPacket  int
	HostCount  int
	Pool       netip.Addr
	TotalRecs  int
	TotalBytes uint64
}

// Options shape the traffic.
type Options struct {
	Hosts     int // distinct internal hosts (10.0.0.0/8), default 20,000
	Remotes   int // distinct remote endpoints, default 100,000
	Records   int // distinct records encoded, default 48,000
	PerPacket int // records per datagram, default 24 (sFlow: 8 samples)
	MinerEach int // one host in MinerEach talks to the pool (default 50; negative: none)
	// Sequential gives record i host i mod Hosts, so that Records ≥ Hosts
	// reaches every host (the state-scale run); default random hosts.
	Sequential bool
	// SessionsPerHost (with Sequential): records i·S … i·S+S−1 go from host
	// i mod Hosts to S distinct remote endpoints (record i to endpoint i mod
	// Remotes), for the many-sessions-per-host cases of the scale run.
	SessionsPerHost int
}

// Build encodes a campus-like mix: internal hosts talking to remote
// endpoints over HTTPS, DNS and other ports, in both directions, a share of
// them to a mining pool.
func Build(p flow.Protocol, o Options) *Traffic {
	o = o.withDefaults(p)
	recs := records(p, o)
	t := &Traffic{Protocol: p, PerPacket: o.PerPacket, HostCount: o.Hosts, Pool: pool}
	enc := encode.NewExporter(p, encode.Options{RecordsPerPacket: o.PerPacket, TemplateEvery: 1 << 30})
	for i := 0; i < len(recs); i += o.PerPacket {
		batch := recs[i:min(i+o.PerPacket, len(recs))]
		// Exported once its last record has ended, as a router does: the
		// decoder refuses records that end after their export time.
		var exported int64
		for _, r := range batch {
			exported = max(exported, r.End)
		}
		enc.Encode(time.UnixMilli(exported), batch, func(d []byte) {
			t.Datagrams = append(t.Datagrams, append([]byte(nil), d...))
		})
	}
	// What each datagram holds, as a collector reads it: our decoder agrees
	// with tshark on every protocol (exporter/flow and exporter/encode tests).
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	src := netip.MustParseAddrPort("127.0.0.1:9999")
	for _, d := range t.Datagrams {
		var n int
		var b uint64
		count := func(r *flow.Record) { n++; b += r.Bytes }
		if p == flow.SFlowV5 {
			dec.DecodeSFlow(src, time.Now(), d, count) //nolint:errcheck // counted below
		} else {
			dec.DecodeNetFlow(src, time.Now(), d, count) //nolint:errcheck // counted below
		}
		t.Records = append(t.Records, n)
		t.Bytes = append(t.Bytes, b)
		t.TotalRecs += n
		t.TotalBytes += b
	}
	return t
}

// pool is the mining pool the traffic's miners talk to (listed in the
// exporter's intel by the harness).
var pool = netip.MustParseAddr("198.51.100.7")

func (o Options) withDefaults(p flow.Protocol) Options {
	if o.Hosts <= 0 {
		o.Hosts = 20_000
	}
	if o.Remotes <= 0 {
		o.Remotes = 100_000
	}
	if o.Records <= 0 {
		o.Records = 48_000
	}
	if o.PerPacket <= 0 {
		o.PerPacket = 24
		if p == flow.SFlowV5 {
			o.PerPacket = 8
		}
	}
	if o.MinerEach == 0 {
		o.MinerEach = 50
	}
	return o
}

// records draws the traffic's flow records (deterministic for given options).
func records(p flow.Protocol, o Options) []flow.Record {
	rng := rand.New(rand.NewPCG(7, 11))
	t0 := time.Now().Add(-time.Minute).UnixMilli()
	ports := []uint16{443, 443, 443, 80, 53, 8080, 5222, 3478}
	recs := make([]flow.Record, o.Records)
	for i := range recs {
		h, e := rng.IntN(o.Hosts), -1
		if o.Sequential && o.SessionsPerHost > 1 {
			h, e = (i/o.SessionsPerHost)%o.Hosts, i%o.Remotes
		} else if o.Sequential {
			h = i % o.Hosts
		}
		host := netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)})
		r := flow.Record{Src: host, SrcPort: uint16(32768 + rng.IntN(28000)), Proto: 6, TCPFlags: 0x18,
			Packets: uint64(1 + rng.IntN(60)), SamplingRate: 1}
		r.Bytes = r.Packets * uint64(60+rng.IntN(1400))
		r.Start = t0 + int64(i)
		r.End = r.Start + int64(rng.IntN(60_000))
		if o.MinerEach > 0 && h%o.MinerEach == 0 {
			r.Dst, r.DstPort = pool, 3333
		} else {
			if e < 0 { // drawn here, as before sessions existed: the default traffic is unchanged
				e = rng.IntN(o.Remotes)
			}
			r.Dst = netip.AddrFrom4([4]byte{byte(20 + e%180), byte(e >> 8), byte(e), byte(e >> 16)})
			r.DstPort = ports[e%len(ports)]
			if r.DstPort == 53 || r.DstPort == 3478 {
				r.Proto, r.TCPFlags = 17, 0
			}
		}
		if rng.IntN(2) == 0 {
			r.Src, r.Dst, r.SrcPort, r.DstPort = r.Dst, r.Src, r.DstPort, r.SrcPort
		}
		if p == flow.SFlowV5 { // a flow sample is one sampled packet
			r.Bytes, r.Packets = r.Bytes/r.Packets, 1
		}
		recs[i] = r
	}
	return recs
}
