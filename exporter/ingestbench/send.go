package ingestbench

import (
	"context"
	"net"
	"time"

	"golang.org/x/net/ipv4"
)

// Sent is what the sender put on the wire.
type Sent struct {
	Datagrams int64
	Records   int64
	Bytes     uint64
	Elapsed   time.Duration
}

// sendBatch is how many datagrams one sendmmsg call hands the kernel. One
// write call a datagram cost the sender more than the kernel's own work on
// loopback, so a single sending core could not reach the fastest receivers'
// edge (nfcapd's figures were lower bounds); a batch of this size makes the
// syscall's share small while a millisecond's burst still spans several calls.
const sendBatch = 64

// Send replays t's datagrams in a loop to dst at rate records/s for dur
// (stopping early when ctx ends). Datagrams go out in bursts every
// millisecond, so the rate holds on average over any few milliseconds.
func Send(ctx context.Context, dst *net.UDPAddr, t *Traffic, rate float64, dur time.Duration) (Sent, error) {
	conn, err := net.DialUDP("udp", nil, dst)
	if err != nil {
		return Sent{}, err
	}
	defer conn.Close()
	conn.SetWriteBuffer(8 << 20) //nolint:errcheck // best effort
	pc := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, sendBatch)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	var s Sent
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	i := 0
	for {
		el := time.Since(start)
		if el >= dur || ctx.Err() != nil {
			break
		}
		due := int64(rate * el.Seconds())
		for s.Records < due {
			// Fill a batch with the datagrams due, at most sendBatch.
			n := 0
			for ; s.Records < due && n < len(msgs); n++ {
				msgs[n].Buffers[0] = t.Datagrams[i]
				s.Datagrams++
				s.Records += int64(t.Records[i])
				s.Bytes += t.Bytes[i]
				if i++; i == len(t.Datagrams) {
					i = 0
				}
			}
			// Every datagram of the batch counts as sent, even those the
			// kernel refused (ECONNREFUSED after an ICMP port-unreachable:
			// the receiver was not there): they are sent and lost, as with
			// the one-write sender before. A short count without an error
			// leaves the rest to send.
			for m := msgs[:n]; len(m) > 0; {
				w, err := pc.WriteBatch(m, 0)
				if err != nil || w <= 0 {
					break
				}
				m = m[w:]
			}
		}
		<-tick.C
	}
	s.Elapsed = time.Since(start)
	return s, nil
}
