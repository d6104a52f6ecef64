package encode

import (
	"encoding/binary"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

// sflow writes an sFlow v5 datagram: one flow sample per record, each with a
// raw packet header record holding a synthesized Ethernet/IP/L4 header.
func (e *Exporter) sflow(b []byte, now time.Time, recs []flow.Record) []byte {
	b = be32(b, 5)
	if e.opt.AgentAddr.Is4() {
		b = be32(b, 1)
		b = addr4(b, e.opt.AgentAddr)
	} else {
		b = be32(b, 2)
		b = addr16(b, e.opt.AgentAddr)
	}
	b = be32(b, e.opt.SourceID) // sub-agent id
	b = be32(b, uint32(e.packets+1))
	b = be32(b, e.uptime(now.UnixMilli()))
	b = be32(b, uint32(len(recs)))
	rate := e.opt.SamplingRate
	for i := range recs {
		r := &recs[i]
		e.flows++
		e.pool += uint64(rate)
		at := len(b)
		b = be32(b, 1) // enterprise 0, format 1: flow sample
		b = be32(b, 0) // length, patched below
		b = be32(b, uint32(e.flows))
		b = be32(b, e.opt.SourceID&0xffffff) // source id type 0, ifIndex
		b = be32(b, rate)
		b = be32(b, uint32(e.pool))
		b = be32(b, 0) // drops
		b = be32(b, 1) // input ifIndex
		b = be32(b, 2) // output ifIndex
		b = be32(b, 1) // one flow record
		b = be32(b, 1) // enterprise 0, format 1: raw packet header
		rl := len(b)   // record length, patched below
		b = be32(b, 0) //
		b = be32(b, 1) // header protocol: Ethernet
		b = be32(b, frameLen(r))
		b = be32(b, 4) // stripped: the FCS
		hl := len(b)
		b = be32(b, 0)
		h := len(b)
		b = header(b, r)
		binary.BigEndian.PutUint32(b[hl:], uint32(len(b)-h))
		for (len(b)-h)%4 != 0 {
			b = append(b, 0)
		}
		binary.BigEndian.PutUint32(b[rl:], uint32(len(b)-rl-4))
		binary.BigEndian.PutUint32(b[at+4:], uint32(len(b)-at-8))
	}
	return b
}

// frameLen is the mean packet size of the flow, at least a minimal frame.
func frameLen(r *flow.Record) uint32 {
	if r.Packets == 0 {
		return 64
	}
	return uint32(max(r.Bytes/r.Packets, 64))
}
