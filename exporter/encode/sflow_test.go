package encode

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
)

func TestSFlowRoundTrip(t *testing.T) {
	const rate, per = 512, 8
	boot := testNow.Add(-2 * time.Hour)
	agent := netip.MustParseAddr("192.0.2.9")
	recs := records(30, rate, 5)
	e := NewExporter(flow.SFlowV5, Options{SamplingRate: rate, RecordsPerPacket: per, SourceID: 3, Boot: boot, AgentAddr: agent})
	ds := collect(e, testNow, recs)
	check(t, "datagrams", len(ds), 4)
	i := 0
	var lastPool uint32
	for n, d := range ds {
		var p sflow.Packet
		if err := sflow.DecodeMessageVersion(bytes.NewBuffer(d), &p); err != nil {
			t.Fatalf("datagram %d: %v", n, err)
		}
		check(t, "agent", addrFrom(p.AgentIP), agent)
		check(t, "sub agent", p.SubAgentId, 3)
		check(t, "datagram sequence", p.SequenceNumber, uint32(n+1))
		check(t, "uptime", p.Uptime, uint32(2*time.Hour/time.Millisecond))
		check(t, "samples", int(p.SamplesCount), min(per, len(recs)-n*per))
		for _, s := range p.Samples {
			fs, ok := s.(sflow.FlowSample)
			if !ok {
				t.Fatalf("sample %T", s)
			}
			w := recs[i]
			i++
			check(t, "sample sequence", fs.Header.SampleSequenceNumber, uint32(i))
			check(t, "sampling rate", fs.SamplingRate, rate)
			check(t, "sample pool", fs.SamplePool, lastPool+rate)
			lastPool = fs.SamplePool
			if len(fs.Records) != 1 {
				t.Fatalf("records in sample: %d", len(fs.Records))
			}
			h, ok := fs.Records[0].Data.(sflow.SampledHeader)
			if !ok {
				t.Fatalf("flow record %T", fs.Records[0].Data)
			}
			check(t, "header protocol", h.Protocol, 1)
			check(t, "frame length", uint64(h.FrameLength), w.Bytes/w.Packets)
			checkHeader(t, h.HeaderData, w)
		}
	}
	check(t, "samples decoded", i, len(recs))
}

// checkHeader parses the synthesized header with gopacket (L2-L4 only: the
// sampled header carries no application payload).
func checkHeader(t *testing.T, data []byte, w flow.Record) {
	t.Helper()
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		udp     layers.UDP
		decoded []gopacket.LayerType
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp, &udp)
	parser.IgnoreUnsupported = true
	if err := parser.DecodeLayers(data, &decoded); err != nil {
		t.Fatalf("header decode: %v", err)
	}
	has := map[gopacket.LayerType]bool{}
	for _, l := range decoded {
		has[l] = true
	}
	var src, dst netip.Addr
	switch {
	case has[layers.LayerTypeIPv4]:
		src, dst = addrFrom(ip4.SrcIP), addrFrom(ip4.DstIP)
		check(t, "ipv4 total length", uint64(ip4.Length), w.Bytes/w.Packets-18)
		check(t, "ip proto", uint8(ip4.Protocol), w.Proto)
		// A correct header checksum makes the header sum to all ones.
		check(t, "ipv4 checksum", ipChecksum(ip4.Contents), 0)
	case has[layers.LayerTypeIPv6]:
		src, dst = addrFrom(ip6.SrcIP), addrFrom(ip6.DstIP)
		check(t, "ipv6 payload length", uint64(ip6.Length), w.Bytes/w.Packets-18-40)
		check(t, "ip next header", uint8(ip6.NextHeader), w.Proto)
	default:
		t.Fatal("no IP layer")
	}
	check(t, "src", src, w.Src)
	check(t, "dst", dst, w.Dst)
	switch w.Proto {
	case 6:
		check(t, "tcp decoded", has[layers.LayerTypeTCP], true)
		check(t, "sport", uint16(tcp.SrcPort), w.SrcPort)
		check(t, "dport", uint16(tcp.DstPort), w.DstPort)
		check(t, "flags", tcp.Contents[13], w.TCPFlags)
	case 17:
		check(t, "udp decoded", has[layers.LayerTypeUDP], true)
		check(t, "sport", uint16(udp.SrcPort), w.SrcPort)
		check(t, "dport", uint16(udp.DstPort), w.DstPort)
	}
}
