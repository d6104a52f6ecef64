package encode

import (
	"encoding/binary"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Fixed locally administered MACs: the sampled header needs some.
var (
	srcMAC = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	dstMAC = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}
)

// header appends Ethernet, IPv4 or IPv6, and TCP or UDP headers carrying the
// record's addresses, ports and flags, with lengths matching frameLen.
func header(b []byte, r *flow.Record) []byte {
	v6 := !r.Src.Is4() || !r.Dst.Is4()
	frame := int(frameLen(r)) - 4 // without FCS
	b = append(b, dstMAC[:]...)
	b = append(b, srcMAC[:]...)
	l4 := 0
	switch r.Proto {
	case 6:
		l4 = 20
	case 17:
		l4 = 8
	}
	ipLen := frame - 14
	if v6 {
		b = be16(b, 0x86dd)
		b = append(b, 0x60, 0, 0, 0)
		b = be16(b, uint16(max(ipLen-40, l4)))
		b = append(b, r.Proto, 64)
		b = addr16(b, r.Src)
		b = addr16(b, r.Dst)
	} else {
		b = be16(b, 0x0800)
		ip := len(b)
		b = append(b, 0x45, 0)
		b = be16(b, uint16(max(ipLen, 20+l4)))
		b = append(b, 0, 0, 0x40, 0, 64, r.Proto, 0, 0) // id, DF, ttl, proto, csum
		b = addr4(b, r.Src)
		b = addr4(b, r.Dst)
		binary.BigEndian.PutUint16(b[ip+10:], ipChecksum(b[ip:ip+20]))
	}
	switch r.Proto {
	case 6:
		b = be16(b, r.SrcPort)
		b = be16(b, r.DstPort)
		b = append(b, 0, 0, 0, 1, 0, 0, 0, 1) // seq, ack
		b = append(b, 0x50, r.TCPFlags)
		b = append(b, 0xff, 0xff, 0, 0, 0, 0) // window, checksum (not computed), urgent
	case 17:
		b = be16(b, r.SrcPort)
		b = be16(b, r.DstPort)
		b = be16(b, uint16(max(ipLen-ipHdr(v6), 8)))
		b = be16(b, 0)
	}
	return b
}

func ipHdr(v6 bool) int {
	if v6 {
		return 40
	}
	return 20
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
