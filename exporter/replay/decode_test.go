package replay

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// A classic pcap of Ethernet with a VLAN tag, replayed into the decode
// package's Decoder: a TCP packet and a junk UDP payload are skipped.
func TestPcapEthernetVLANWithDecodeDecoder(t *testing.T) {
	v5, err := os.ReadFile(testsupport.Shared(t, "testdata", "real-exports", "netflow-ipfix-payloads", "netflow5.dat"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vlan.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	write := func(i int, l4 gopacket.SerializableLayer, payload []byte) {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, SrcIP: net.IPv4(192, 0, 2, 9), DstIP: net.IPv4(192, 0, 2, 1)}
		switch l := l4.(type) {
		case *layers.UDP:
			ip.Protocol = layers.IPProtocolUDP
			l.SetNetworkLayerForChecksum(ip)
		case *layers.TCP:
			ip.Protocol = layers.IPProtocolTCP
			l.SetNetworkLayerForChecksum(ip)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
			ip, l4, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Second), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	write(0, &layers.UDP{SrcPort: 40000, DstPort: 2055}, v5)
	write(1, &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Window: 1024}, nil)
	write(2, &layers.UDP{SrcPort: 40000, DstPort: 53}, []byte{0xde, 0xad, 0xbe, 0xef})
	write(3, &layers.UDP{SrcPort: 40000, DstPort: 9995}, v5)
	f.Close()

	d := flow.NewDecoder(flow.Options{})
	var recs []*flow.Record
	st, err := File(path, d, Options{}, func(r *flow.Record) { c := *r; recs = append(recs, &c) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 4 || st.Datagrams != 2 || st.Skipped != 2 || st.Errors != 0 || st.Records != int64(len(recs)) || len(recs) == 0 {
		t.Fatalf("stats %+v, %d records", st, len(recs))
	}
	for _, r := range recs {
		if r.Exporter != netipMust("192.0.2.9") || r.Protocol != flow.NetFlowV5 {
			t.Errorf("record %+v", r)
		}
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
