// Package listen reads flow-export datagrams from UDP sockets.
package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Sink takes the datagrams of one reader goroutine, in the order read, all
// its calls from that goroutine (UDP).
type Sink interface {
	// Datagram takes one datagram; payload is only valid during the call.
	Datagram(src netip.AddrPort, recv time.Time, payload []byte)
	// EndRead follows the datagrams of one read from the socket (one
	// recvmmsg call): what the sink holds back must go on now, so that
	// nothing waits for the next datagram, however long that takes.
	EndRead()
	// Stop follows the last datagram (the socket is closed): it returns
	// once everything given has been handled, and the listener reports
	// that it stopped only after every reader's Stop has returned.
	Stop()
}

// recvBuffer is the socket receive buffer asked of the kernel: bursts of
// export datagrams must wait here, not be dropped, while readers catch up.
const recvBuffer = 32 << 20

// UDP binds addr with `readers` sockets sharing the port (SO_REUSEPORT), each
// read by its own goroutine that gives every datagram to a Sink of its own,
// made by sink (given the socket's index) before the goroutine starts, until
// ctx is cancelled. The done channel reports once every reader's Stop has
// returned. A sink may score the records in the reader goroutine or hand
// them to a goroutine of its own (pipeline.Handoff, flushed at every EndRead,
// drained at Stop); either way it takes no more than it can hold, so
// back-pressure lands in the socket buffers, whose overflow the kernel counts.
//
// Several sockets rather than several readers of one socket: each socket has
// its own receive queue and lock in the kernel, so readers on different cores
// do not contend there. The kernel spreads datagrams over the sockets by a
// hash of the 4-tuple, so all datagrams of one exporter (one source address
// and port) land on one socket, in order: a NetFlow v9/IPFIX template is read
// before the data that follows it from the same exporter. Templates are kept
// per exporter address by the one decoder behind all sockets (flow.Decoder),
// so an exporter that sends templates and data from different source ports
// (two 4-tuples, maybe two sockets) still decodes once the template has been
// read (TestTemplateAcrossSockets).
//
// Where SO_REUSEPORT is refused, one socket is read by `readers` goroutines.
func UDP(ctx context.Context, addr string, readers int, log *slog.Logger, sink func(socket int) Sink) (netip.AddrPort, <-chan error, error) {
	readers = max(readers, 1)
	if readers > 1 {
		// A socket of another process (same user) that set SO_REUSEPORT on
		// the port would silently take a share of the datagrams: bind the
		// port once without the option first, so that "address in use" is
		// still an error as with a single socket.
		if _, port, _ := net.SplitHostPort(addr); port != "0" && port != "" {
			probe, err := listenOne(ctx, addr, false)
			if err != nil {
				return netip.AddrPort{}, nil, fmt.Errorf("listen %s: %w", addr, err)
			}
			probe.Close()
		}
	}
	first, err := listenOne(ctx, addr, readers > 1)
	if err != nil && readers > 1 {
		log.Warn("SO_REUSEPORT refused: one socket, several readers", "addr", addr, "err", err)
		if first, err = listenOne(ctx, addr, false); err != nil {
			return netip.AddrPort{}, nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		return serve(ctx, addr, []*net.UDPConn{first}, readers, log, sink)
	}
	if err != nil {
		return netip.AddrPort{}, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	conns := []*net.UDPConn{first}
	// The other sockets bind the port the first one got (addr may ask for port 0).
	local := first.LocalAddr().(*net.UDPAddr).AddrPort()
	host, _, _ := net.SplitHostPort(addr)
	same := net.JoinHostPort(host, strconv.Itoa(int(local.Port())))
	for len(conns) < readers {
		c, err := listenOne(ctx, same, true)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return netip.AddrPort{}, nil, fmt.Errorf("listen %s (socket %d of %d): %w", same, len(conns)+1, readers, err)
		}
		conns = append(conns, c)
	}
	return serve(ctx, addr, conns, 1, log, sink)
}

func listenOne(ctx context.Context, addr string, reusePort bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
				return err
			}
			return serr
		}
	}
	conn, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	return conn.(*net.UDPConn), nil
}

// serve starts perSocket readers on every socket and closes them all when ctx ends.
func serve(ctx context.Context, addr string, conns []*net.UDPConn, perSocket int, log *slog.Logger, sink func(int) Sink) (netip.AddrPort, <-chan error, error) {
	local := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	done := make(chan error, 1)
	var wg sync.WaitGroup
	for i, uc := range conns {
		if err := uc.SetReadBuffer(recvBuffer); err != nil {
			log.Warn("could not enlarge the UDP receive buffer", "addr", addr, "err", err)
		} else if got, err := receiveBuffer(uc); err == nil && got > 0 && got < recvBuffer && i == 0 {
			// The kernel caps the buffer silently (Linux: net.core.rmem_max,
			// often 208 KiB): say so once, since bursts beyond it are lost.
			log.Warn("UDP receive buffer smaller than asked: bursts beyond it are dropped by the kernel; raise net.core.rmem_max (UDP 接收缓冲区小于请求值)",
				"addr", addr, "bytes", got, "asked", recvBuffer)
		}
		for range perSocket {
			s := sink(i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				readBatches(ctx, uc, addr, log, s)
			}()
		}
	}
	go func() {
		<-ctx.Done()
		for _, uc := range conns {
			uc.Close()
		}
		wg.Wait()
		done <- nil
	}()
	return local, done, nil
}

// batch is how many datagrams one recvmmsg call may return: at a million
// records a second (40,000 datagrams) a call per datagram costs a tenth of
// a core in system calls alone; a call returns what the socket holds, up to
// this, so a larger batch costs nothing at low rates and saves calls when
// the reader falls behind (64 × 64 KiB buffers, of which the kernel touches
// only the datagram's pages).
const batch = 64

// maxDatagram is the buffer of one datagram: the largest UDP payload.
const maxDatagram = 65535

// reader is one socket's batch reader (recvmmsg_linux.go, recvmmsg_other.go):
// read waits for datagrams and returns how many it got, datagram gives one
// of them (valid until the next read).
type reader interface {
	read() (int, error)
	datagram(i int) (src netip.AddrPort, payload []byte, ok bool)
}

// readBatches reads datagrams in batches and hands each to s, then Stops it.
func readBatches(ctx context.Context, uc *net.UDPConn, addr string, log *slog.Logger, s Sink) {
	defer s.Stop()
	r, err := newBatchReader(uc, batch, maxDatagram)
	if err != nil {
		log.Error("UDP reader failed", "addr", addr, "err", err)
		return
	}
	for {
		n, err := r.read()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			log.Warn("UDP read failed", "addr", addr, "err", err)
			continue
		}
		now := time.Now()
		for i := range n {
			if src, b, ok := r.datagram(i); ok {
				s.Datagram(src, now, b)
			}
		}
		s.EndRead()
	}
}
