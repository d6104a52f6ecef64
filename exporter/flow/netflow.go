package flow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
)

const (
	v5HeaderLen = 24
	v5RecordLen = 48
)

// DecodeNetFlow decodes one NetFlow v5, v9 or IPFIX datagram (version detected
// from its first bytes) sent by src and received at recv. emit gets every flow
// record; the *Record is reused after emit returns, and emit must not change
// its Exporter or Protocol (the decoder writes them once a datagram; the
// other fields emit may change). Errors are also counted and
// logged (rate-limited) by the decoder, so callers may ignore them.
// With a template_missing error, the records of the sets that could be decoded
// were still emitted.
func (d *Decoder) DecodeNetFlow(src netip.AddrPort, recv time.Time, payload []byte, emit func(*Record)) error {
	if len(payload) < 2 {
		s, err := d.start(src, recv, Protocol(0), payload)
		if err != nil {
			return err
		}
		return d.fail(s, Protocol(0), ReasonTruncated, fmt.Errorf("%d bytes, no version", len(payload)))
	}
	switch binary.BigEndian.Uint16(payload) {
	case 5:
		return d.decodeV5(src, recv, payload, emit)
	case 9:
		return d.decodeTemplated(src, recv, payload, NetFlowV9, emit)
	case 10:
		return d.decodeTemplated(src, recv, payload, IPFIX, emit)
	}
	s, err := d.start(src, recv, Protocol(0), payload)
	if err != nil {
		return err
	}
	return d.fail(s, Protocol(0), ReasonWrongVersion, fmt.Errorf("NetFlow/IPFIX version %d", binary.BigEndian.Uint16(payload)))
}

func (d *Decoder) decodeV5(src netip.AddrPort, recv time.Time, payload []byte, emit func(*Record)) error {
	s, err := d.start(src, recv, NetFlowV5, payload)
	if err != nil {
		return err
	}
	if len(payload) < v5HeaderLen {
		return d.fail(s, NetFlowV5, ReasonTruncated, fmt.Errorf("%d bytes, header needs %d", len(payload), v5HeaderLen))
	}
	// goflow2 allocates Count records before reading them: check the count
	// against the length first, so a corrupt header cannot ask for 65535.
	count := int(binary.BigEndian.Uint16(payload[2:]))
	if count == 0 || count > 30 {
		return d.fail(s, NetFlowV5, ReasonMalformed, fmt.Errorf("record count %d outside 1..30", count))
	}
	if need := v5HeaderLen + count*v5RecordLen; len(payload) < need {
		return d.fail(s, NetFlowV5, ReasonTruncated, fmt.Errorf("%d records need %d bytes, have %d", count, need, len(payload)))
	}
	if !d.slowOnly {
		d.decodeV5InPlace(s, src, recv, payload[:v5HeaderLen+count*v5RecordLen], emit)
		return nil
	}
	var p netflowlegacy.PacketNetFlowV5
	if err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(payload), &p); err != nil {
		return d.fail(s, NetFlowV5, reasonOf(err), err)
	}
	rate := d.rate(s, uint32(p.SamplingInterval&0x3fff))
	exporter := src.Addr().Unmap()
	exportMs := int64(p.UnixSecs)*1000 + int64(p.UnixNSecs)/1e6
	clk := d.clock(s, NetFlowV5, exportMs, recv)
	clk.unrated, clk.rated = p.SamplingInterval&0x3fff == 0, p.SamplingInterval&0x3fff != 0
	var r Record
	for i := range p.Records {
		v := &p.Records[i]
		r = Record{
			Start:        exportMs - int64(int32(p.SysUptime-v.First)),
			End:          exportMs - int64(int32(p.SysUptime-v.Last)),
			Src:          addr4(uint32(v.SrcAddr)),
			Dst:          addr4(uint32(v.DstAddr)),
			SrcPort:      v.SrcPort,
			DstPort:      v.DstPort,
			Proto:        v.Proto,
			TCPFlags:     v.TCPFlags,
			Packets:      uint64(v.DPkts) * uint64(rate),
			Bytes:        uint64(v.DOctets) * uint64(rate),
			SamplingRate: rate,
			Exporter:     exporter,
			Protocol:     NetFlowV5,
		}
		if !clk.keeps(&r) {
			clk.refused(d, s, &r)
			continue
		}
		clk.correct(&r)
		emit(&r)
	}
	clk.flush(d, s, NetFlowV5)
	d.delivered(s, NetFlowV5, len(p.Records))
	return nil
}

// decodeV5InPlace reads a checked v5 datagram (header and exactly its count
// of records) from its bytes: goflow2's decoder allocates the records and
// reads each field through reflection. The two are compared by
// FuzzDecodeNetFlow and the real v5 payloads (slowOnly takes goflow2's).
func (d *Decoder) decodeV5InPlace(s *source, src netip.AddrPort, recv time.Time, b []byte, emit func(*Record)) {
	be := binary.BigEndian
	uptime := be.Uint32(b[4:])
	interval := be.Uint16(b[22:]) & 0x3fff
	rate := d.rate(s, uint32(interval))
	exporter := src.Addr().Unmap()
	exportMs := int64(be.Uint32(b[8:]))*1000 + int64(be.Uint32(b[12:]))/1e6
	clk := d.clock(s, NetFlowV5, exportMs, recv)
	clk.unrated, clk.rated = interval == 0, interval != 0
	n := 0
	r := recordPool.Get().(*Record) // reused: emit must not keep it (templated.go)
	defer recordPool.Put(r)
	for off := v5HeaderLen; off+v5RecordLen <= len(b); off += v5RecordLen {
		v := b[off : off+v5RecordLen]
		*r = Record{
			Start:        exportMs - int64(int32(uptime-be.Uint32(v[24:]))),
			End:          exportMs - int64(int32(uptime-be.Uint32(v[28:]))),
			Src:          netip.AddrFrom4([4]byte(v[0:4])),
			Dst:          netip.AddrFrom4([4]byte(v[4:8])),
			SrcPort:      be.Uint16(v[32:]),
			DstPort:      be.Uint16(v[34:]),
			TCPFlags:     v[37],
			Proto:        v[38],
			Packets:      uint64(be.Uint32(v[16:])) * uint64(rate),
			Bytes:        uint64(be.Uint32(v[20:])) * uint64(rate),
			SamplingRate: rate,
			Exporter:     exporter,
			Protocol:     NetFlowV5,
		}
		n++
		if !clk.keeps(r) {
			clk.refused(d, s, r)
			continue
		}
		clk.correct(r)
		emit(r)
	}
	clk.flush(d, s, NetFlowV5)
	d.delivered(s, NetFlowV5, n)
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// reasonOf classifies an error of goflow2's decoders.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonTruncated
	case errors.Is(err, errTemplateLimit):
		return ReasonTemplateLimit
	case errors.Is(err, netflow.ErrorTemplateNotFound):
		return ReasonTemplateMissing
	}
	return ReasonMalformed
}
