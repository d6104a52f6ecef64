package ingestbench

import (
	"context"
	"net"
	"time"
)

// Sent is what the sender put on the wire.
type Sent struct {
	Datagrams int64
	Records   int64
	Bytes     uint64
	Elapsed   time.Duration
}

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
			// An error (ECONNREFUSED after an ICMP port-unreachable) means
			// the receiver was not there: the datagram counts as sent and lost.
			conn.Write(t.Datagrams[i]) //nolint:errcheck // see above
			s.Datagrams++
			s.Records += int64(t.Records[i])
			s.Bytes += t.Bytes[i]
			if i++; i == len(t.Datagrams) {
				i = 0
			}
		}
		<-tick.C
	}
	s.Elapsed = time.Since(start)
	return s, nil
}
