package listen

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestTemplateAcrossSockets sends one NetFlow v9 exporter's template from
// one source port and its data from 32 others (32 more 4-tuples: the kernel
// spreads them over the 4 sockets) into one decoder, as the server wires it:
// every data record must decode, and the datagrams must really have come in
// through more than one socket.
func TestTemplateAcrossSockets(t *testing.T) {
	const sockets, senders, perSender = 4, 32, 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	var (
		mu      sync.Mutex
		records int
		bySock  = map[int]int{}
		got     = make(chan struct{}, 1024)
	)
	addr, stop, err := listenUDP(ctx, "127.0.0.1:0", sockets, quiet, func(i int) handler {
		return func(src netip.AddrPort, recv time.Time, b []byte) {
			n := 0
			if err := dec.DecodeNetFlow(src, recv, b, func(*flow.Record) { n++ }); err != nil {
				t.Errorf("datagram from %v on socket %d: %v", src, i, err)
			}
			mu.Lock()
			records += n
			bySock[i]++
			mu.Unlock()
			got <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	enc := encode.NewExporter(flow.NetFlowV9, encode.Options{Boot: t0.Add(-time.Hour), TemplateEvery: 1 << 30, RecordsPerPacket: 4})
	var dgrams [][]byte
	recs := make([]flow.Record, 4*(1+senders*perSender))
	for i := range recs {
		recs[i] = flow.Record{Src: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("192.0.2.9"),
			SrcPort: 40000, DstPort: 443, Proto: 6, Packets: 2, Bytes: 200, SamplingRate: 1,
			Start: t0.UnixMilli() - 2000, End: t0.UnixMilli() - 1000}
	}
	for i := 0; i < len(recs); i += 4 {
		enc.Encode(t0, recs[i:i+4], func(d []byte) { dgrams = append(dgrams, append([]byte(nil), d...)) })
	}
	if len(dgrams) != 1+senders*perSender {
		t.Fatalf("%d datagrams encoded, want %d", len(dgrams), 1+senders*perSender)
	}
	send := func(c net.Conn, d []byte) {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(n int) {
		for range n {
			select {
			case <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("datagrams sent on loopback were not all read")
			}
		}
	}
	tpl, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer tpl.Close()
	send(tpl, dgrams[0]) // the template (and its first records)
	wait(1)
	next := 1
	for range senders {
		c, err := net.Dial("udp", addr.String()) // a new source port: another 4-tuple
		if err != nil {
			t.Fatal(err)
		}
		for range perSender {
			send(c, dgrams[next])
			next++
		}
		c.Close()
		wait(perSender) // the socket buffers never overflow
	}
	cancel()
	<-stop
	mu.Lock()
	defer mu.Unlock()
	if records != len(recs) {
		t.Errorf("%d records decoded, want %d", records, len(recs))
	}
	if len(bySock) < 2 {
		t.Errorf("all datagrams came in through %d socket(s) of %d: %v", len(bySock), sockets, bySock)
	}
	t.Logf("datagrams per socket: %v", bySock)
}

// TestPortInUse: with several sockets the port must still be refused when
// another socket holds it, as with one.
func TestPortInUse(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, _, err := listenAll(ctx, c.LocalAddr().String(), 4, quiet, func(netip.AddrPort, time.Time, []byte) {}); err == nil {
		t.Fatalf("listening on %s, held by another socket, succeeded", c.LocalAddr())
	}
}

// TestSockets: readers sockets are bound to one port, and closing ends them all.
func TestSockets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	seen := map[int]bool{}
	addr, stop, err := listenUDP(ctx, "127.0.0.1:0", 3, quiet, func(i int) handler {
		mu.Lock()
		seen[i] = true
		mu.Unlock()
		return func(netip.AddrPort, time.Time, []byte) {}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || !addr.IsValid() || addr.Port() == 0 {
		t.Errorf("sockets %v on %v, want 3 on one port", seen, addr)
	}
	cancel()
	<-stop
	// The port is free again.
	c, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		t.Fatalf("port of the closed listener: %v", err)
	}
	c.Close()
}

// recordingSink notes what its reader gives it: datagrams are "delivered"
// only at EndRead, as a sink that holds a read's records back delivers them.
type recordingSink struct {
	mu        *sync.Mutex
	delivered *int
	pending   int
	stops     int
	late      int // datagrams or reads after Stop
}

func (s *recordingSink) Datagram(netip.AddrPort, time.Time, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stops > 0 {
		s.late++
	}
	s.pending++
}

func (s *recordingSink) EndRead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stops > 0 {
		s.late++
	}
	*s.delivered += s.pending
	s.pending = 0
}

func (s *recordingSink) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stops++
}

// TestSinkEndReadAndStop: every reader has a sink of its own; each read
// ends with EndRead, so a lone datagram is delivered without a next one;
// on cancel every sink is stopped once, after its last datagram, before
// the listener reports that it stopped.
func TestSinkEndReadAndStop(t *testing.T) {
	const readers, senders = 2, 8
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu        sync.Mutex
		delivered int
		sinks     []*recordingSink
	)
	addr, stop, err := UDP(ctx, "127.0.0.1:0", readers, quiet, func(int) Sink {
		s := &recordingSink{mu: &mu, delivered: &delivered}
		mu.Lock()
		sinks = append(sinks, s)
		mu.Unlock()
		return s
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for i := range senders { // several source ports: both sockets get some
		conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := conn.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			sent++
			// One datagram at a time: it is delivered by its read's EndRead, not by a later datagram.
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
				mu.Lock()
				d := delivered
				mu.Unlock()
				if d == sent {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("datagram %d: %d delivered after a minute", sent, d)
				}
			}
		}
		conn.Close()
	}
	cancel()
	<-stop
	mu.Lock()
	defer mu.Unlock()
	if len(sinks) != readers {
		t.Fatalf("%d sinks made, want one per reader (%d)", len(sinks), readers)
	}
	for i, s := range sinks {
		if s.stops != 1 || s.late != 0 || s.pending != 0 {
			t.Errorf("sink %d: stopped %d times, %d calls after Stop, %d datagrams never ended by EndRead", i, s.stops, s.late, s.pending)
		}
	}
}

// handler is a Sink that holds nothing back: the tests' datagram callbacks.
type handler func(src netip.AddrPort, recv time.Time, payload []byte)

func (h handler) Datagram(src netip.AddrPort, recv time.Time, b []byte) { h(src, recv, b) }
func (handler) EndRead()                                                {}
func (handler) Stop()                                                   {}

// listenUDP is UDP with a handler per socket (tests see which socket read what).
func listenUDP(ctx context.Context, addr string, readers int, log *slog.Logger, h func(socket int) handler) (netip.AddrPort, <-chan error, error) {
	return UDP(ctx, addr, readers, log, func(i int) Sink { return h(i) })
}

// listenAll is UDP with one handler for every reader.
func listenAll(ctx context.Context, addr string, readers int, log *slog.Logger, h handler) (netip.AddrPort, <-chan error, error) {
	return UDP(ctx, addr, readers, log, func(int) Sink { return h })
}
