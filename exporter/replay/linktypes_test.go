package replay

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// A pcapng of raw IP (no link header), IPv4 and IPv6, with one NetFlow v5
// datagram each on port 2055 and one on an unlisted port.
func TestPcapngRawIPv4AndIPv6(t *testing.T) {
	v5, err := os.ReadFile(testsupport.Shared(t, "testdata", "real-exports", "netflow-ipfix-payloads", "netflow5.dat"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "raw.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	write := func(i int, ip gopacket.NetworkLayer, dport uint16) {
		udp := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(dport)}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ip.(gopacket.SerializableLayer), udp, gopacket.Payload(v5)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Second), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	v4 := func() gopacket.NetworkLayer {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(192, 0, 2, 7), DstIP: net.IPv4(192, 0, 2, 1)}
	}
	write(0, v4(), 2055)
	write(1, &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP("2001:db8::7"), DstIP: net.ParseIP("2001:db8::1")}, 2055)
	write(2, v4(), 12345)
	w.Flush()
	f.Close()

	d := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
	exporters := map[string]int{}
	var progressed int64
	st, err := File(path, d, Options{Progress: func(done, total int64) { progressed = done }}, func(r *flow.Record) { exporters[r.Exporter.String()]++ })
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 3 || st.Datagrams != 3 || st.Records != 6 || st.Errors != 0 || st.Skipped != 0 || exporters["192.0.2.7"] != 4 || exporters["2001:db8::7"] != 2 {
		t.Errorf("stats %+v, records by exporter %v", st, exporters)
	}
	if !st.First.Equal(start) || !st.Last.Equal(start.Add(2*time.Second)) {
		t.Errorf("capture clock %s – %s", st.First, st.Last)
	}
	if fi, _ := os.Stat(path); progressed != fi.Size() {
		t.Errorf("progress ended at %d of %d bytes", progressed, fi.Size())
	}
	// The unlisted port 12345 is taken by its NetFlow v5 version bytes, in both modes.
	st, err = File(path, d, Options{Mode: Auto}, func(*flow.Record) {})
	if err != nil || st.Datagrams != 3 || st.Records != 6 {
		t.Errorf("auto: %+v %v", st, err)
	}
}
