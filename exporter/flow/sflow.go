package flow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/sflow"
)

// sFlow flow record header protocols (sFlow v5 header_protocol).
const (
	sflowHeaderEthernet = 1
	sflowHeaderIPv4     = 11
	sflowHeaderIPv6     = 12
)

// DecodeSFlow decodes one sFlow v5 datagram. Every flow sample becomes one
// record at recv time, scaled by the sample's sampling rate: packets = rate,
// bytes = frame length × rate. Counter samples are skipped. The *Record passed
// to emit is reused after emit returns.
func (d *Decoder) DecodeSFlow(src netip.AddrPort, recv time.Time, payload []byte, emit func(*Record)) error {
	s, err := d.start(src, recv, SFlowV5, payload)
	if err != nil {
		return err
	}
	if len(payload) < 28 {
		return d.fail(s, SFlowV5, ReasonTruncated, fmt.Errorf("%d bytes, sFlow header needs at least 28", len(payload)))
	}
	if v := binary.BigEndian.Uint32(payload); v != 5 {
		return d.fail(s, SFlowV5, ReasonWrongVersion, fmt.Errorf("sFlow version %d", v))
	}
	if err := checkSFlowCounts(payload); err != nil {
		return d.fail(s, SFlowV5, ReasonMalformed, err)
	}
	ms := recv.UnixMilli()
	exporter := src.Addr().Unmap()
	n := 0
	sc := sflowScratches.Get().(*sflowScratch)
	defer sc.put()
	r := &sc.r // reused: emit must not keep it (templated.go)
	var rated, unrated bool
	// finish scales and emits the record of one flow sample (r, filled).
	finish := func(rate uint32) {
		if rate == 0 {
			unrated = true
		} else {
			rated = true
		}
		rate = d.rate(s, rate)
		r.SamplingRate = rate
		r.Packets = uint64(rate)
		r.Bytes *= uint64(rate)
		emit(r)
		n++
	}
	var (
		samples []sflowFlowSample
		inPlace bool
	)
	if !d.slowOnly {
		samples, inPlace = sflowSamples(payload, sc.samples[:0])
		if cap(samples) > cap(sc.samples) {
			sc.samples = samples[:0] // grown once to the largest datagram's count, then kept
		}
	}
	if inPlace { // (sflowfast.go)
		for i := range samples {
			*r = Record{Start: ms, End: ms, Exporter: exporter, Protocol: SFlowV5}
			if sflowFill(r, &samples[i]) {
				finish(samples[i].rate)
			}
		}
	} else {
		var p sflow.Packet
		if err := sflow.DecodeMessageVersion(bytes.NewBuffer(payload), &p); err != nil {
			return d.fail(s, SFlowV5, reasonOf(err), err)
		}
		for _, smp := range p.Samples {
			var rate uint32
			var recs []sflow.FlowRecord
			switch v := smp.(type) {
			case sflow.FlowSample:
				rate, recs = v.SamplingRate, v.Records
			case sflow.ExpandedFlowSample:
				rate, recs = v.SamplingRate, v.Records
			default:
				continue
			}
			*r = Record{Start: ms, End: ms, Exporter: exporter, Protocol: SFlowV5}
			if fillSFlow(r, recs) {
				finish(rate)
			}
		}
	}
	if unrated {
		d.unannounced(s, SFlowV5, d.rate(s, 0))
	} else if rated {
		s.announced()
	}
	d.delivered(s, SFlowV5, n)
	return nil
}

// sflowScratch is what one sFlow datagram's decode reuses: the record
// handed to emit and the list of its flow samples (sflowSamples).
type sflowScratch struct {
	r       Record
	samples []sflowFlowSample
}

var sflowScratches = sync.Pool{New: func() any { return new(sflowScratch) }}

// put returns the scratch to the pool, dropping its references to the datagram.
func (sc *sflowScratch) put() {
	clear(sc.samples[:cap(sc.samples)])
	sflowScratches.Put(sc)
}

// fillSFlow takes addresses, ports and length from a sample's records: the
// sampled header when it parses, else the sampled_ipv4/ipv6 record.
func fillSFlow(r *Record, recs []sflow.FlowRecord) bool {
	var fromIP *sflow.SampledIPBase
	for i := range recs {
		switch v := recs[i].Data.(type) {
		case sflow.SampledHeader:
			var ok bool
			switch v.Protocol {
			case sflowHeaderEthernet:
				ok = parseEthernet(r, v.HeaderData)
			case sflowHeaderIPv4, sflowHeaderIPv6:
				ok = parseIP(r, v.HeaderData)
			}
			if ok {
				r.Bytes = uint64(v.FrameLength)
				return true
			}
		case sflow.SampledIPv4:
			fromIP = &v.SampledIPBase
		case sflow.SampledIPv6:
			fromIP = &v.SampledIPBase
		}
	}
	if fromIP == nil {
		return false
	}
	r.Src, _ = netip.AddrFromSlice(fromIP.SrcIP)
	r.Dst, _ = netip.AddrFromSlice(fromIP.DstIP)
	r.Proto = uint8(fromIP.Protocol)
	r.SrcPort, r.DstPort = uint16(fromIP.SrcPort), uint16(fromIP.DstPort)
	r.TCPFlags = uint8(fromIP.TcpFlags)
	r.Bytes = uint64(fromIP.Length)
	return r.Src.IsValid() && r.Dst.IsValid()
}

// recordsCountAt is where each sample format keeps its record count, counted
// from the start of the sample body (ok false for other formats).
func recordsCountAt(format uint32) (at int, ok bool) {
	switch format {
	case 1:
		return 28, true
	case 2:
		return 8, true
	case 3:
		return 40, true
	case 4:
		return 12, true
	}
	return 0, false
}

// sflowAgentEnd is the offset just past an sFlow v5 datagram's agent
// address (IPv4 or IPv6); ok is false for any other address type.
func sflowAgentEnd(b []byte) (off int, ok bool) {
	switch binary.BigEndian.Uint32(b[4:]) {
	case 1:
		return 8 + 4, true
	case 2:
		return 8 + 16, true
	}
	return 0, false
}

// checkSFlowCounts rejects a datagram whose sample or record counts cannot fit
// its length. goflow2 allocates what the counts say before reading (without a
// cap for expanded flow samples), so a 300-byte datagram could ask for gigabytes.
func checkSFlowCounts(b []byte) error {
	off, ok := sflowAgentEnd(b)
	if !ok {
		return fmt.Errorf("agent address type %d", binary.BigEndian.Uint32(b[4:]))
	}
	if off+16 > len(b) {
		return fmt.Errorf("%d bytes, header needs %d", len(b), off+16)
	}
	samples := int(binary.BigEndian.Uint32(b[off+12:]))
	off += 16
	if samples*8 > len(b)-off {
		return fmt.Errorf("%d samples cannot fit %d bytes", samples, len(b)-off)
	}
	for i := 0; i < samples && off+8 <= len(b); i++ {
		format := binary.BigEndian.Uint32(b[off:]) & 0xfff
		length := int(binary.BigEndian.Uint32(b[off+4:]))
		body := off + 8
		if length > len(b)-body {
			return fmt.Errorf("sample %d: length %d beyond the datagram", i, length)
		}
		if at, ok := recordsCountAt(format); ok && at+4 <= length {
			if n := int(binary.BigEndian.Uint32(b[body+at:])); n > (length-at-4)/8 {
				return fmt.Errorf("sample %d: %d records cannot fit %d bytes", i, n, length-at-4)
			}
		}
		off = body + length
	}
	return nil
}
