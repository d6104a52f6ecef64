//go:build linux

package listen

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socket is one bound UDP socket as its readers read it: they block in
// recvmmsg(2) on the socket itself, outside the Go runtime's network
// poller, as a C collector's reader does. Through the poller every empty
// socket parks the reader goroutine and every datagram that arrives then
// wakes it: an epoll wake-up, the scheduler finding the goroutine, often a
// futex to wake a thread. At a few hundred thousand records a second (a
// datagram every 80 µs) that was a third of the exporter's CPU
// (docs/performance.md, "Readers outside the poller"); a blocked system call
// is woken by the kernel directly, and the runtime hands the reader's P to
// other goroutines meanwhile.
type socket struct {
	fd      int
	stopped atomic.Bool // wake was called: readers return
}

// idleWake bounds a blocked read: with nothing to read for this long,
// recvmmsg returns and the reader looks at its context again. wake makes a
// stop immediate; this is only the fallback.
var idleWake = time.Second

// takeSocket takes uc's socket out of the runtime's poller: the duplicate
// descriptor refers to the same socket (bound, its options and buffer as
// set), closing uc removes the original from epoll, and the duplicate is
// put in blocking mode (the flag belongs to the socket's open file, which
// only the duplicate holds now).
func takeSocket(uc *net.UDPConn) (*socket, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	uc.Close()
	if derr != nil {
		return nil, derr
	}
	tv := unix.NsecToTimeval(idleWake.Nanoseconds())
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &socket{fd: fd}, nil
}

// reader makes a batch reader of the socket (one per reader goroutine).
func (s *socket) reader(n, size int) reader { return newBatchReader(s.fd, n, size) }

// wake returns every read blocked on the socket, and makes every later one
// return at once: Linux marks the socket shut for reading and wakes its
// readers even though shutdown(2) reports ENOTCONN for an unconnected UDP
// socket (inet_shutdown does both on purpose).
func (s *socket) wake() {
	s.stopped.Store(true)
	unix.Shutdown(s.fd, unix.SHUT_RD) //nolint:errcheck // ENOTCONN, see above
}

// close releases the socket, once its readers have returned.
func (s *socket) close() { unix.Close(s.fd) }

// batchReader reads datagrams with recvmmsg(2) into buffers, addresses and
// message headers allocated once: x/net's ReadBatch allocates the source
// address of every datagram (a net.UDPAddr and its IP), which at a hundred
// thousand datagrams a second is garbage the collector has to chase.
type batchReader struct {
	fd    int
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family
	bufs  [][]byte
	zones map[uint32]string // interface index → name, for link-local sources (zoneOf)
}

func newBatchReader(fd, n, size int) *batchReader {
	r := &batchReader{fd: fd, hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n), bufs: make([][]byte, n)}
	for i := range r.hdrs {
		r.bufs[i] = make([]byte, size)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(size)
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
	}
	return r
}

// read blocks until the socket holds a datagram and returns how many one
// recvmmsg call gave (up to the batch: MSG_WAITFORONE waits for the first
// only); 0 and no error when idleWake passed with nothing to read.
func (r *batchReader) read() (int, error) {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_WAITFORONE, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR: // a signal (the runtime's preemption) before anything was read: a socket with a receive timeout is not restarted
			continue
		case unix.EAGAIN:
			return 0, nil
		}
		return 0, e
	}
}

// datagram i of the last read: its source (IPv4-mapped addresses unmapped)
// and payload; ok is false for an address of another family.
func (r *batchReader) datagram(i int) (netip.AddrPort, []byte, bool) {
	sa := &r.names[i]
	b := r.bufs[i][:min(int(r.hdrs[i].Len), len(r.bufs[i]))]
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), b, true
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.Scope_id != 0 && a.Is6() {
			// A link-local source is only one exporter together with its
			// interface: two routers may both send from fe80::1 on two
			// links, and without the zone their templates would be mixed.
			// net's own ReadFromUDPAddrPort keeps it too.
			a = a.WithZone(r.zoneOf(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, port), b, true
	}
	return netip.AddrPort{}, nil, false
}

// zoneOf names interface index i as net does (its name, or the number when
// the interface is unknown), looked up once per index: a lookup is a
// netlink round trip, and only link-local sources ask.
func (r *batchReader) zoneOf(i uint32) string {
	if z, ok := r.zones[i]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(i), 10)
	if ifi, err := net.InterfaceByIndex(int(i)); err == nil {
		z = ifi.Name
	}
	if r.zones == nil {
		r.zones = map[uint32]string{}
	}
	r.zones[i] = z
	return z
}

// receiveBuffer is the socket's receive buffer as granted (Linux reports
// twice the size asked, the rest being its bookkeeping: halved here).
func receiveBuffer(uc *net.UDPConn) (int, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) { n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) }); err != nil {
		return 0, err
	}
	return n / 2, serr
}
