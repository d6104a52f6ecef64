package sim

import (
	"net/netip"
	"time"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
)

// Port is the collector port an exporter's datagrams go to.
func Port(p flow.Protocol) uint16 {
	if p == flow.SFlowV5 {
		return 6343
	}
	return 2055
}

// Datagram is one encoded export packet.
type Datagram struct {
	ExportMs int64
	Exporter netip.Addr
	Port     uint16
	Payload  []byte // valid only during the callback
}

// ExportStats count what was encoded per exporter.
type ExportStats struct {
	ID        string
	Protocol  flow.Protocol
	Sampling  uint32
	Records   int
	Datagrams int
}

// batcher queues one device's records and hands them to its encoder the way
// routers flush their export buffer: when a packet is full, or at least once
// a second.
type batcher struct {
	enc   *encode.Exporter
	max   int
	batch []flow.Record
	first int64
	out   func(ms int64, d []byte)
	stats *ExportStats
}

func (b *batcher) add(r *flow.Record) {
	if len(b.batch) > 0 && r.End-b.first > 1000 {
		b.flush()
	}
	if len(b.batch) == 0 {
		b.first = r.End
	}
	b.batch = append(b.batch, *r)
	if len(b.batch) >= b.max {
		b.flush()
	}
}

func (b *batcher) flush() {
	if len(b.batch) == 0 {
		return
	}
	now := b.batch[len(b.batch)-1].End
	b.stats.Records += len(b.batch)
	b.enc.Encode(time.UnixMilli(now), b.batch, func(d []byte) {
		b.stats.Datagrams++
		b.out(now, d)
	})
	b.batch = b.batch[:0]
}

// Export encodes the records (sorted by End) as each exporter would send them,
// calling out for every datagram in export-time order.
func Export(s *Scenario, res *Result, out func(*Datagram) error) ([]ExportStats, error) {
	stats := make([]ExportStats, len(s.Exporters))
	devs := make([]*batcher, len(s.Exporters))
	var err error
	for i, e := range s.Exporters {
		a := netip.MustParseAddr(e.Address)
		p := Protocol(e.Protocol)
		port := Port(p)
		per := 24
		switch p {
		case flow.NetFlowV5:
			per = 30
		case flow.SFlowV5:
			per = 8 // sFlow agents send few samples per datagram
		}
		stats[i] = ExportStats{ID: e.ID, Protocol: p, Sampling: e.Sampling}
		enc := encode.NewExporter(p, encode.Options{SamplingRate: e.Sampling, RecordsPerPacket: per,
			SourceID: uint32(i), AgentAddr: a, Boot: s.Start.Add(-time.Hour)})
		devs[i] = &batcher{enc: enc, max: per, out: func(ms int64, d []byte) {
			if err == nil {
				err = out(&Datagram{ExportMs: ms, Exporter: a, Port: port, Payload: d})
			}
		}, stats: &stats[i]}
	}
	var r flow.Record
	for i := range res.Records {
		res.Record(i, &r)
		devs[res.Records[i].Exporter].add(&r)
		if err != nil {
			return nil, err
		}
	}
	for _, d := range devs {
		d.flush()
	}
	return stats, err
}

// WritePcap returns an Export callback that writes each datagram into pw as
// UDP from its exporter to the collector on 127.0.0.1.
func WritePcap(pw *encode.PcapWriter) func(*Datagram) error {
	collector := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	return func(d *Datagram) error {
		return pw.Write(time.UnixMilli(d.ExportMs), netip.AddrPortFrom(d.Exporter, d.Port+10000),
			netip.AddrPortFrom(collector, d.Port), d.Payload)
	}
}
