//go:build !linux

package listen

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchReader reads datagrams with x/net's ReadBatch (recvmmsg where the
// system has it, one datagram a call elsewhere); the Linux one avoids its
// allocation per datagram.
type batchReader struct {
	msgs      []ipv4.Message
	readBatch func([]ipv4.Message, int) (int, error)
	n         int
}

func newBatchReader(uc *net.UDPConn, n, size int) (reader, error) {
	r := &batchReader{msgs: make([]ipv4.Message, n)}
	for i := range r.msgs {
		r.msgs[i].Buffers = [][]byte{make([]byte, size)}
	}
	if uc.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Is4() {
		r.readBatch = ipv4.NewPacketConn(uc).ReadBatch
	} else {
		pc := ipv6.NewPacketConn(uc)
		r.readBatch = func(m []ipv4.Message, f int) (int, error) { return pc.ReadBatch(m, f) }
	}
	return r, nil
}

func (r *batchReader) read() (int, error) { return r.readBatch(r.msgs, 0) }

func (r *batchReader) datagram(i int) (netip.AddrPort, []byte, bool) {
	m := &r.msgs[i]
	ua, ok := m.Addr.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, nil, false
	}
	src := ua.AddrPort()
	return netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), m.Buffers[0][:m.N], true
}

// receiveBuffer is not read back here (0: unknown).
func receiveBuffer(*net.UDPConn) (int, error) { return 0, nil }
