package flow

import (
	"encoding/binary"
	"net/netip"
)

// A minimal parser of sampled packet headers (Ethernet, VLAN, IPv4, IPv6,
// TCP, UDP): it reads only the fields a Record holds and allocates nothing,
// which gopacket's layer decoding would not give us on the hot path.

func parseEthernet(r *Record, b []byte) bool {
	if len(b) < 14 {
		return false
	}
	et := binary.BigEndian.Uint16(b[12:])
	b = b[14:]
	for (et == 0x8100 || et == 0x88a8 || et == 0x9100) && len(b) >= 4 {
		et = binary.BigEndian.Uint16(b[2:])
		b = b[4:]
	}
	if et != 0x0800 && et != 0x86dd {
		return false
	}
	return parseIP(r, b)
}

func parseIP(r *Record, b []byte) bool {
	if len(b) < 1 {
		return false
	}
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0x0f) * 4
		if len(b) < 20 || ihl < 20 {
			return false
		}
		r.Proto = b[9]
		r.Src = netip.AddrFrom4([4]byte(b[12:16]))
		r.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 || len(b) < ihl {
			return true // later fragment: no transport header
		}
		parseTransport(r, b[ihl:])
		return true
	case 6:
		if len(b) < 40 {
			return false
		}
		r.Src = netip.AddrFrom16([16]byte(b[8:24]))
		r.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		next, rest := b[6], b[40:]
		// Skip hop-by-hop, routing and destination options headers.
		for (next == 0 || next == 43 || next == 60) && len(rest) >= 8 {
			l := (int(rest[1]) + 1) * 8
			if len(rest) < l {
				break
			}
			next, rest = rest[0], rest[l:]
		}
		r.Proto = next
		parseTransport(r, rest)
		return true
	}
	return false
}

func parseTransport(r *Record, b []byte) {
	switch r.Proto {
	case 6:
		if len(b) >= 14 {
			r.TCPFlags = b[13]
		}
		fallthrough
	case 17, 132:
		if len(b) >= 4 {
			r.SrcPort = binary.BigEndian.Uint16(b)
			r.DstPort = binary.BigEndian.Uint16(b[2:])
		}
	}
}
