package sim

import "net/netip"

// Hard negatives: ordinary programs whose flows share the miner's profile
// (one long-lived connection, small packets, a message every few tens of
// seconds, day and night). Their parameters are the programs' and
// protocols' published defaults (cited beside each and in
// exporter/scenarios/README.md), set without looking at what the scorer
// makes of them.

func init() {
	for name, b := range map[string]func(g *hostGen){
		"websocket":      websocketClient,
		"cloud-longpoll": cloudLongPoll,
		"bitcoin-node":   bitcoinNode,
		"ethereum-node":  ethereumNode,
		"mqtt-telemetry": mqttTelemetry,
		"sip-phone":      sipPhone,
	} {
		ordinaryBehaviours[name] = b
	}
}

// tcpOpen emits a TCP handshake and returns the client port; tcpClose the FIN.
func (g *hostGen) tcpOpen(srv [4]byte, sport uint16, t int64) uint16 {
	cp := g.port()
	g.exchange(addr4(srv), cp, sport, 6, t, 2, 112, 1, 60, tcpSYN|tcpACK)
	return cp
}

func (g *hostGen) tcpClose(srv [4]byte, cp, sport uint16, t int64) {
	g.exchange(addr4(srv), cp, sport, 6, t, 1, 52, 1, 52, tcpFIN|tcpACK)
}

// addr4 is a public address of a modelled peer.
func addr4(a [4]byte) netip.Addr { return netip.AddrFrom4(a) }

// connections runs back-to-back connections of about meanLen each while
// busy(t) says the program runs, and calls body for each one.
func (g *hostGen) connections(meanLen float64, busy func(t int64) bool, body func(start, end int64)) {
	for t := g.from + g.exp(60_000); t < g.to; {
		if !busy(t) {
			t += 15 * 60_000
			continue
		}
		end := min(t+10*60_000+g.exp(meanLen), g.to)
		body(t, end)
		t = end + g.exp(30_000)
	}
}

func (g *hostGen) daytime(t int64) bool { return g.activity(t) >= 0.25 }
func always(int64) bool                 { return true }

// websocketClient: a browser tab or desktop app holding a TLS WebSocket to
// its notification service while the PC is in use. Socket.IO's server pings
// every 25 s (pingInterval default 25000 ms, Socket.IO v4 server options)
// and the client answers; notifications are pushed at random, on average
// every 45 s (the "a push every 30–60 s"), a few hundred bytes each,
// acknowledged by TCP. Each WebSocket frame rides one TLS record (~29 B
// overhead) in one TCP segment (52 B of headers with timestamps).
func websocketClient(g *hostGen) {
	srv := [4]byte{150, 109, byte(g.rng.IntN(8)), byte(g.rng.IntN(250))}
	g.connections(3*3600_000, g.daytime, func(start, end int64) {
		cp := g.tcpOpen(srv, 443, start)
		// The upgrade: HTTP GET with Upgrade headers (~600 B) and the 101 answer (~250 B).
		g.exchange(addr4(srv), cp, 443, 6, start+100, 1, 52+600, 1, 52+250, tcpACK|tcpPSH)
		for t := start + 25_000; t < end; t += 25_000 {
			g.exchange(addr4(srv), cp, 443, 6, t, 1, 52+29+3, 1, 52+29+3, tcpACK|tcpPSH) // ping "2" / pong "3"
		}
		for t := start + g.exp(45_000); t < end; t += g.exp(45_000) {
			g.exchange(addr4(srv), cp, 443, 6, t, 1, 52, 1, 52+29+300, tcpACK|tcpPSH) // push, TCP ACK
		}
		g.tcpClose(srv, cp, 443, end)
	})
}

// cloudLongPoll: a sync client waiting for changes with HTTP long-polls on
// one keep-alive TLS connection, as Dropbox's files/list_folder/longpoll
// does: the server answers after the timeout (default 30 s) plus a random
// jitter of up to 90 s (Dropbox API v2 documentation), or earlier when
// something changed; the client asks again at once. Runs whenever the PC is
// on (all day for the desktop client).
func cloudLongPoll(g *hostGen) {
	srv := [4]byte{162, 125, byte(g.rng.IntN(4)), byte(g.rng.IntN(250))}
	g.connections(2*3600_000, always, func(start, end int64) {
		cp := g.tcpOpen(srv, 443, start)
		for t := start + 200; t < end; {
			g.exchange(addr4(srv), cp, 443, 6, t, 1, 52+29+450, 1, 52, tcpACK|tcpPSH) // POST longpoll, ACK
			t += 30_000 + g.rng.Int64N(90_000)
			g.exchange(addr4(srv), cp, 443, 6, t, 1, 52, 1, 52+29+280, tcpACK|tcpPSH) // {"changes": false}, ACK
			t += 50
		}
		g.tcpClose(srv, cp, 443, end)
	})
}

// bitcoinNode: a Bitcoin Core full node's outbound peers on 8333: 8
// full-relay and 2 block-relay-only connections (net.h:
// MAX_OUTBOUND_FULL_RELAY_CONNECTIONS = 8, MAX_BLOCK_RELAY_ONLY_CONNECTIONS
// = 2); a ping to each every 2 min (net_processing.cpp PING_INTERVAL);
// transaction inventory trickled to outbound full-relay peers on average
// every 2 s (OUTBOUND_INVENTORY_BROADCAST_INTERVAL), here gathered into one
// train of 5 inv messages every 10 s; a block every 10 min on average
// (Poisson), relayed as a BIP152 compact block of ~20 KB. Peers are kept
// for hours to days.
func bitcoinNode(g *hostGen) {
	for peer := range 10 {
		fullRelay := peer < 8
		g.connections(12*3600_000, always, func(start, end int64) {
			srv := [4]byte{byte(60 + g.rng.IntN(120)), byte(g.rng.IntN(250)), byte(g.rng.IntN(250)), byte(1 + g.rng.IntN(250))}
			cp := g.tcpOpen(srv, 8333, start)
			// version/verack/sendcmpct/feefilter/addr handshake, ~1 KB each way.
			g.exchange(addr4(srv), cp, 8333, 6, start+100, 6, 6*52+1000, 6, 6*52+1100, tcpACK|tcpPSH)
			for t := start + 120_000; t < end; t += 120_000 {
				g.exchange(addr4(srv), cp, 8333, 6, t, 1, 52+32, 1, 52+32, tcpACK|tcpPSH) // ping / pong (24 B header + 8 B nonce)
			}
			if fullRelay {
				for t := start + 10_000; t < end; t += 10_000 {
					// inv of ~3 transactions each way (24 + 1 + 3×36 B), then getdata/tx for some.
					g.exchange(addr4(srv), cp, 8333, 6, t, 5, 5*(52+133), 5, 5*(52+133), tcpACK|tcpPSH)
				}
			}
			for t := start + g.exp(600_000); t < end; t += g.exp(600_000) {
				g.exchange(addr4(srv), cp, 8333, 6, t, 4, 4*52, 15, 20_000+15*52, tcpACK|tcpPSH) // cmpctblock
			}
			g.tcpClose(srv, cp, 8333, end)
		})
	}
}

// ethereumNode: a go-ethereum execution client's devp2p peers on 30303.
// geth keeps up to 50 peers (--maxpeers default 50), a third of them dialed
// out; 8 outbound peers are modelled here. devp2p pings every 15 s
// (p2p/peer.go pingInterval); since the Merge, blocks come from the
// consensus client and the execution peers gossip transactions: announcements
// (eth/68 NewPooledTransactionHashes) and fetches, here one train every 5 s.
// Node discovery (discv4/discv5 over UDP 30303) asks a few random nodes a
// minute (FINDNODE/NODES, ~150 and ~1,200 B).
func ethereumNode(g *hostGen) {
	for range 8 {
		g.connections(6*3600_000, always, func(start, end int64) {
			srv := [4]byte{byte(60 + g.rng.IntN(120)), byte(g.rng.IntN(250)), byte(g.rng.IntN(250)), byte(1 + g.rng.IntN(250))}
			cp := g.tcpOpen(srv, 30303, start)
			g.exchange(addr4(srv), cp, 30303, 6, start+100, 3, 3*52+600, 3, 3*52+650, tcpACK|tcpPSH) // RLPx auth + hello + status
			for t := start + 15_000; t < end; t += 15_000 {
				g.exchange(addr4(srv), cp, 30303, 6, t, 1, 52+40, 1, 52+40, tcpACK|tcpPSH) // ping / pong frames
			}
			for t := start + 5_000; t < end; t += 5_000 {
				g.exchange(addr4(srv), cp, 30303, 6, t, 3, 3*(52+180), 3, 3*(52+400), tcpACK|tcpPSH) // tx hashes, pooled txs
			}
			g.tcpClose(srv, cp, 30303, end)
		})
	}
	for t := g.from + g.exp(20_000); t < g.to; t += g.exp(20_000) {
		srv := [4]byte{byte(60 + g.rng.IntN(120)), byte(g.rng.IntN(250)), byte(g.rng.IntN(250)), byte(1 + g.rng.IntN(250))}
		g.exchange(addr4(srv), 30303, 30303, 17, t, 1, 28+150, 1, 28+1200, 0)
	}
}

// mqttTelemetry: a sensor of a fleet publishing to its broker over plain
// MQTT (1883), one reading every 5 min at QoS 1 (PUBLISH ~120 B, PUBACK 4
// B), and PINGREQ/PINGRESP (2 B each) when nothing else was sent within the
// keepalive, 60 s (the default keepAliveInterval of the Eclipse Paho
// clients and of mosquitto_pub/sub; MQTT 3.1.1 §3.1.2.10). The connection
// lives for days.
func mqttTelemetry(g *hostGen) {
	srv := [4]byte{47, 97, byte(g.rng.IntN(4)), byte(g.rng.IntN(250))}
	g.connections(24*3600_000, always, func(start, end int64) {
		cp := g.tcpOpen(srv, 1883, start)
		g.exchange(addr4(srv), cp, 1883, 6, start+50, 1, 52+60, 1, 52+4, tcpACK|tcpPSH) // CONNECT / CONNACK
		next := start + g.rng.Int64N(300_000)
		for t := start + 60_000; t < end; t += 60_000 {
			if t >= next {
				g.exchange(addr4(srv), cp, 1883, 6, t, 1, 52+120, 1, 52+4, tcpACK|tcpPSH) // PUBLISH / PUBACK
				next += 300_000
				continue
			}
			g.exchange(addr4(srv), cp, 1883, 6, t, 1, 52+2, 1, 52+2, tcpACK|tcpPSH) // PINGREQ / PINGRESP
		}
		g.tcpClose(srv, cp, 1883, end)
	})
}

// sipPhone: a desk IP phone registered over SIP/TCP 5060: CRLF keep-alives
// every 95–120 s on the connection (RFC 5626 §4.4.1 for connection-oriented
// transports), a re-REGISTER every half hour for the 3600 s default
// registration (RFC 3261 §10.2.1), and calls while people are in: RTP at 20
// ms packetisation, 50 packets/s each way of 200 B (G.711: 160 B payload +
// 12 RTP + 8 UDP + 20 IP; RFC 3551), with RTCP every 5 s (RFC 3550 §6.2).
func sipPhone(g *hostGen) {
	srv := [4]byte{117, 135, byte(g.rng.IntN(4)), byte(g.rng.IntN(250))}
	g.connections(24*3600_000, always, func(start, end int64) {
		cp := g.tcpOpen(srv, 5060, start)
		for t := start + 95_000 + g.rng.Int64N(25_000); t < end; t += 95_000 + g.rng.Int64N(25_000) {
			g.exchange(addr4(srv), cp, 5060, 6, t, 1, 52+4, 1, 52+2, tcpACK|tcpPSH) // CRLFCRLF / CRLF
		}
		for t := start + 100; t < end; t += 1800_000 {
			g.exchange(addr4(srv), cp, 5060, 6, t, 2, 2*52+700, 2, 2*52+900, tcpACK|tcpPSH) // REGISTER, 401, REGISTER, 200
		}
		g.tcpClose(srv, cp, 5060, end)
	})
	g.sessions(0.3, func(t int64) {
		media := addr4([4]byte{117, 135, 200, byte(g.rng.IntN(250))})
		end := t + 30_000 + g.exp(3*60_000)
		g.udpSession(media, 20000, t, end, 1_000, msg{50, 50 * 200, 50, 50 * 200})
		g.udpSession(media, 20001, t, end, 5_000, msg{1, 28 + 84, 1, 28 + 84}) // RTCP SR/RR
	})
}
