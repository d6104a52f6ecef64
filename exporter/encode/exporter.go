// Package encode turns flow.Records into NetFlow v5/v9, IPFIX and sFlow v5
// datagrams laid out as real exporting devices send them. It feeds the campus
// simulator, the end-to-end tests and the load harness.
package encode

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Options configures one exporting device.
type Options struct {
	SamplingRate     uint32     // written into every packet; 0 means 1 (unsampled)
	RecordsPerPacket int        // default 24; NetFlow v5 caps it at 30
	SourceID         uint32     // v9 source id, IPFIX observation domain, sFlow sub-agent/source index
	Boot             time.Time  // device boot (sysUptime base); default 1h before the first record
	AgentAddr        netip.Addr // sFlow agent address; default 127.0.0.1
	TemplateEvery    int        // resend v9/IPFIX templates every N packets (default 20) and in the first
	MaxDatagram      int        // v9/IPFIX/sFlow datagrams end early to stay within this many bytes (default 1400)
}

// Exporter is one exporting device with its own sequence numbers and uptime.
// It is not safe for concurrent use.
type Exporter struct {
	proto   flow.Protocol
	opt     Options
	bootMs  int64
	booted  bool
	packets uint64 // datagrams sent (v9 sequence, sFlow datagram sequence, template refresh)
	flows   uint64 // data records sent (v5 flow_sequence, IPFIX sequence, sFlow sample sequence)
	pool    uint64 // sFlow sample_pool: packets seen by the sampler
	skipped uint64 // records the protocol cannot carry (IPv6 in v5)
	buf     []byte
}

// NewExporter returns a device exporting in protocol p.
func NewExporter(p flow.Protocol, opts Options) *Exporter {
	if opts.SamplingRate == 0 {
		opts.SamplingRate = 1
	}
	if opts.RecordsPerPacket <= 0 {
		opts.RecordsPerPacket = 24
	}
	if p == flow.NetFlowV5 && opts.RecordsPerPacket > 30 {
		opts.RecordsPerPacket = 30
	}
	if opts.TemplateEvery <= 0 {
		opts.TemplateEvery = 20
	}
	if opts.MaxDatagram <= 0 {
		opts.MaxDatagram = 1400
	}
	if !opts.AgentAddr.IsValid() {
		opts.AgentAddr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	e := &Exporter{proto: p, opt: opts, buf: make([]byte, 0, 1500)}
	if !opts.Boot.IsZero() {
		e.bootMs, e.booted = opts.Boot.UnixMilli(), true
	}
	return e
}

// Skipped is how many records were dropped because the protocol cannot carry
// them (IPv6 records in NetFlow v5).
func (e *Exporter) Skipped() uint64 { return e.skipped }

// Encode encodes recs into complete datagrams of at most RecordsPerPacket
// records (and MaxDatagram bytes) each and calls out for every one. now is the export time. The slice
// passed to out is reused by the next call: copy it to keep it.
func (e *Exporter) Encode(now time.Time, recs []flow.Record, out func(datagram []byte)) {
	if len(recs) == 0 {
		return
	}
	if !e.booted {
		e.bootMs, e.booted = recs[0].Start-int64(time.Hour/time.Millisecond), true
	}
	if e.proto == flow.NetFlowV5 {
		recs = e.v4Only(recs)
	}
	for len(recs) > 0 {
		k := e.fit(recs)
		b := e.buf[:0]
		switch e.proto {
		case flow.NetFlowV5:
			b = e.v5(b, now, recs[:k])
		case flow.NetFlowV9:
			b = e.v9(b, now, recs[:k])
		case flow.IPFIX:
			b = e.ipfix(b, now, recs[:k])
		case flow.SFlowV5:
			b = e.sflow(b, now, recs[:k])
		default:
			return
		}
		e.buf = b
		e.packets++
		out(b)
		recs = recs[k:]
	}
}

// v4Only drops IPv6 records for v5, counting them; it filters in place only
// when needed, so the common all-IPv4 batch costs no copy.
func (e *Exporter) v4Only(recs []flow.Record) []flow.Record {
	for i := range recs {
		if !recs[i].Src.Is4() || !recs[i].Dst.Is4() {
			keep := make([]flow.Record, 0, len(recs))
			for _, r := range recs {
				if r.Src.Is4() && r.Dst.Is4() {
					keep = append(keep, r)
				} else {
					e.skipped++
				}
			}
			return keep
		}
	}
	return recs
}

// uptime is ms since boot for a Unix-ms instant, as a 32-bit counter wraps.
func (e *Exporter) uptime(ms int64) uint32 { return uint32(ms - e.bootMs) }

// raw undoes the record's sampling scale: devices export what they sampled.
func (e *Exporter) raw(n uint64) uint64 {
	r := uint64(e.opt.SamplingRate)
	v := (n + r/2) / r
	if v == 0 && n > 0 {
		v = 1
	}
	return v
}

func be16(b []byte, v uint16) []byte   { return binary.BigEndian.AppendUint16(b, v) }
func be32(b []byte, v uint32) []byte   { return binary.BigEndian.AppendUint32(b, v) }
func be64(b []byte, v uint64) []byte   { return binary.BigEndian.AppendUint64(b, v) }
func put16(b []byte, at int, v uint16) { binary.BigEndian.PutUint16(b[at:], v) }

func addr4(b []byte, a netip.Addr) []byte {
	if a.Is4In6() {
		a = a.Unmap()
	}
	if !a.Is4() {
		return append(b, 0, 0, 0, 0)
	}
	v := a.As4()
	return append(b, v[:]...)
}

func addr16(b []byte, a netip.Addr) []byte {
	v := a.As16()
	return append(b, v[:]...)
}
