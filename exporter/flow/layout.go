package flow

import (
	"encoding/binary"
	"net/netip"
)

// A layout is a compiled template read without a loop over its fields: each
// value fillRecord would take (bytes, packets, ports, addresses, times,
// sampling) has its place in the record fixed once, when the template is
// learnt, so a record is a fixed sequence of loads with no switch on field
// kinds and no per-field slice. Templates that give one value twice (two
// start-time fields, IPv4 and IPv6 source address both, ...) have no layout:
// which field wins is fillRecord's loop's business, and they keep it.
//
// Integers are read branch-free: the eight bytes that end where the field
// ends, masked to the field's width. A record never starts in the first 8
// bytes of a datagram (the header is 16 or 20 bytes and a set header 4 more),
// so those eight bytes are always there; an absent value reads as 0 through
// a zero mask.
type layout struct {
	octets, pkts, proto, flags, srcPort, dstPort, rate intSlot
	// rare: a template with any of these (flow totals, sampling by packet
	// interval); most have none, and skip them in one branch.
	rare                                bool
	altOctets, altPkts, interval, space intSlot
	hasUp                               bool // flowStart/EndSysUpTime present (either)
	upStart, upEnd                      intSlot
	start, end                          timeSlot
	src, dst                            addrSlot
}

// intSlot reads a big-endian unsigned integer of any width (reduced-size
// encoding): end is where the field ends, counted from the record's start;
// mask keeps the field's bytes (0 when absent; all ones from 8 bytes up,
// since beUint reads the last 8 bytes of a longer field).
type intSlot struct {
	end  int
	mask uint64
}

func (s intSlot) read(b []byte, at int) uint64 {
	p := at + s.end
	return binary.BigEndian.Uint64(b[p-8:p]) & s.mask
}

// timeSlot is a start or end time: the field and how it reads (kStartSec,
// kStartMs, kStartNTP, kStartDelta or their end kinds; kNone when absent).
type timeSlot struct {
	intSlot
	kind uint8
}

// addrSlot is an address field: off its first byte, width 4 or 16 (0:
// absent, or a width no address has, which fillRecord also leaves unset).
type addrSlot struct {
	off, width int
}

// read16 sets *a to the IPv6 address at b[at:]; the IPv4 case is written
// out in fill (a function with both is too big for the compiler to inline).
//
//go:noinline
func (s addrSlot) read16(a *netip.Addr, b []byte, at int) {
	p := at + s.off
	*a = netip.AddrFrom16([16]byte(b[p : p+16]))
}

// newLayout returns the layout of a compiled template's wanted fields, nil
// when a value is read from more than one of them.
func newLayout(fields []compiledField) *layout {
	l := &layout{}
	var seen [kPktSpace + 1]bool
	for _, f := range fields {
		// Kinds that write the same value count as one: fillRecord's
		// last (or first non-zero) field would decide between them.
		k := f.kind
		switch k {
		case kStartSec, kStartMs, kStartNTP, kStartDelta:
			k = kStartSec
		case kEndSec, kEndMs, kEndNTP, kEndDelta:
			k = kEndSec
		}
		if seen[k] {
			return nil
		}
		seen[k] = true
		is := intSlot{end: f.off + f.len, mask: widthMask(f.len)}
		switch f.kind {
		case kOctets:
			l.octets = is
		case kPackets:
			l.pkts = is
		case kAltOctets:
			l.altOctets, l.rare = is, true
		case kAltPackets:
			l.altPkts, l.rare = is, true
		case kProto:
			l.proto = is
		case kFlags:
			l.flags = is
		case kSrcPort:
			l.srcPort = is
		case kDstPort:
			l.dstPort = is
		case kSrcAddr:
			l.src = addrSlot{off: f.off, width: addrWidth(f.len)}
		case kDstAddr:
			l.dst = addrSlot{off: f.off, width: addrWidth(f.len)}
		case kUpStart:
			l.upStart, l.hasUp = is, true
		case kUpEnd:
			l.upEnd, l.hasUp = is, true
		case kStartSec, kStartMs, kStartDelta:
			l.start = timeSlot{is, f.kind}
		case kEndSec, kEndMs, kEndDelta:
			l.end = timeSlot{is, f.kind}
		case kStartNTP, kEndNTP:
			ts := timeSlot{is, f.kind}
			if f.len != 8 { // ntpMillis reads 0 from any other width
				ts = timeSlot{}
			}
			if f.kind == kStartNTP {
				l.start = ts
			} else {
				l.end = ts
			}
		case kRate:
			l.rate = is
		case kPktInterval:
			l.interval, l.rare = is, true
		case kPktSpace:
			l.space, l.rare = is, true
		default:
			return nil // a kind this layout does not know: the loop reads it
		}
	}
	return l
}

func widthMask(n int) uint64 {
	if n >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*n) - 1
}

func addrWidth(n int) int {
	if n == 4 || n == 16 {
		return n
	}
	return 0
}

// fill is fillRecord for the record at b[at:] (at >= 8): the same values,
// the same rules (values.finish), read by the layout. It writes every field
// of r but Exporter and Protocol, so r needs no clearing between records.
func (l *layout) fill(r *Record, b []byte, at int, exportMs, sysInit int64, hasInit bool) (rate uint32, upDur int64, upOnly bool) {
	var v values
	v.octets = l.octets.read(b, at)
	v.pkts = l.pkts.read(b, at)
	r.Proto = uint8(l.proto.read(b, at))
	r.TCPFlags = uint8(l.flags.read(b, at))
	r.SrcPort = uint16(l.srcPort.read(b, at))
	r.DstPort = uint16(l.dstPort.read(b, at))
	if l.src.width == 4 {
		p := at + l.src.off
		r.Src = netip.AddrFrom4([4]byte(b[p : p+4]))
	} else if l.src.width == 16 {
		l.src.read16(&r.Src, b, at)
	} else {
		r.Src = netip.Addr{}
	}
	if l.dst.width == 4 {
		p := at + l.dst.off
		r.Dst = netip.AddrFrom4([4]byte(b[p : p+4]))
	} else if l.dst.width == 16 {
		l.dst.read16(&r.Dst, b, at)
	} else {
		r.Dst = netip.Addr{}
	}
	r.SamplingRate = 0 // set by emitRecord
	v.rate64 = l.rate.read(b, at)
	if l.rare {
		v.altOctets = l.altOctets.read(b, at)
		v.altPkts = l.altPkts.read(b, at)
		v.interval = l.interval.read(b, at)
		v.space = l.space.read(b, at)
	}
	if l.hasUp {
		v.upStart, v.upEnd, v.hasUp = int64(l.upStart.read(b, at)), int64(l.upEnd.read(b, at)), true
	}
	if l.start.kind != kNone {
		v.start = l.start.read(b, at, exportMs)
	}
	if l.end.kind != kNone {
		v.end = l.end.read(b, at, exportMs)
	}
	return v.finish(r, exportMs, sysInit, hasInit)
}

func (s timeSlot) read(b []byte, at int, exportMs int64) int64 {
	switch s.kind {
	case kStartSec, kEndSec:
		return int64(s.intSlot.read(b, at)) * 1000
	case kStartMs, kEndMs:
		return int64(s.intSlot.read(b, at))
	case kStartNTP, kEndNTP:
		p := at + s.end
		return ntpMillis(b[p-8 : p])
	case kStartDelta, kEndDelta:
		return exportMs - int64(s.intSlot.read(b, at))/1000
	}
	return 0
}
