package flow

import (
	"encoding/binary"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// Field kinds: the information elements fillRecord reads, numbered densely
// so that its switch is a jump table rather than a search among IE numbers.
const (
	kNone        = iota
	kOctets      // octetDeltaCount
	kPackets     // packetDeltaCount
	kAltOctets   // octetTotalCount, postOctetDeltaCount, initiatorOctets
	kAltPackets  // packetTotalCount, postPacketDeltaCount, initiatorPackets
	kProto       // protocolIdentifier
	kFlags       // tcpControlBits
	kSrcPort     // sourceTransportPort
	kDstPort     // destinationTransportPort
	kSrcAddr     // sourceIPv4Address, sourceIPv6Address
	kDstAddr     // destinationIPv4Address, destinationIPv6Address
	kUpStart     // flowStartSysUpTime
	kUpEnd       // flowEndSysUpTime
	kStartSec    // flowStartSeconds
	kEndSec      // flowEndSeconds
	kStartMs     // flowStartMilliseconds
	kEndMs       // flowEndMilliseconds
	kStartNTP    // flowStartMicroseconds, flowStartNanoseconds
	kEndNTP      // flowEndMicroseconds, flowEndNanoseconds
	kStartDelta  // flowStartDeltaMicroseconds
	kEndDelta    // flowEndDeltaMicroseconds
	kRate        // samplingInterval, samplerRandomInterval
	kPktInterval // samplingPacketInterval
	kPktSpace    // samplingPacketSpace
)

// kindOf maps an information element to its kind, kNone for those not read.
var kindOf = [512]uint8{
	ieOctetDelta: kOctets, iePacketDelta: kPackets,
	ieOctetTotal: kAltOctets, iePostOctetDelta: kAltOctets, ieInitiatorOctets: kAltOctets,
	iePacketTotal: kAltPackets, iePostPacketDelta: kAltPackets, ieInitiatorPackets: kAltPackets,
	ieProtocol: kProto, ieTCPFlags: kFlags, ieSrcPort: kSrcPort, ieDstPort: kDstPort,
	ieSrcIPv4: kSrcAddr, ieSrcIPv6: kSrcAddr, ieDstIPv4: kDstAddr, ieDstIPv6: kDstAddr,
	ieFirstSwitched: kUpStart, ieLastSwitched: kUpEnd,
	ieStartSeconds: kStartSec, ieEndSeconds: kEndSec, ieStartMillis: kStartMs, ieEndMillis: kEndMs,
	ieStartMicros: kStartNTP, ieStartNanos: kStartNTP, ieEndMicros: kEndNTP, ieEndNanos: kEndNTP,
	ieStartDeltaMicros: kStartDelta, ieEndDeltaMicros: kEndDelta,
	ieSamplingInterval: kRate, ieSamplerRandom: kRate,
	ieSamplingPktInterv: kPktInterval, ieSamplingPktSpace: kPktSpace,
}

// fieldKind is kindOf for any information element number.
func fieldKind(ie uint16) uint8 {
	if int(ie) < len(kindOf) {
		return kindOf[ie]
	}
	return kNone
}

// compiled is a data template turned into byte offsets: goflow2 decodes
// every field of every record into an interface value (a dozen allocations
// a record); records of a compiled template are read in place instead.
type compiled struct {
	recLen int
	fields []compiledField // only the wanted ones
	lay    *layout         // the same read without a loop (layout.go); nil: the loop decides
}

// compiledField is one wanted field of a record: its bytes rec[off:off+len]
// and what fillRecord makes of them (kindOf its information element).
type compiledField struct {
	off, len int
	kind     uint8
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
		if k := fieldKind(f.Type); !f.PenProvided && k != kNone {
			c.fields = append(c.fields, compiledField{off: c.recLen, len: int(f.Length), kind: k})
		}
		c.recLen += int(f.Length)
	}
	if c.recLen == 0 {
		return nil
	}
	c.lay = newLayout(c.fields, c.recLen)
	return c
}

// dataSet is one data set of a datagram with its compiled template: its
// records are the datagram's bytes from start to end (offsets, so that a
// layout may read the bytes before a record: layout.go).
type dataSet struct {
	tpl        *compiled
	start, end int
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
		out = append(out, dataSet{tpl: e.fast, start: off + 4, end: off + l})
		off += l
	}
	if off < len(b) {
		return nil, false // IPFIX: trailing bytes are malformed; v9 callers cut padding off first
	}
	return out, len(out) > 0
}

// refreshed reports whether the template sets b[hdr:end] (as leadingTemplates
// found them) only announce data templates the store holds already, field
// for field: goflow2 would decode them and store the same templates again.
// Each is stamped as announced at now instead, as AddTemplate stamps it.
// Exporters repeat their templates every few seconds or datagrams; decoding
// them cost more than the data records of the datagram that carries them.
// Options templates, new or changed templates, anything unusual: false, and
// goflow2 decodes them (learnTemplates).
func (t *templateStore) refreshed(b []byte, hdr, end int, version uint16, domain uint32, now int64) bool {
	be := binary.BigEndian
	setID := uint16(0) // v9 template set
	if version == 10 {
		setID = 2
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for off := hdr; off+4 <= end; {
		id, l := be.Uint16(b[off:]), int(be.Uint16(b[off+2:]))
		if id != setID || l < 4 || off+l > end {
			return false
		}
		recs := b[off+4 : off+l]
		for len(recs) >= 4 { // as goflow2 reads a template set: fewer bytes left are padding
			tid, count := be.Uint16(recs), int(be.Uint16(recs[2:]))
			recs = recs[4:]
			e := t.m[templateKey(version, domain, tid)]
			if e == nil {
				return false
			}
			tr, ok := e.tpl.(netflow.TemplateRecord)
			if !ok || tr.TemplateId != tid || int(tr.FieldCount) != count || len(tr.Fields) != count {
				return false
			}
			for i := range tr.Fields {
				if len(recs) < 4 {
					return false
				}
				typ, length := be.Uint16(recs), be.Uint16(recs[2:])
				recs = recs[4:]
				var pen uint32
				penProvided := version == 10 && typ&0x8000 != 0
				if penProvided {
					if len(recs) < 4 {
						return false
					}
					typ, pen = typ^0x8000, be.Uint32(recs)
					recs = recs[4:]
				}
				if f := &tr.Fields[i]; f.Type != typ || f.Length != length || f.PenProvided != penProvided || f.Pen != pen {
					return false
				}
			}
			e.used.Store(now)
		}
		off += l
	}
	return true
}
