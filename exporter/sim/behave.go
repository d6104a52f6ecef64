package sim

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// hostGen generates one host's packet trains; it never looks at other hosts,
// so hosts can be generated independently and deterministically.
type hostGen struct {
	rng      *rand.Rand
	ip       netip.Addr
	kind     string
	from, to int64 // ms
	loc      *time.Location
	nextPort uint16
	out      func(*Train)
}

func (g *hostGen) port() uint16 {
	g.nextPort++
	if g.nextPort < 32768 {
		g.nextPort = 32768 + uint16(g.rng.IntN(20000))
	}
	return g.nextPort
}

// activity is how busy a person at this kind of host is at time t (0..1):
// school and office hours on weekdays, a little in the evening, little at weekends.
func (g *hostGen) activity(t int64) float64 {
	lt := time.UnixMilli(t).In(g.loc)
	h := lt.Hour()
	weekend := lt.Weekday() == time.Saturday || lt.Weekday() == time.Sunday
	switch g.kind {
	case "server", "iot":
		return 1
	}
	var a float64
	switch {
	case h >= 8 && h < 12, h >= 14 && h < 18:
		a = 1
	case h >= 12 && h < 14:
		a = 0.6
	case h >= 18 && h < 23:
		a = 0.25
	default:
		a = 0.02
	}
	if weekend {
		a *= 0.15
	}
	return a
}

// idle says a trojan miner may run: nights and weekends, when nobody uses the PC.
func (g *hostGen) idle(t int64) bool {
	lt := time.UnixMilli(t).In(g.loc)
	if lt.Weekday() == time.Saturday || lt.Weekday() == time.Sunday {
		return true
	}
	return lt.Hour() >= 19 || lt.Hour() < 7
}

func (g *hostGen) exp(meanMs float64) int64 { return int64(g.rng.ExpFloat64()*meanMs) + 1 }

// remote picks a deterministic-looking public server address from a seed.
func remote(base [2]byte, n int) netip.Addr {
	return netip.AddrFrom4([4]byte{base[0], base[1], byte(n >> 8), byte(n)})
}

// exchange emits one request/response: up packets from the host, down packets back.
func (g *hostGen) exchange(srv netip.Addr, cport, sport uint16, proto uint8, t int64, upPk uint32, upB uint64, downPk uint32, downB uint64, flags uint8) {
	up := Key{Src: g.ip, Dst: srv, SrcPort: cport, DstPort: sport, Proto: proto}
	dn := Key{Src: srv, Dst: g.ip, SrcPort: sport, DstPort: cport, Proto: proto}
	if proto != 6 {
		flags = 0
	}
	if upPk > 0 {
		g.out(&Train{Key: up, T: t, Packets: upPk, Bytes: upB, Flags: flags})
	}
	if downPk > 0 {
		g.out(&Train{Key: dn, T: t + 20, Packets: downPk, Bytes: downB, Flags: flags})
	}
}

// tcpSession is a TCP connection from start to end with a message exchange
// every interval (exponentially distributed around the mean when jitter):
// handshake, ACK/PSH messages, FIN.
type msg struct {
	upPk   uint32
	upB    uint64
	downPk uint32
	downB  uint64
}

func (g *hostGen) tcpSession(srv netip.Addr, sport uint16, start, end int64, meanGap float64, m msg) {
	if start < g.from {
		start = g.from
	}
	if end > g.to {
		end = g.to
	}
	if end <= start {
		return
	}
	cp := g.port()
	g.exchange(srv, cp, sport, 6, start, 2, 112, 1, 60, tcpSYN|tcpACK)
	for t := start + g.exp(meanGap); t < end; t += g.exp(meanGap) {
		g.exchange(srv, cp, sport, 6, t, m.upPk, m.upB, m.downPk, m.downB, tcpACK|tcpPSH)
	}
	g.exchange(srv, cp, sport, 6, end, 1, 52, 1, 52, tcpFIN|tcpACK)
}

// udpSession is a UDP conversation with a steady packet rate.
func (g *hostGen) udpSession(srv netip.Addr, sport uint16, start, end int64, stepMs int64, m msg) {
	if end > g.to {
		end = g.to
	}
	cp := g.port()
	for t := start; t < end; t += stepMs {
		g.exchange(srv, cp, sport, 17, t, m.upPk, m.upB, m.downPk, m.downB, 0)
	}
}

// sessions starts Poisson(perHour*activity) sessions in each hour of the span.
func (g *hostGen) sessions(perHour float64, start func(t int64)) {
	for h := g.from; h < g.to; h += 3600_000 {
		lambda := perHour * g.activity(h)
		if lambda <= 0 {
			continue
		}
		for t := h + g.exp(3600_000/lambda); t < h+3600_000 && t < g.to; t += g.exp(3600_000 / lambda) {
			start(t)
		}
	}
}
