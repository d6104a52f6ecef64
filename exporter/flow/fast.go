package flow

import (
	"encoding/binary"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// fieldVal is one field of a data record: its information element and bytes.
type fieldVal struct {
	typ uint16
	b   []byte
}

// wanted are the information elements fillRecord reads.
var wanted = func() (m [512]bool) {
	for _, ie := range []uint16{ieOctetDelta, iePacketDelta, ieProtocol, ieTCPFlags, ieSrcPort, ieSrcIPv4, ieDstPort,
		ieDstIPv4, ieLastSwitched, ieFirstSwitched, iePostOctetDelta, iePostPacketDelta, ieSrcIPv6, ieDstIPv6,
		ieSamplingInterval, ieSamplerRandom, ieOctetTotal, iePacketTotal, ieStartSeconds, ieEndSeconds, ieStartMillis,
		ieEndMillis, ieStartMicros, ieEndMicros, ieStartNanos, ieEndNanos, ieStartDeltaMicros, ieEndDeltaMicros,
		ieInitiatorOctets, ieInitiatorPackets, ieSamplingPktInterv, ieSamplingPktSpace} {
		m[ie] = true
	}
	return m
}()

// compiled is a data template turned into byte offsets: goflow2 decodes
// every field of every record into an interface value (a dozen allocations
// a record); records of a compiled template are read in place instead.
type compiled struct {
	recLen int
	fields []compiledField // only the wanted ones
}

type compiledField struct {
	off, len int
	typ      uint16
}

// compile returns nil for templates it cannot read in place: options
// templates and variable-length fields stay with goflow2.
func compile(tpl any) *compiled {
	t, ok := tpl.(netflow.TemplateRecord)
	if !ok {
		return nil
	}
	c := &compiled{}
	for _, f := range t.Fields {
		if f.Length == 0xFFFF {
			return nil
		}
		if !f.PenProvided && int(f.Type) < len(wanted) && wanted[f.Type] {
			c.fields = append(c.fields, compiledField{off: c.recLen, len: int(f.Length), typ: f.Type})
		}
		c.recLen += int(f.Length)
	}
	if c.recLen == 0 {
		return nil
	}
	return c
}

// values appends the wanted fields of one record (exactly recLen bytes).
func (c *compiled) values(rec []byte, out []fieldVal) []fieldVal {
	for _, f := range c.fields {
		out = append(out, fieldVal{typ: f.typ, b: rec[f.off : f.off+f.len]})
	}
	return out
}

// dataSet is one data set of a datagram with its compiled template.
type dataSet struct {
	tpl  *compiled
	body []byte
}

// dataSets splits a datagram (header of hdr bytes) into its data sets when
// every set is a data set with a compiled template and the sets tile the
// datagram exactly; ok is false otherwise, and the caller takes goflow2's path.
// Each template read is stamped as used at now (unix ns).
func (t *templateStore) dataSets(b []byte, hdr int, version uint16, domain uint32, now int64, out []dataSet) (sets []dataSet, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	off := hdr
	for off+4 <= len(b) {
		id := binary.BigEndian.Uint16(b[off:])
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		if l < 4 || id < 256 || off+l > len(b) || len(out) == cap(out) {
			return nil, false
		}
		e := t.m[templateKey(version, domain, id)]
		if e == nil || e.fast == nil {
			return nil, false
		}
		e.touch(now)
		out = append(out, dataSet{tpl: e.fast, body: b[off+4 : off+l]})
		off += l
	}
	if off < len(b) {
		return nil, false // IPFIX: trailing bytes are malformed; v9 callers cut padding off first
	}
	return out, len(out) > 0
}
