package flow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// Information elements used (numbers shared by NetFlow v9 and IPFIX).
const (
	ieOctetDelta        = 1
	iePacketDelta       = 2
	ieProtocol          = 4
	ieTCPFlags          = 6
	ieSrcPort           = 7
	ieSrcIPv4           = 8
	ieDstPort           = 11
	ieDstIPv4           = 12
	ieLastSwitched      = 21
	ieFirstSwitched     = 22
	iePostOctetDelta    = 23
	iePostPacketDelta   = 24
	ieSrcIPv6           = 27
	ieDstIPv6           = 28
	ieSamplingInterval  = 34
	ieSamplerRandom     = 50
	ieOctetTotal        = 85
	iePacketTotal       = 86
	ieStartSeconds      = 150
	ieEndSeconds        = 151
	ieStartMillis       = 152
	ieEndMillis         = 153
	ieStartMicros       = 154
	ieEndMicros         = 155
	ieStartNanos        = 156
	ieEndNanos          = 157
	ieStartDeltaMicros  = 158
	ieEndDeltaMicros    = 159
	ieSystemInitMillis  = 160
	ieInitiatorOctets   = 231
	ieInitiatorPackets  = 298
	ieSamplingPktInterv = 305
	ieSamplingPktSpace  = 306
)

const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970

// recordPool saves the one allocation a datagram would otherwise cost: the
// Record handed to emit escapes through the callback.
var recordPool = sync.Pool{New: func() any { return new(Record) }}

// templatedScratch is what one NetFlow v9 or IPFIX datagram reuses: its
// record (recordPool's reason) and the list of its data sets, which as a
// local array was cleared on every datagram (~90 instructions). Pooled sets
// may keep a few expired templates from the collector until overwritten.
type templatedScratch struct {
	rec  Record
	sets [32]dataSet
}

var templatedScratches = sync.Pool{New: func() any { return new(templatedScratch) }}

// maxDomains caps the observation domains per source whose option data is kept.
const maxDomains = 256

func (d *Decoder) decodeTemplated(src netip.AddrPort, recv time.Time, payload []byte, proto Protocol, emit func(*Record)) error {
	s, err := d.start(src, recv, proto, payload)
	if err != nil {
		return err
	}
	var (
		exportMs, uptimeMs int64
		domain             uint32
		hasUptime          bool
	)
	if proto == NetFlowV9 {
		if len(payload) < 20 {
			return d.fail(s, proto, ReasonTruncated, fmt.Errorf("%d bytes, v9 header needs 20", len(payload)))
		}
		uptimeMs, hasUptime = int64(binary.BigEndian.Uint32(payload[4:])), true
		exportMs = int64(binary.BigEndian.Uint32(payload[8:])) * 1000
		domain = binary.BigEndian.Uint32(payload[16:])
	} else {
		if len(payload) < 16 {
			return d.fail(s, proto, ReasonTruncated, fmt.Errorf("%d bytes, IPFIX header needs 16", len(payload)))
		}
		n := int(binary.BigEndian.Uint16(payload[2:]))
		if n < 16 {
			return d.fail(s, proto, ReasonMalformed, fmt.Errorf("IPFIX length field %d", n))
		}
		if n > len(payload) {
			return d.fail(s, proto, ReasonTruncated, fmt.Errorf("IPFIX length field %d, datagram %d bytes", n, len(payload)))
		}
		payload = payload[:n]
		exportMs = int64(binary.BigEndian.Uint32(payload[4:])) * 1000
		domain = binary.BigEndian.Uint32(payload[12:])
	}

	version, hdr := uint16(10), 16
	if proto == NetFlowV9 {
		version, hdr = 9, 20
	}
	exporter := src.Addr().Unmap()
	sc := templatedScratches.Get().(*templatedScratch)
	defer templatedScratches.Put(sc)
	rec := &sc.rec // reused: emit must not keep it

	// Fast path: a datagram of data sets only, all with compiled templates,
	// is read straight from its bytes. Anything else (templates, options,
	// unknown or variable-length templates, malformed sets) goes to goflow2.
	if proto == NetFlowV9 {
		_, end := v9Extent(payload)
		payload = payload[:end] // padding after the last set
	}
	inPlace, ok := s.templates.dataSets(payload, hdr, version, domain, s.templates.clock.Load(), sc.sets[:0])
	if !ok && !d.slowOnly {
		// Templates first, then data (how exporters refresh their
		// templates): goflow2 learns the templates from a copy holding only
		// them, and the data is read in place.
		// Templates announced again unchanged (the usual refresh) are only
		// stamped (templateStore.refreshed).
		if end := leadingTemplates(payload, hdr, proto); end > hdr && end < len(payload) &&
			(s.templates.refreshed(payload, hdr, end, version, domain, s.templates.clock.Load()) || learnTemplates(payload, hdr, end, proto, s.templates)) {
			inPlace, ok = s.templates.dataSets(payload, end, version, domain, s.templates.clock.Load(), sc.sets[:0])
		}
	}
	if ok && !d.slowOnly {
		e := d.emitter(s, proto, domain, exportMs, uptimeMs, hasUptime, recv, rec, emit)
		// The same for every record of the datagram: written once (emit
		// must not change them, DecodeNetFlow), not per record (a 24-byte
		// address with a pointer: ~10 instructions a record).
		rec.Exporter, rec.Protocol = exporter, proto
		for _, ds := range inPlace {
			c := ds.tpl
			if c.lay != nil && !d.loopOnly {
				// A layout writes every other field: no clearing per record.
				c.lay.fill(payload, ds.start, ds.end, &e)
				continue
			}
			for at := ds.start; at+c.recLen <= ds.end; at += c.recLen {
				*rec = Record{Exporter: exporter, Protocol: proto}
				e.record(fillRecord(rec, payload[at:at+c.recLen], c.fields, &e.st))
			}
		}
		e.done()
		return nil
	}
	return d.decodeGoflow2(s, recv, payload, proto, exporter, exportMs, uptimeMs, hasUptime, domain, rec, emit)
}

// decodeGoflow2 is decodeTemplated's path for the datagrams not read in
// place (templates, options, unusual sets): goflow2 decodes the whole
// datagram. A function of its own, so that the in-place path does not clear
// this one's buffers on every datagram.
func (d *Decoder) decodeGoflow2(s *source, recv time.Time, payload []byte, proto Protocol, exporter netip.Addr,
	exportMs, uptimeMs int64, hasUptime bool, domain uint32, rec *Record, emit func(*Record)) error {
	var (
		fields [64]compiledField // the fields of one record, read from their bytes in buf
		buf    [512]byte
	)
	if proto == NetFlowV9 {
		payload = fixV9Count(payload)
	}
	var (
		p9   netflow.NFv9Packet
		pfix netflow.IPFIXPacket
	)
	derr := netflow.DecodeMessageVersion(bytes.NewBuffer(payload), s.templates, &p9, &pfix)
	reason := ""
	if derr != nil {
		reason = reasonOf(derr)
		// Only a missing template leaves the rest of the datagram trustworthy.
		if reason != ReasonTemplateMissing {
			return d.fail(s, proto, reason, derr)
		}
	}
	sets := p9.FlowSets
	if proto == IPFIX {
		sets = pfix.FlowSets
	}

	// Option data first: it may carry the sampling rate or boot time for the data that follows.
	for _, fs := range sets {
		if od, ok := fs.(netflow.OptionsDataFlowSet); ok {
			s.learnOptions(domain, od)
		}
	}
	e := d.emitter(s, proto, domain, exportMs, uptimeMs, hasUptime, recv, rec, emit)
	for _, fs := range sets {
		ds, ok := fs.(netflow.DataFlowSet)
		if !ok {
			continue
		}
		for i := range ds.Records {
			// goflow2 gives each field's bytes on their own: laid end to
			// end they read as a record of a compiled template does.
			v, b := fields[:0], buf[:0]
			for _, f := range ds.Records[i].Values {
				if k := fieldKind(f.Type); !f.PenProvided && k != kNone {
					fb, _ := f.Value.([]byte)
					v = append(v, compiledField{off: len(b), len: len(fb), kind: k})
					b = append(b, fb...)
				}
			}
			*rec = Record{Exporter: exporter, Protocol: proto}
			e.record(fillRecord(rec, b, v, &e.st))
		}
	}
	e.done()
	if derr != nil {
		return d.fail(s, proto, reason, derr)
	}
	return nil
}

// leadingTemplates returns where the template and options template sets at
// the start of a datagram's sets (from hdr) end: hdr when there are none.
func leadingTemplates(b []byte, hdr int, proto Protocol) int {
	lo, hi := uint16(0), uint16(1) // v9 template, options template
	if proto == IPFIX {
		lo, hi = 2, 3
	}
	off := hdr
	for off+4 <= len(b) {
		id, l := binary.BigEndian.Uint16(b[off:]), int(binary.BigEndian.Uint16(b[off+2:]))
		if id < lo || id > hi || l < 4 || off+l > len(b) {
			break
		}
		off += l
	}
	return off
}

// learnTemplates has goflow2 decode the template sets b[hdr:end] of a
// datagram, with the header copied and its set count (v9) or length (IPFIX)
// made to fit, into store. It reports false on any error: the caller then
// decodes the whole datagram with goflow2, which reports it (templates
// learnt twice are the same templates).
func learnTemplates(b []byte, hdr, end int, proto Protocol, store *templateStore) bool {
	c := append([]byte(nil), b[:end]...) // goflow2 keeps no reference; the caller's buffer is never written
	if proto == NetFlowV9 {
		n, _ := v9Extent(c)
		binary.BigEndian.PutUint16(c[2:], uint16(n))
	} else {
		binary.BigEndian.PutUint16(c[2:], uint16(end))
	}
	var (
		p9   netflow.NFv9Packet
		pfix netflow.IPFIXPacket
	)
	return netflow.DecodeMessageVersion(bytes.NewBuffer(c), store, &p9, &pfix) == nil
}

// timing gives the sampling rate learnt from option data and the exporter's
// boot time (v9: from the header; IPFIX: from option data) of a domain.
func (s *source) timing(domain uint32, proto Protocol, exportMs, uptimeMs int64, hasUptime bool) (optRate uint32, sysInit int64, hasInit bool) {
	if s.optioned.Load() {
		s.mu.Lock()
		optRate = s.sampling[domain]
		sysInit, hasInit = s.sysInitMs[domain]
		s.mu.Unlock()
	}
	if proto == NetFlowV9 {
		sysInit, hasInit = exportMs-uptimeMs, hasUptime
	}
	return optRate, sysInit, hasInit
}

// emitter hands on the records of one datagram (record), with what they
// share: set up once per datagram (Decoder.emitter), so that the call per
// record takes one pointer, not nine arguments spilled and reloaded around it.
type emitter struct {
	d       *Decoder
	s       *source
	proto   Protocol
	optRate uint32 // the sampling rate learnt from option data (0: none)
	clk     clockFix
	st      stamp
	rec     *Record // the record filled for each data record in turn
	emit    func(*Record)
	n       int // flows (emitted or refused)
}

// emitter measures a datagram's clock and takes its sampling rate and boot
// time (source.timing) for its records.
func (d *Decoder) emitter(s *source, proto Protocol, domain uint32, exportMs, uptimeMs int64, hasUptime bool,
	recv time.Time, rec *Record, emit func(*Record)) emitter {
	optRate, sysInit, hasInit := s.timing(domain, proto, exportMs, uptimeMs, hasUptime)
	clk := d.clock(s, proto, exportMs, recv)
	return emitter{d: d, s: s, proto: proto, optRate: optRate, clk: clk,
		st: newStamp(clk.exportMs, sysInit, hasInit), rec: rec, emit: emit}
}

// record takes e.rec, whose fields were mapped (fillRecord or a layout:
// rate, upDur and upOnly are what they returned), checks its times against
// its source's clock (clock.go), scales it by its sampling rate and hands it
// on; a record with neither address is no flow (e.g. an event or
// statistics template) and is skipped.
func (e *emitter) record(rate uint32, upDur int64, upOnly bool) {
	r := e.rec
	if !r.Src.IsValid() && !r.Dst.IsValid() {
		return
	}
	e.n++
	if upOnly {
		e.clk.arrival(e.d, e.s, e.proto, r, upDur)
	} else if !e.clk.keeps(r) {
		e.clk.refused(e.d, e.s, r)
		return
	} else {
		e.clk.correct(r)
	}
	if rate == 0 {
		rate = e.optRate
	}
	if rate == 0 {
		e.clk.unrated = true
	} else {
		e.clk.rated = true
	}
	rate = e.d.rate(e.s, rate)
	r.SamplingRate = rate
	r.Packets *= uint64(rate)
	r.Bytes *= uint64(rate)
	e.emit(r)
}

// done counts the datagram's records once they are all handed on.
func (e *emitter) done() {
	e.clk.flush(e.d, e.s, e.proto)
	e.d.delivered(e.s, e.proto, e.n)
}

// learnOptions keeps the sampling rate and system init time found in option data.
func (s *source) learnOptions(domain uint32, od netflow.OptionsDataFlowSet) {
	for _, rec := range od.Records {
		var interval, space, rate uint64
		var initMs int64
		for _, f := range rec.OptionsValues {
			b, _ := f.Value.([]byte)
			if f.PenProvided {
				continue
			}
			switch f.Type {
			case ieSamplingInterval, ieSamplerRandom:
				rate = beUint(b)
			case ieSamplingPktInterv:
				interval = beUint(b)
			case ieSamplingPktSpace:
				space = beUint(b)
			case ieSystemInitMillis:
				initMs = int64(beUint(b))
			}
		}
		if interval > 0 {
			rate = (interval + space) / interval
		}
		if rate == 0 && initMs == 0 {
			continue
		}
		s.mu.Lock()
		// Bounded like the templates: a source cannot grow these maps past maxDomains.
		if _, known := s.sampling[domain]; rate > 0 && rate <= 1<<31 && (known || len(s.sampling) < maxDomains) {
			s.sampling[domain] = uint32(rate)
			s.optioned.Store(true)
		}
		if _, known := s.sysInitMs[domain]; initMs > 0 && (known || len(s.sysInitMs) < maxDomains) {
			s.sysInitMs[domain] = initMs
			s.optioned.Store(true)
		}
		s.mu.Unlock()
	}
}

// fillRecord maps the fields of one data record (their bytes in data); it
// reads them straight from the record's bytes, with no list of field values
// built first (that list cost about as much as the mapping). It returns the record's own
// sampling rate (0 if it has none). Packets and Bytes are left unscaled.
// upOnly says the record's only times are uptimes of an exporter whose boot
// time is unknown (the caller times it from arrival), upDur the duration
// they give.
func fillRecord(r *Record, data []byte, fields []compiledField, st *stamp) (rate uint32, upDur int64, upOnly bool) {
	// The values read, in a struct rather than a dozen locals: the loop then
	// writes each one to memory once instead of carrying them all in
	// registers, spilled and reloaded on every field.
	var v values
	for i := range fields {
		f := &fields[i]
		b := data[f.off : f.off+f.len]
		switch f.kind {
		case kOctets:
			v.octets = beUint(b)
		case kPackets:
			v.pkts = beUint(b)
		case kAltOctets:
			if v.altOctets == 0 {
				v.altOctets = beUint(b)
			}
		case kAltPackets:
			if v.altPkts == 0 {
				v.altPkts = beUint(b)
			}
		case kProto:
			r.Proto = uint8(beUint(b))
		case kFlags:
			r.TCPFlags = uint8(beUint(b))
		case kSrcPort:
			r.SrcPort = uint16(beUint(b))
		case kDstPort:
			r.DstPort = uint16(beUint(b))
		case kSrcAddr:
			if a, ok := addrOf(b); ok {
				r.Src = a
			}
		case kDstAddr:
			if a, ok := addrOf(b); ok {
				r.Dst = a
			}
		case kUpStart:
			v.upStart, v.hasUp = int64(beUint(b)), true
		case kUpEnd:
			v.upEnd, v.hasUp = int64(beUint(b)), true
		case kStartSec:
			v.start = int64(beUint(b)) * 1000
		case kEndSec:
			v.end = int64(beUint(b)) * 1000
		case kStartMs:
			v.start = int64(beUint(b))
		case kEndMs:
			v.end = int64(beUint(b))
		case kStartNTP:
			v.start = ntpMillis(b)
		case kEndNTP:
			v.end = ntpMillis(b)
		case kStartDelta:
			v.start = st.exportMs - int64(beUint(b))/1000
		case kEndDelta:
			v.end = st.exportMs - int64(beUint(b))/1000
		case kRate:
			v.rate64 = beUint(b)
		case kPktInterval:
			v.interval = beUint(b)
		case kPktSpace:
			v.space = beUint(b)
		}
	}
	return v.finish(r, st)
}

// values are what a record's fields give before the rules that combine
// them (values.finish): fillRecord's loop fills them (a layout keeps the same values in locals).
type values struct {
	octets, pkts, altOctets, altPkts uint64
	start, end                       int64
	upStart, upEnd                   int64
	interval, space, rate64          uint64
	hasUp                            bool
}

// finish sets the record's counts and times from v and returns its own
// sampling rate (see fillRecord). The rules are three small functions that
// layout.fill calls too, on values it keeps in registers.
func (v *values) finish(r *Record, st *stamp) (rate uint32, upDur int64, upOnly bool) {
	r.Bytes, r.Packets = orAlt(v.octets, v.altOctets), orAlt(v.pkts, v.altPkts)
	r.Start, r.End, upDur, upOnly = st.times(v.start, v.end, v.upStart, v.upEnd, v.hasUp)
	return ownRate(v.rate64, v.interval, v.space), upDur, upOnly
}

// orAlt is a count: the delta count, or when that is 0 (or absent) the
// alternative one (totals, post counts, initiator counts).
func orAlt(delta, alt uint64) uint64 {
	if delta == 0 {
		return alt
	}
	return delta
}

// ownRate is a record's own sampling rate (0: none): samplingInterval, or
// from samplingPacketInterval and Space; implausible rates count as none.
func ownRate(rate64, interval, space uint64) uint32 {
	if interval > 0 {
		rate64 = (interval + space) / interval
	}
	if rate64 > 1<<31 {
		rate64 = 0
	}
	return uint32(rate64)
}

// stamp is what a datagram's header says of the times of its records: the
// same for every record, so taken once per datagram (newStamp), not per record.
type stamp struct {
	exportMs, sysInit int64
	hasInit           bool
	// wrap: export and boot time both known, and up the uptime at export
	// modulo 2^32, like the fields (see times).
	wrap bool
	up   uint32
	// upFast: hasInit and wrap, the usual case of NetFlow v9, whose
	// uptime-relative times layout.fill turns into Unix ms itself (fromUp).
	upFast bool
}

func newStamp(exportMs, sysInit int64, hasInit bool) stamp {
	wrap := exportMs > 0 && sysInit > 0
	return stamp{exportMs: exportMs, sysInit: sysInit, hasInit: hasInit,
		wrap: wrap, up: uint32(exportMs - sysInit), upFast: hasInit && wrap}
}

// times gives a record's start and end from its time fields (start, end:
// absolute ones in Unix ms, 0 when absent; upStart, upEnd: sysUpTime ones,
// hasUp when either is present). upOnly says the record's only times are
// uptimes of an exporter whose boot time is unknown (the caller times it
// from arrival), upDur the duration they give.
func (st *stamp) times(start, end, upStart, upEnd int64, hasUp bool) (int64, int64, int64, bool) {
	var (
		upDur  int64
		upOnly bool
	)
	if start == 0 && end == 0 && hasUp {
		if !st.hasInit {
			upOnly = true
			if upEnd >= upStart && upEnd-upStart < 1<<31 {
				upDur = upEnd - upStart
			}
		} else if st.wrap {
			start, end = st.fromUp(upStart), st.fromUp(upEnd)
		} else {
			// sysUptime-relative times; uint32 arithmetic absorbs an uptime wrap.
			start, end = st.sysInit+upStart, st.sysInit+upEnd
		}
	}
	start, end = settle(start, end, st.exportMs)
	return start, end, upDur, upOnly
}

// fromUp is the Unix ms of a sysUpTime field when export and boot time are
// both known (wrap). The uptime at export, modulo 2^32 like the fields: a
// boot time a little after the (whole-second) export time, as softflowd's
// is, or an uptime past 49.7 days, still gives each record's distance from
// the export (records more than 24.8 days away cannot be told from wrapped
// ones; those in the future are refused in clock.go).
func (st *stamp) fromUp(up int64) int64 {
	return st.exportMs - int64(int32(st.up-uint32(up)))
}

// settle gives a record whose start or end is unknown (0) the other one,
// and one with neither its datagram's export time.
func settle(start, end, exportMs int64) (int64, int64) {
	if start == 0 {
		start = end
	}
	if end == 0 {
		end = start
	}
	if start == 0 {
		start, end = exportMs, exportMs
	}
	return start, end
}

// beUint reads a big-endian unsigned integer of 1 to 8 bytes (reduced-size
// encoding allows any of them); longer values read their last 8 bytes.
func beUint(b []byte) uint64 {
	switch len(b) { // the usual sizes without a loop
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// addrOf reads an IPv4 or IPv6 address field (netip.AddrFromSlice without
// its generic path for the two sizes that occur).
func addrOf(b []byte) (netip.Addr, bool) {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)), true
	case 16:
		return netip.AddrFrom16([16]byte(b)), true
	}
	return netip.Addr{}, false
}

// ntpMillis converts an NTP 64-bit timestamp (IPFIX dateTimeMicro/Nanoseconds) to Unix ms.
func ntpMillis(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	sec := int64(binary.BigEndian.Uint32(b)) - ntpEpochOffset
	frac := int64(binary.BigEndian.Uint32(b[4:]))
	return sec*1000 + frac*1000>>32
}

// v9Extent walks the flowsets of a v9 datagram and returns how many there
// are and where the last one ends. The header's count cannot be trusted for
// this: RFC 3954 counts records (so it is usually larger than the number of
// flowsets), and softflowd counts data records only. The walk stops where
// fewer than 4 bytes remain (alignment padding) or at a zero set header (Palo
// Alto pads with zeros): what follows is padding, ignored by both decode
// paths. A set header with an impossible length, or a set running past the
// datagram, is counted and kept, so that goflow2 reports it.
func v9Extent(b []byte) (sets, end int) {
	off := 20
	for off+4 <= len(b) {
		id, l := binary.BigEndian.Uint16(b[off:]), int(binary.BigEndian.Uint16(b[off+2:]))
		if id == 0 && l == 0 {
			return sets, off
		}
		sets++
		if l < 4 || off+l > len(b) {
			return sets, len(b)
		}
		off += l
	}
	return sets, off
}

// fixV9Count makes goflow2 read exactly the flowsets v9Extent finds: the
// header count is set to their number and the padding after them cut off,
// so that goflow2's path and the in-place path see the same sets. A copy is
// made only when the header needs fixing: the caller's buffer is never written.
func fixV9Count(b []byte) []byte {
	n, end := v9Extent(b)
	b = b[:end]
	if n == int(binary.BigEndian.Uint16(b[2:])) {
		return b
	}
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint16(c[2:], uint16(n))
	return c
}
