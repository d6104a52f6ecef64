//go:build linux

package listen

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader reads datagrams with recvmmsg(2) into buffers, addresses and
// message headers allocated once: x/net's ReadBatch allocates the source
// address of every datagram (a net.UDPAddr and its IP), which at a hundred
// thousand datagrams a second is garbage the collector has to chase.
type batchReader struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family
	bufs  [][]byte
	err   error                 // of the last recvmmsg
	n     int                   // datagrams it returned
	call  func(fd uintptr) bool // r.recv, made once: a method value per read would be allocated
	zones map[uint32]string     // interface index → name, for link-local sources (zoneOf)
}

func newBatchReader(uc *net.UDPConn, n, size int) (reader, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{rc: rc, hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n),
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
	r.call = r.recv
	return r, nil
}

// read waits for datagrams and returns how many one recvmmsg call gave
// (up to the batch), without blocking the thread: the wait is the runtime
// poller's, as for any other read of the socket.
func (r *batchReader) read() (int, error) {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
	}
	err := r.rc.Read(r.call)
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}

// recv is the RawConn.Read callback: one recvmmsg call; false when there is nothing to read yet.
func (r *batchReader) recv(fd uintptr) bool {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	for e == unix.EINTR { // interrupted before anything was read: again at once
		n, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	}
	if e == unix.EAGAIN {
		return false // nothing yet: wait until the socket is readable
	}
	r.n, r.err = int(n), nil
	if e != 0 {
		r.n, r.err = 0, e
	}
	return true
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
