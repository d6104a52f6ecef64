package flow

import (
	"encoding/binary"
	"net/netip"
)

// In-place sFlow v5: goflow2's sFlow decoder allocates every sample, record
// and address it reads (about five allocations a flow sample). sflowSamples
// walks the datagram's bytes instead, for the datagrams whose every part it
// knows; any other datagram (drop samples, enterprise formats, extended
// gateway/ACL/function records, anything goflow2 would refuse) goes to
// goflow2 whole. Both paths are compared record for record on the real sFlow
// exports and by FuzzDecodeSFlow.
//
// The walk follows goflow2's reading: counts are bounded as it bounds them,
// a sample or record whose length runs past what remains ends its loop
// without an error, and a record shorter than its format is an error
// (handed to goflow2, which reports it).

// sflowFlowSample is one flow sample: its sampling rate and its records
// (count, and the bytes from the first record header to the sample's end).
type sflowFlowSample struct {
	rate uint32
	n    int
	recs []byte
}

// sflowFlowRecordMin is the minimum record body length goflow2 reads, by
// flow record format (a switch: a map lookup per record cost more than the
// rest of the walk).
func sflowFlowRecordMin(format uint32) int {
	switch format {
	case 1: // raw packet header: protocol, frame length, stripped, header length
		return 16
	case 2: // Ethernet frame data
		return 20
	case 3: // IPv4 data
		return 32
	case 4: // IPv6 data
		return 56
	case 1001: // extended switch
		return 16
	case 1036: // egress queue
		return 4
	case 1003, 1037, 1038: // extended gateway: variable; ACL, function: strings (goflow2 decides)
		return -1
	}
	// 1002, extended router: checked in sflowRecordsKnown; any other format is kept raw.
	return 0
}

// sflowCounterRecordMin is the minimum counter record body length, by
// counter record format (others raw).
func sflowCounterRecordMin(format uint32) int {
	switch format {
	case 1:
		return 88
	case 2:
		return 52
	}
	return 0
}

// sflowSamples appends every flow sample of an sFlow v5 datagram (b passed
// checkSFlowCounts) to out; ok is false when goflow2 must decode it instead.
// One walk both checks the datagram and finds its samples.
func sflowSamples(b []byte, out []sflowFlowSample) (samples []sflowFlowSample, ok bool) {
	off, ok := sflowAgentEnd(b)
	if !ok {
		return nil, false
	}
	if off+16 > len(b) {
		return nil, false
	}
	count := binary.BigEndian.Uint32(b[off+12:])
	if count > 1000 {
		return nil, false
	}
	off += 16
	for i := 0; i < int(count) && len(b)-off >= 8; i++ {
		format := binary.BigEndian.Uint32(b[off:])
		length := int(binary.BigEndian.Uint32(b[off+4:]))
		off += 8
		if length > len(b)-off || length < 0 {
			break
		}
		body := b[off : off+length]
		off += length
		var hdr, at int // header bytes before the record count, where it is
		switch format {
		case 1: // flow sample: seq, source, rate, pool, drops, input, output
			hdr, at = 32, 28
		case 2: // counter sample: seq, source
			hdr, at = 12, 8
		case 3: // expanded flow sample: seq, source type, index, rate, pool, drops, in format, value, out format, value
			hdr, at = 44, 40
		case 4: // expanded counter sample: seq, source type, index
			hdr, at = 16, 12
		default:
			return nil, false
		}
		if len(body) < hdr {
			return nil, false
		}
		n := binary.BigEndian.Uint32(body[at:])
		if n > 1000 {
			return nil, false
		}
		recs := body[hdr:]
		flow := format == 1 || format == 3
		if !sflowRecordsKnown(recs, int(n), flow) {
			return nil, false
		}
		if flow {
			rateAt := 8
			if format == 3 {
				rateAt = 12
			}
			out = append(out, sflowFlowSample{rate: binary.BigEndian.Uint32(body[rateAt:]), n: int(n), recs: recs})
		}
	}
	return out, true
}

// sflowRecordsKnown checks the records of one sample as goflow2 would read them.
func sflowRecordsKnown(b []byte, n int, flow bool) bool {
	for i := 0; i < n && len(b) >= 8; i++ {
		format := binary.BigEndian.Uint32(b)
		length := int(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
		if length > len(b) || length < 0 {
			break
		}
		min := sflowCounterRecordMin(format) // 0: kept raw
		if flow {
			min = sflowFlowRecordMin(format)
			if format == 1002 { // extended router: next hop (IPv4 or IPv6), two mask lengths
				if length < 4 {
					return false
				}
				switch binary.BigEndian.Uint32(b) {
				case 1:
					min = 4 + 4 + 8
				case 2:
					min = 4 + 16 + 8
				default:
					return false
				}
			}
		}
		if min < 0 || length < min {
			return false
		}
		b = b[length:]
	}
	return true
}

// sflowFill is fillSFlow on a flow sample's records in place.
func sflowFill(r *Record, smp *sflowFlowSample) bool {
	var fromIP []byte // the body of the last sampled IPv4/IPv6 record
	var v6 bool
	b := smp.recs
	for i := 0; i < smp.n && len(b) >= 8; i++ {
		format := binary.BigEndian.Uint32(b)
		length := int(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
		if length > len(b) {
			break
		}
		rec := b[:length]
		b = b[length:]
		switch format {
		case 1:
			var ok bool
			switch binary.BigEndian.Uint32(rec) {
			case sflowHeaderEthernet:
				ok = parseEthernet(r, rec[16:])
			case sflowHeaderIPv4, sflowHeaderIPv6:
				ok = parseIP(r, rec[16:])
			}
			if ok {
				r.Bytes = uint64(binary.BigEndian.Uint32(rec[4:]))
				return true
			}
		case 3:
			fromIP, v6 = rec, false
		case 4:
			fromIP, v6 = rec, true
		}
	}
	if fromIP == nil {
		return false
	}
	alen := 4
	if v6 {
		alen = 16
	}
	r.Src, _ = netip.AddrFromSlice(fromIP[8 : 8+alen])
	r.Dst, _ = netip.AddrFromSlice(fromIP[8+alen : 8+2*alen])
	p := fromIP[8+2*alen:]
	r.Proto = uint8(binary.BigEndian.Uint32(fromIP[4:]))
	r.SrcPort, r.DstPort = uint16(binary.BigEndian.Uint32(p)), uint16(binary.BigEndian.Uint32(p[4:]))
	r.TCPFlags = uint8(binary.BigEndian.Uint32(p[8:]))
	r.Bytes = uint64(binary.BigEndian.Uint32(fromIP))
	return r.Src.IsValid() && r.Dst.IsValid()
}
