package encode

import "github.com/minewatch/minewatch/exporter/flow"

// fit returns how many of recs (at most RecordsPerPacket, at least one) fit
// in one datagram of at most MaxDatagram bytes, as real devices keep their
// export packets under the path MTU. Sizes are exact or a slight overestimate.
func (e *Exporter) fit(recs []flow.Record) int {
	limit := min(e.opt.RecordsPerPacket, len(recs))
	size, lastV6 := 0, -1
	switch e.proto {
	case flow.NetFlowV5:
		return limit // 24 + 30×48 bytes always fits
	case flow.NetFlowV9, flow.IPFIX:
		size = 20
		if e.templateDue() {
			size += templateSetSize
		}
	case flow.SFlowV5:
		size = 28
		if !e.opt.AgentAddr.Is4() {
			size = 40
		}
	}
	for i := range limit {
		r := &recs[i]
		v6 := !r.Src.Is4() || !r.Dst.Is4()
		n := 0
		switch e.proto {
		case flow.SFlowV5:
			n = 68 + (headerLen(r)+3)&^3
		default:
			n = 42
			if v6 {
				n = 66
			}
			if e.proto == flow.IPFIX {
				n += 8
			}
			if fam := b2i(v6); fam != lastV6 {
				n += 4 + 3 // set header and worst-case padding
				lastV6 = fam
			}
		}
		if i > 0 && size+n > e.opt.MaxDatagram {
			return i
		}
		size += n
	}
	return limit
}

// templateSetSize is the v9/IPFIX set holding both 11-field templates.
const templateSetSize = 4 + 2*(4+11*4)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// headerLen is the length of the synthesized sFlow sampled header.
func headerLen(r *flow.Record) int {
	n := 14 + 20
	if !r.Src.Is4() || !r.Dst.Is4() {
		n = 14 + 40
	}
	switch r.Proto {
	case 6:
		n += 20
	case 17:
		n += 8
	}
	return n
}
