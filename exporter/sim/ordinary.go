package sim

// ordinaryBehaviours are what ordinary hosts do; parameters are typical
// figures (packet sizes, session lengths), documented in exporter/scenarios/README.md.
var ordinaryBehaviours = map[string]func(g *hostGen){
	"web": func(g *hostGen) { // HTTPS page loads: short TCP sessions, bursts of large packets down
		g.sessions(12, func(t int64) {
			srv := remote([2]byte{23, 45}, g.rng.IntN(4000))
			g.tcpSession(srv, 443, t, t+2_000+g.exp(20_000), 3_000, msg{6, 600, 20, 20 * 1400})
		})
	},
	"video": func(g *hostGen) { // streaming: a segment fetch every ~4 s for several minutes
		g.sessions(0.3, func(t int64) {
			srv := remote([2]byte{58, 222}, g.rng.IntN(200))
			g.tcpSession(srv, 443, t, t+g.exp(20*60_000), 4_000, msg{20, 20 * 52, 700, 700 * 1400})
		})
	},
	"cloud": func(g *hostGen) { // cloud sync and updates: periodic polls plus an occasional bulk transfer
		g.sessions(0.5, func(t int64) {
			srv := remote([2]byte{40, 77}, g.rng.IntN(50))
			g.tcpSession(srv, 443, t, t+g.exp(60_000), 1_000, msg{10, 10 * 900, 60, 60 * 1400})
		})
	},
	"game": func(g *hostGen) { // online games: long UDP sessions at 20-60 packets/s each way, small packets
		g.sessions(0.4, func(t int64) {
			srv := remote([2]byte{119, 28}, g.rng.IntN(100))
			g.udpSession(srv, 7000+uint16(g.rng.IntN(1000)), t, t+30*60_000+g.exp(60*60_000), 1_000, msg{30, 30 * 90, 30, 30 * 160})
			g.tcpSession(srv, 443, t, t+30*60_000, 20_000, msg{1, 120, 1, 200}) // lobby/chat connection
		})
	},
	"voip": func(g *hostGen) { // VoIP and video calls: RTP 50 packets/s each way
		g.sessions(0.5, func(t int64) {
			srv := remote([2]byte{101, 91}, g.rng.IntN(100))
			g.udpSession(srv, 8801, t, t+5*60_000+g.exp(25*60_000), 1_000, msg{50, 50 * 200, 50, 50 * 220})
		})
	},
	"mqtt": func(g *hostGen) { // IoT: one MQTT connection all day, PINGREQ every 60 s (a common keepalive), tiny packets
		srv := remote([2]byte{47, 96}, g.rng.IntN(10))
		for t := g.from + g.exp(60_000); t < g.to; t += 4*3600_000 + g.exp(3600_000) {
			g.tcpSession(srv, 8883, t, t+4*3600_000, 60_000, msg{1, 66, 1, 54})
		}
	},
	"ssh": func(g *hostGen) { // interactive SSH: long sessions of small keystroke packets
		g.sessions(0.3, func(t int64) {
			srv := remote([2]byte{121, 40}, g.rng.IntN(30))
			g.tcpSession(srv, 22, t, t+10*60_000+g.exp(2*3600_000), 5_000, msg{4, 4 * 90, 4, 4 * 120})
		})
	},
	"rdp": func(g *hostGen) { // remote desktop: screen updates while in use
		g.sessions(0.3, func(t int64) {
			srv := remote([2]byte{121, 41}, g.rng.IntN(30))
			g.tcpSession(srv, 3389, t, t+20*60_000+g.exp(2*3600_000), 1_000, msg{8, 8 * 100, 15, 15 * 900})
		})
	},
	"dns": func(g *hostGen) { // DNS lookups to the campus resolver's upstream
		g.sessions(15, func(t int64) {
			g.exchange(remote([2]byte{114, 114}, 114), g.port(), 53, 17, t, 1, 70, 1, 130, 0)
		})
	},
	"ntp": func(g *hostGen) { // NTP: one poll every 1024 s (ntpd's maximum poll interval)
		srv := remote([2]byte{120, 25}, 115)
		for t := g.from + g.exp(1024_000); t < g.to; t += 1024_000 {
			g.exchange(srv, 123, 123, 17, t, 1, 76, 1, 76, 0)
		}
	},
	"research-gpu": func(g *hostGen) { // research jobs: download a data set, then a long job with periodic checkpoints to storage
		for t := g.from + g.exp(6*3600_000); t < g.to; t += 2*24*3600_000 + g.exp(24*3600_000) {
			srv := remote([2]byte{202, 38}, g.rng.IntN(20))
			g.tcpSession(srv, 443, t, t+20*60_000, 1_000, msg{200, 200 * 52, 2000, 2000 * 1400})
			end := t + 24*3600_000 + g.exp(24*3600_000)
			g.tcpSession(srv, 22, t+20*60_000, end, 30_000, msg{3, 3 * 100, 3, 3 * 140}) // job monitoring session
			for c := t + 3600_000; c < end; c += 3600_000 {
				g.tcpSession(srv, 443, c, c+30_000, 1_000, msg{300, 300 * 1400, 150, 150 * 52})
			}
		}
	},
}
