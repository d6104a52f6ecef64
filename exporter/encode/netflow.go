package encode

import (
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

// v5 writes a NetFlow v5 datagram (24-byte header, 48-byte records).
func (e *Exporter) v5(b []byte, now time.Time, recs []flow.Record) []byte {
	b = be16(b, 5)
	b = be16(b, uint16(len(recs)))
	b = be32(b, e.uptime(now.UnixMilli()))
	b = be32(b, uint32(now.Unix()))
	b = be32(b, uint32(now.Nanosecond()))
	b = be32(b, uint32(e.flows))
	b = append(b, 0, byte(e.opt.SourceID)) // engine type, engine id
	// Top two bits: sampling mode 1 (deterministic) when sampled; low 14: interval.
	var si uint16
	if e.opt.SamplingRate > 1 {
		si = 1<<14 | uint16(min(e.opt.SamplingRate, 0x3fff))
	}
	b = be16(b, si)
	for i := range recs {
		r := &recs[i]
		b = addr4(b, r.Src)
		b = addr4(b, r.Dst)
		b = append(b, 0, 0, 0, 0) // next hop
		b = be32(b, 0)            // input, output ifindex
		b = be32(b, uint32(e.raw(r.Packets)))
		b = be32(b, uint32(e.raw(r.Bytes)))
		b = be32(b, e.uptime(r.Start))
		b = be32(b, e.uptime(r.End))
		b = be16(b, r.SrcPort)
		b = be16(b, r.DstPort)
		b = append(b, 0, r.TCPFlags, r.Proto, 0) // pad, flags, proto, tos
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)    // src/dst AS, masks, pad
	}
	e.flows += uint64(len(recs))
	return b
}

// Template ids and layouts. One template per address family; the field
// order is the same for v9 and IPFIX, only the time fields differ.
const (
	tmpl4 = 256
	tmpl6 = 257
)

type ie struct{ id, size uint16 }

func fields(v6, ipfix bool) []ie {
	src, dst, asz := uint16(8), uint16(12), uint16(4)
	if v6 {
		src, dst, asz = 27, 28, 16
	}
	start, end, tsz := uint16(22), uint16(21), uint16(4)
	if ipfix {
		start, end, tsz = 152, 153, 8
	}
	return []ie{{src, asz}, {dst, asz}, {7, 2}, {11, 2}, {4, 1}, {6, 1},
		{2, 8}, {1, 8}, {start, tsz}, {end, tsz}, {34, 4}}
}

var (
	v9Fields    = [2][]ie{fields(false, false), fields(true, false)}
	ipfixFields = [2][]ie{fields(false, true), fields(true, true)}
)

func (e *Exporter) templateDue() bool {
	return e.packets%uint64(e.opt.TemplateEvery) == 0
}

// templateSet writes one template (flow)set holding both templates.
func templateSet(b []byte, setID uint16, fs [2][]ie) []byte {
	at := len(b)
	b = be16(b, setID)
	b = be16(b, 0)
	for i, id := range []uint16{tmpl4, tmpl6} {
		b = be16(b, id)
		b = be16(b, uint16(len(fs[i])))
		for _, f := range fs[i] {
			b = be16(b, f.id)
			b = be16(b, f.size)
		}
	}
	put16(b, at+2, uint16(len(b)-at))
	return b
}

// dataSets writes runs of same-family records as data sets, so a mixed batch
// keeps its order. It returns how many sets it wrote.
func (e *Exporter) dataSets(b []byte, recs []flow.Record, ipfix bool) []byte {
	for len(recs) > 0 {
		v6 := !recs[0].Src.Is4() || !recs[0].Dst.Is4()
		n := 1
		for n < len(recs) && (!recs[n].Src.Is4() || !recs[n].Dst.Is4()) == v6 {
			n++
		}
		at := len(b)
		id := uint16(tmpl4)
		if v6 {
			id = tmpl6
		}
		b = be16(b, id)
		b = be16(b, 0)
		for i := range recs[:n] {
			b = e.dataRecord(b, &recs[i], v6, ipfix)
		}
		for (len(b)-at)%4 != 0 {
			b = append(b, 0)
		}
		put16(b, at+2, uint16(len(b)-at))
		recs = recs[n:]
	}
	return b
}

func (e *Exporter) dataRecord(b []byte, r *flow.Record, v6, ipfix bool) []byte {
	if v6 {
		b = addr16(b, r.Src)
		b = addr16(b, r.Dst)
	} else {
		b = addr4(b, r.Src)
		b = addr4(b, r.Dst)
	}
	b = be16(b, r.SrcPort)
	b = be16(b, r.DstPort)
	b = append(b, r.Proto, r.TCPFlags)
	b = be64(b, e.raw(r.Packets))
	b = be64(b, e.raw(r.Bytes))
	if ipfix {
		b = be64(b, uint64(r.Start))
		b = be64(b, uint64(r.End))
	} else {
		b = be32(b, e.uptime(r.Start))
		b = be32(b, e.uptime(r.End))
	}
	return be32(b, e.opt.SamplingRate)
}

// v9 writes a NetFlow v9 packet: header, templates when due, data flowsets.
// The header count is the number of template and data records.
func (e *Exporter) v9(b []byte, now time.Time, recs []flow.Record) []byte {
	b = be16(b, 9)
	count := len(recs)
	if e.templateDue() {
		count += 2
	}
	b = be16(b, uint16(count))
	b = be32(b, e.uptime(now.UnixMilli()))
	b = be32(b, uint32(now.Unix()))
	b = be32(b, uint32(e.packets))
	b = be32(b, e.opt.SourceID)
	if e.templateDue() {
		b = templateSet(b, 0, v9Fields)
	}
	b = e.dataSets(b, recs, false)
	e.flows += uint64(len(recs))
	return b
}

// ipfix writes an IPFIX message; the sequence counts data records sent before it.
func (e *Exporter) ipfix(b []byte, now time.Time, recs []flow.Record) []byte {
	b = be16(b, 10)
	b = be16(b, 0)
	b = be32(b, uint32(now.Unix()))
	b = be32(b, uint32(e.flows))
	b = be32(b, e.opt.SourceID)
	if e.templateDue() {
		b = templateSet(b, 2, ipfixFields)
	}
	b = e.dataSets(b, recs, true)
	put16(b, 2, uint16(len(b)))
	e.flows += uint64(len(recs))
	return b
}
