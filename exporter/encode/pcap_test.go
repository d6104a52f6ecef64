package encode

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func TestPcapWriterBothFamilies(t *testing.T) {
	var buf bytes.Buffer
	pw, err := NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	pairs := [][2]netip.AddrPort{
		{netip.MustParseAddrPort("10.0.0.1:50000"), netip.MustParseAddrPort("127.0.0.1:2055")},
		{netip.MustParseAddrPort("[2001:db8::1]:50001"), netip.MustParseAddrPort("[::1]:6343")},
	}
	for i, p := range pairs {
		if err := pw.Write(testNow.Add(1234567), p[0], p[1], []byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Write(testNow, pairs[0][0], pairs[1][1], nil); err == nil {
		t.Error("mixed families accepted")
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		check(t, "timestamp", ci.Timestamp.UnixMicro(), testNow.Add(1234567).UnixMicro())
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		nl := pkt.NetworkLayer()
		if nl == nil {
			t.Fatal("no network layer")
		}
		src, dst := nl.NetworkFlow().Endpoints()
		check(t, "src ip", src.String(), p[0].Addr().String())
		check(t, "dst ip", dst.String(), p[1].Addr().String())
		udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatal("no UDP layer")
		}
		check(t, "sport", uint16(udp.SrcPort), p[0].Port())
		check(t, "dport", uint16(udp.DstPort), p[1].Port())
		check(t, "payload", string(udp.Payload), string([]byte{byte(i), 1, 2, 3}))
	}
}
