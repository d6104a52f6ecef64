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
	return c
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
