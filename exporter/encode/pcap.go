package encode

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// PcapWriter writes datagrams as Ethernet/IP/UDP frames into a pcap file, so
// tests and flowgen can hand captures to tshark, nfacctd or the replayer.
type PcapWriter struct {
	w   *pcapgo.Writer
	buf gopacket.SerializeBuffer
}

// NewPcapWriter writes the pcap file header (Ethernet link type) to w.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &PcapWriter{w: pw, buf: gopacket.NewSerializeBuffer()}, nil
}

// Write wraps payload in UDP from src to dst (both IPv4 or both IPv6) and
// writes it with timestamp ts.
func (p *PcapWriter) Write(ts time.Time, src, dst netip.AddrPort, payload []byte) error {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	if sa.Is4() != da.Is4() {
		return fmt.Errorf("encode: pcap source %s and destination %s differ in family", src, dst)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(srcMAC[:]), DstMAC: net.HardwareAddr(dstMAC[:])}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	var ip gopacket.SerializableLayer
	if sa.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: sa.AsSlice(), DstIP: da.AsSlice()}
		udp.SetNetworkLayerForChecksum(v4)
		ip = v4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: sa.AsSlice(), DstIP: da.AsSlice()}
		udp.SetNetworkLayerForChecksum(v6)
		ip = v6
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(p.buf, opts, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		return err
	}
	data := p.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
	return p.w.WritePacket(ci, data)
}
