package sim

import "net/netip"

// stratum describes one miner's Stratum cadence.
type stratum struct {
	jobGap   float64 // mean ms between job notifications (block time / pool job refresh)
	shareGap float64 // mean ms between share submissions (pool vardiff target)
	extra    uint64  // bytes added per message (TLS record overhead)
	donate   bool    // XMRig's donation session
	idleOnly bool    // trojan: only while the PC is idle
}

var minerBehaviours = map[string]stratum{
	// ETC/RVN-style GPU rig: job every ~13-60 s (ETC ~13 s blocks; take 30 s), shares ~every 15 s.
	"gpu-stratum": {jobGap: 30_000, shareGap: 15_000},
	// XMRig CPU miner: Monero ~120 s blocks → jobs, vardiff aims at ~30 s shares, 60 s keepalive, 1 % donation.
	"xmrig":       {jobGap: 120_000, shareGap: 30_000, donate: true},
	"xmrig-tls":   {jobGap: 120_000, shareGap: 30_000, extra: 29, donate: true},
	"xmrig-proxy": {jobGap: 120_000, shareGap: 30_000},
	"trojan-idle": {jobGap: 120_000, shareGap: 60_000, donate: true, idleOnly: true},
}

// ExpectedClass is the class hint a perfect scorer would give.
func ExpectedClass(behaviour string) string {
	switch behaviour {
	case "trojan-idle":
		return "passive"
	case "research-gpu":
		return "research"
	}
	if _, ok := minerBehaviours[behaviour]; ok {
		return "active"
	}
	return "none"
}

// mine runs machines miners behind the host's address from start to end,
// each on its own Stratum TCP connection (reconnecting every few hours).
// It returns the spans it actually mined.
func (g *hostGen) mine(st stratum, pool netip.Addr, port uint16, donate netip.Addr, machines int, start, end int64) [][2]int64 {
	if start < g.from {
		start = g.from
	}
	if end > g.to {
		end = g.to
	}
	var spans [][2]int64
	if st.idleOnly {
		for t := start; t < end; {
			for t < end && !g.idle(t) {
				t += 60_000
			}
			s := t
			for t < end && g.idle(t) {
				t += 60_000
			}
			if t > end {
				t = end
			}
			if t > s {
				spans = append(spans, [2]int64{s, t})
			}
		}
	} else if end > start {
		spans = append(spans, [2]int64{start, end})
	}
	for _, sp := range spans {
		for range machines {
			g.stratumSpan(st, pool, port, sp[0]+g.rng.Int64N(5_000), sp[1])
		}
		if st.donate && donate.IsValid() {
			// donate-level 1: 1 minute in every 100, first after a random 80-120 min.
			for t := sp[0] + 80*60_000 + g.rng.Int64N(40*60_000); t+60_000 < sp[1]; t += 80*60_000 + g.rng.Int64N(40*60_000) {
				g.stratumSpan(st, donate, 3333, t, t+60_000)
			}
		}
	}
	return spans
}

func (g *hostGen) stratumSpan(st stratum, pool netip.Addr, port uint16, start, end int64) {
	for s := start; s < end; {
		e := s + 3*3600_000 + g.exp(6*3600_000) // pools and NAT tables drop connections now and then
		if e > end {
			e = end
		}
		g.stratumConn(st, pool, port, s, e)
		s = e + 2_000
	}
}

// stratumConn: login, then job notifications down, share submits up, and a
// keepalive when nothing was sent for 60 s (XMRig's keepalive).
func (g *hostGen) stratumConn(st stratum, pool netip.Addr, port uint16, start, end int64) {
	if start >= end {
		return
	}
	cp := g.port()
	x := st.extra
	g.exchange(pool, cp, port, 6, start, 2, 112, 1, 60, tcpSYN|tcpACK)
	g.exchange(pool, cp, port, 6, start+100, 1, 300+x, 1, 600+x, tcpACK|tcpPSH) // login + first job
	nextJob, nextShare, lastUp := start+g.exp(st.jobGap), start+g.exp(st.shareGap), start
	for {
		t := min(nextJob, nextShare, lastUp+60_000)
		if t >= end {
			break
		}
		switch t {
		case nextJob:
			g.exchange(pool, cp, port, 6, t, 1, 52, 1, 380+x, tcpACK|tcpPSH) // job push, ACK
			nextJob = t + g.exp(st.jobGap)
		case nextShare:
			g.exchange(pool, cp, port, 6, t, 1, 220+x, 1, 110+x, tcpACK|tcpPSH) // submit, result
			nextShare = t + g.exp(st.shareGap)
			lastUp = t
		default:
			g.exchange(pool, cp, port, 6, t, 1, 120+x, 1, 110+x, tcpACK|tcpPSH) // keepalived
			lastUp = t
		}
	}
	g.exchange(pool, cp, port, 6, end, 1, 52, 1, 52, tcpFIN|tcpACK)
}
