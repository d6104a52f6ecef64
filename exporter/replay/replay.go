// Package replay feeds the UDP payloads of a pcap or pcapng capture of flow
// exports to a flow.Decoder, on the capture's own clock.
package replay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Decoder is what replay feeds: *decode.Decoder (and *flow.Decoder) satisfy it.
type Decoder interface {
	DecodeNetFlow(src netip.AddrPort, recv time.Time, payload []byte, emit func(*flow.Record)) error
	DecodeSFlow(src netip.AddrPort, recv time.Time, payload []byte, emit func(*flow.Record)) error
}

// Mode says how a datagram's export protocol is chosen.
type Mode int

const (
	// ByPort: the UDP destination port says it (NetFlowPorts / SFlowPorts); other datagrams are skipped.
	ByPort Mode = iota
	// Auto: the version bytes of every UDP payload say it, whatever the port.
	Auto
)

// Options of a replay. Zero values take the defaults.
type Options struct {
	NetFlowPorts []uint16 // default 2055, 9995, 9996, 4739
	SFlowPorts   []uint16 // default 6343
	Mode         Mode
	// Progress, when set, is called with the bytes of the file read so far and its size.
	Progress func(done, total int64)
}

// Stats of a replay.
type Stats struct {
	Packets     int64 // packets in the capture
	Datagrams   int64 // UDP datagrams fed to the decoder
	Records     int64 // flow records emitted
	Errors      int64 // datagrams the decoder rejected (fully or in part)
	Skipped     int64 // packets that are not UDP export datagrams (other protocols, fragments, unknown payloads)
	First, Last time.Time
}

var (
	DefaultNetFlowPorts = []uint16{2055, 9995, 9996, 4739}
	DefaultSFlowPorts   = []uint16{6343}
)

// countingReader reports progress as the capture is read.
type countingReader struct {
	r        io.Reader
	n, total int64
	progress func(done, total int64)
	last     int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && (c.n-c.last >= 1<<20 || err != nil) {
		c.last = c.n
		c.progress(c.n, c.total)
	}
	return n, err
}

// packetSource is what pcapgo's two readers have in common.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// File replays the capture at path through d; emit gets every record (the
// *Record is reused after emit returns).
func File(path string, d Decoder, opts Options, emit func(*flow.Record)) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Stats{}, err
	}
	cr := &countingReader{r: f, total: st.Size(), progress: opts.Progress}
	br := bufio.NewReaderSize(cr, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return Stats{}, fmt.Errorf("%s: not a capture file: %w", path, err)
	}
	var src packetSource
	if binary.BigEndian.Uint32(magic) == 0x0a0d0d0a { // pcapng section header block
		src, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(br)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("%s: %w", path, err)
	}
	stats, err := Packets(src, d, opts, emit)
	if opts.Progress != nil {
		opts.Progress(cr.n, cr.total)
	}
	if err != nil {
		return stats, fmt.Errorf("%s: %w", path, err)
	}
	return stats, nil
}

// Packets replays every packet of src.
func Packets(src packetSource, d Decoder, opts Options, emit func(*flow.Record)) (Stats, error) {
	if len(opts.NetFlowPorts) == 0 {
		opts.NetFlowPorts = DefaultNetFlowPorts
	}
	if len(opts.SFlowPorts) == 0 {
		opts.SFlowPorts = DefaultSFlowPorts
	}
	var st Stats
	count := func(r *flow.Record) { st.Records++; emit(r) }
	first := firstLayer(src.LinkType())
	if first == nil {
		return st, fmt.Errorf("unsupported link type %s", src.LinkType())
	}
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			// A capture cut short (a full disk, a killed tcpdump) has replayed up
			// to the cut; the caller keeps what was read and still hears of the cut.
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return st, fmt.Errorf("capture cut short inside a packet after %d packets: %w", st.Packets, err)
			}
			return st, err
		}
		st.Packets++
		if st.First.IsZero() || ci.Timestamp.Before(st.First) {
			st.First = ci.Timestamp
		}
		if ci.Timestamp.After(st.Last) {
			st.Last = ci.Timestamp
		}
		from, dport, payload, ok := udpPayload(data, first)
		if !ok {
			st.Skipped++
			continue
		}
		var decode func(netip.AddrPort, time.Time, []byte, func(*flow.Record)) error
		switch {
		case opts.Mode == Auto:
			decode = sniff(d, payload)
		case slices.Contains(opts.NetFlowPorts, dport):
			decode = d.DecodeNetFlow
		case slices.Contains(opts.SFlowPorts, dport):
			decode = d.DecodeSFlow
		default:
			// Exporters on non-standard ports: fall back to the version bytes.
			decode = sniff(d, payload)
		}
		if decode == nil {
			st.Skipped++
			continue
		}
		st.Datagrams++
		if err := decode(from, ci.Timestamp, payload, count); err != nil {
			st.Errors++
		}
	}
}

// sniff picks the decoder from the version bytes: sFlow starts with a 32-bit 5,
// NetFlow/IPFIX with a 16-bit 5, 9 or 10.
func sniff(d Decoder, b []byte) func(netip.AddrPort, time.Time, []byte, func(*flow.Record)) error {
	if len(b) >= 4 && binary.BigEndian.Uint32(b) == 5 {
		return d.DecodeSFlow
	}
	if len(b) >= 2 {
		switch binary.BigEndian.Uint16(b) {
		case 5, 9, 10:
			return d.DecodeNetFlow
		}
	}
	return nil
}

func firstLayer(lt layers.LinkType) gopacket.Decoder {
	switch lt {
	case layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeLoop:
		return lt
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12: // 12: raw IP on some BSDs
		return layers.LayerTypeIPv4 // fixed below by version nibble
	}
	return nil
}

// udpPayload finds the UDP datagram in one captured frame.
func udpPayload(data []byte, first gopacket.Decoder) (netip.AddrPort, uint16, []byte, bool) {
	dec := first
	if first == layers.LayerTypeIPv4 && len(data) > 0 && data[0]>>4 == 6 {
		dec = layers.LayerTypeIPv6
	}
	pkt := gopacket.NewPacket(data, dec, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	var src netip.Addr
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
	default:
		return netip.AddrPort{}, 0, nil, false
	}
	udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok {
		return netip.AddrPort{}, 0, nil, false
	}
	return netip.AddrPortFrom(src, uint16(udp.SrcPort)), uint16(udp.DstPort), udp.Payload, true
}
