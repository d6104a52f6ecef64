// Package listen reads flow-export datagrams from UDP sockets.
package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Handler gets one datagram. payload is only valid during the call.
type Handler func(src netip.AddrPort, recv time.Time, payload []byte)

// recvBuffer is the socket receive buffer asked of the kernel: bursts of
// export datagrams must wait here, not be dropped, while readers catch up.
const recvBuffer = 32 << 20

// UDP binds addr and runs `readers` goroutines that hand every datagram to h,
// until ctx is cancelled. The handler runs in the reader goroutine, so there is
// no queue to overflow between socket and decoder: back-pressure lands in the
// socket buffer, whose overflow the kernel counts.
func UDP(ctx context.Context, addr string, readers int, log *slog.Logger, h Handler) (netip.AddrPort, <-chan error, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return netip.AddrPort{}, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	uc := conn.(*net.UDPConn)
	if err := uc.SetReadBuffer(recvBuffer); err != nil {
		log.Warn("could not enlarge the UDP receive buffer", "addr", addr, "err", err)
	}
	local := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	if readers < 1 {
		readers = 1
	}
	done := make(chan error, 1)
	var wg sync.WaitGroup
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readBatches(ctx, uc, local.Addr().Is4(), addr, log, h)
		}()
	}
	go func() {
		<-ctx.Done()
		uc.Close()
		wg.Wait()
		done <- nil
	}()
	return local, done, nil
}

// batch is how many datagrams one recvmmsg call may return: at a million
// records a second (40,000 datagrams) a call per datagram costs a tenth of
// a core in system calls alone.
const batch = 32

// readBatches reads datagrams with recvmmsg (x/net's ReadBatch) and hands
// each to h.
func readBatches(ctx context.Context, uc *net.UDPConn, is4 bool, addr string, log *slog.Logger, h Handler) {
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 65535)}
	}
	var read func([]ipv4.Message, int) (int, error)
	if is4 {
		read = ipv4.NewPacketConn(uc).ReadBatch
	} else {
		pc := ipv6.NewPacketConn(uc)
		read = func(m []ipv4.Message, f int) (int, error) { return pc.ReadBatch(m, f) }
	}
	for {
		n, err := read(msgs, 0)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			log.Warn("UDP read failed", "addr", addr, "err", err)
			continue
		}
		now := time.Now()
		for _, m := range msgs[:n] {
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			src := ua.AddrPort()
			h(netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), now, m.Buffers[0][:m.N])
		}
	}
}
