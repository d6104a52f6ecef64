package intel

import "net/netip"

// Addr is the address of an IP, IP:port or resolved entry (invalid otherwise).
func (e *Entry) Addr() netip.Addr { return e.addr }

// Prefix is the range an entry covers: the CIDR itself, or the host route of
// an IP, IP:port or resolved entry (invalid for a domain).
func (e *Entry) Prefix() netip.Prefix {
	switch e.Kind {
	case KindCIDR:
		return e.prefix
	case KindIP, KindIPPort, KindResolvedIP:
		return hostRoute(e.addr)
	}
	return netip.Prefix{}
}

// Port is the port an IP:port (or domain:port) entry is limited to; 0: any port.
func (e *Entry) Port() uint16 { return e.port }
