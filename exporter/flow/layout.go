package flow

import (
	"encoding/binary"
	"net/netip"
	"unsafe"
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
	recLen                                             int // the template's record length: every slot lies within it
	octets, pkts, proto, flags, srcPort, dstPort, rate intSlot
	// rare: a template with any of these (flow totals, sampling by packet
	// interval); most have none, and skip them in one branch.
	rare                                bool
	altOctets, altPkts, interval, space intSlot
	hasUp                               bool // flowStart/EndSysUpTime present (either)
	upOnly                              bool // hasUp, and no other start or end time field
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

// load reads the slot from a record's bytes with the 8 before them (fill's rec, at
// base): no bounds check per field. newLayout made sure that every slot ends
// within the template's record (end <= recLen), and fill checked once that
// the record's set is within the datagram, so the 8 bytes at base+end are rec's.
func (s intSlot) load(base unsafe.Pointer) uint64 {
	return binary.BigEndian.Uint64((*[8]byte)(unsafe.Add(base, s.end))[:]) & s.mask
}

// timeSlot is a start or end time: the field and how it reads (kStartSec,
// kStartMs, kStartNTP, kStartDelta or their end kinds; kNone when absent).
// mul is what seconds (1000) and milliseconds (1) are multiplied by, 0 for
// the other kinds (see load).
type timeSlot struct {
	intSlot
	kind uint8
	mul  int64
}

func newTimeSlot(is intSlot, kind uint8) timeSlot {
	ts := timeSlot{intSlot: is, kind: kind}
	switch kind {
	case kStartSec, kEndSec:
		ts.mul = 1000
	case kStartMs, kEndMs:
		ts.mul = 1
	}
	return ts
}

// addrSlot is an address field: off its first byte, width 4 or 16 (0:
// absent, or a width no address has, which fillRecord also leaves unset).
type addrSlot struct {
	off, width int
}

// newLayout returns the layout of a compiled template's wanted fields, nil
// when a value is read from more than one of them.
func newLayout(fields []compiledField, recLen int) *layout {
	l := &layout{recLen: recLen}
	var seen [kPktSpace + 1]bool
	for _, f := range fields {
		if f.off < 0 || f.len < 0 || f.off+f.len > recLen {
			return nil // cannot happen (compile lays fields end to end): fill's loads rely on it
		}
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
			l.start = newTimeSlot(is, f.kind)
		case kEndSec, kEndMs, kEndDelta:
			l.end = newTimeSlot(is, f.kind)
		case kStartNTP, kEndNTP:
			ts := newTimeSlot(is, f.kind)
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
	l.upOnly = l.hasUp && l.start.kind == kNone && l.end.kind == kNone
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

// fill is fillRecord for each record of a data set, b[start:end] (start >=
// 8), in turn: the same values, the same rules (values.finish's), read by
// the layout into e.rec, which is then handed to e.record. It writes every
// field of the record but Exporter and Protocol, so the record needs no
// clearing between records. The set's extent is checked once; the
// records' fields are then loaded without a check each (intSlot.load). The values are
// locals, not a values struct: one handed to finish would be cleared, stored
// and loaded again for every record. The loop over the set's records is
// here, not in the caller: a call to fill per record (its set-up, its
// arguments and results moved, what is live across it spilled) cost ~25
// instructions a record.
func (l *layout) fill(b []byte, start, end int, e *emitter) {
	r, st := e.rec, &e.st
	timing := l.timing(st)
	// The set's extent is checked once: every record of it (and the 8
	// bytes before the first) is then in b, and each is reached from the
	// set's first byte without a check of its own.
	set := b[start-8 : end] // panics unless the set (and the 8 bytes before it) is in b
	for at := 8; at+l.recLen <= len(set); at += l.recLen {
		base := unsafe.Add(unsafe.Pointer(unsafe.SliceData(set)), at-8)
		// The addresses first: read16 is a call, and before the other loads
		// fewer values are live across it.
		if l.src.width == 4 {
			r.Src = netip.AddrFrom4(*(*[4]byte)(unsafe.Add(base, 8+l.src.off)))
		} else if l.src.width == 16 {
			r.Src = read16((*[16]byte)(unsafe.Add(base, 8+l.src.off)))
		} else {
			r.Src = netip.Addr{}
		}
		if l.dst.width == 4 {
			r.Dst = netip.AddrFrom4(*(*[4]byte)(unsafe.Add(base, 8+l.dst.off)))
		} else if l.dst.width == 16 {
			r.Dst = read16((*[16]byte)(unsafe.Add(base, 8+l.dst.off)))
		} else {
			r.Dst = netip.Addr{}
		}
		octets, pkts := l.octets.load(base), l.pkts.load(base)
		r.Proto = uint8(l.proto.load(base))
		r.TCPFlags = uint8(l.flags.load(base))
		r.SrcPort = uint16(l.srcPort.load(base))
		r.DstPort = uint16(l.dstPort.load(base))
		r.SamplingRate = 0 // set by emitter.record
		rate64 := l.rate.load(base)
		var rate uint32
		if l.rare {
			octets = orAlt(octets, l.altOctets.load(base))
			pkts = orAlt(pkts, l.altPkts.load(base))
			rate = ownRate(rate64, l.interval.load(base), l.space.load(base))
		} else {
			rate = ownRate(rate64, 0, 0)
		}
		r.Bytes, r.Packets = octets, pkts
		var (
			upDur  int64
			upOnly bool
		)
		// stamp.times without a call in the usual cases (timing).
		switch timing {
		case timedByUp:
			upStart, upEnd := int64(l.upStart.load(base)), int64(l.upEnd.load(base))
			r.Start, r.End = settle(st.fromUp(upStart), st.fromUp(upEnd), st.exportMs)
		case timedAbsolute:
			// An absent field reads 0 (mask and mul 0).
			r.Start, r.End = settle(int64(l.start.intSlot.load(base))*l.start.mul,
				int64(l.end.intSlot.load(base))*l.end.mul, st.exportMs)
		default:
			r.Start, r.End, upDur, upOnly = l.times(base, st)
		}
		e.record(rate, upDur, upOnly)
	}
}

// How fill times the records of a set: decided once a set, from the
// template and the datagram's header (the stamp), not per record.
const (
	timedOtherwise = iota // layout.times: any mix of fields
	timedByUp             // only sysUpTime fields, boot and export time known (NetFlow v9's usual)
	timedAbsolute         // only seconds or milliseconds fields, no uptimes (IPFIX's usual)
)

func (l *layout) timing(st *stamp) int {
	absolute := func(ts timeSlot) bool { return ts.kind == kNone || ts.mul != 0 }
	switch {
	case l.upOnly && st.upFast:
		return timedByUp
	case !l.hasUp && absolute(l.start) && absolute(l.end):
		return timedAbsolute
	}
	return timedOtherwise
}

// times reads a record's time fields at base (fill's) and combines them by
// stamp.times' rules: fill's path for the layouts timing has no shortcut for.
//
//go:noinline
func (l *layout) times(base unsafe.Pointer, st *stamp) (start, end, upDur int64, upOnly bool) {
	rec := unsafe.Slice((*byte)(base), 8+l.recLen) // the record and the 8 bytes before it, within fill's set
	var upStart, upEnd int64
	if l.hasUp {
		upStart, upEnd = int64(l.upStart.load(base)), int64(l.upEnd.load(base))
	}
	if l.start.mul != 0 {
		start = int64(l.start.intSlot.load(base)) * l.start.mul
	} else if l.start.kind != kNone {
		start = l.start.loadRare(rec, st.exportMs)
	}
	if l.end.mul != 0 {
		end = int64(l.end.intSlot.load(base)) * l.end.mul
	} else if l.end.kind != kNone {
		end = l.end.loadRare(rec, st.exportMs)
	}
	if !l.hasUp {
		start, end = settle(start, end, st.exportMs)
		return start, end, 0, false
	}
	return st.times(start, end, upStart, upEnd, true)
}

// read16 is the IPv6 address at b's start; a function of its own (IPv4 is
// written out in fill, a function with both is too big for the compiler to inline).
//
//go:noinline
func read16(b *[16]byte) netip.Addr {
	return netip.AddrFrom16(*b)
}

// loadRare reads the NTP and delta times for fill (0 for none); seconds and
// milliseconds, the usual kinds, fill reads itself (mul), without a call.
//
//go:noinline
func (s *timeSlot) loadRare(rec []byte, exportMs int64) int64 {
	switch s.kind {
	case kStartNTP, kEndNTP:
		return ntpMillis(rec[s.end : s.end+8])
	case kStartDelta, kEndDelta:
		return exportMs - int64(beUint(rec[s.end:s.end+8])&s.mask)/1000
	}
	return 0
}
