package flow

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// fuzzDecoder keeps templates across inputs, as a long-running exporter does,
// with small caps so the fuzzer also exercises the limits.
func fuzzDecoder() *Decoder {
	return NewDecoder(Options{Metrics: metrics.NewSet(), Configuration: Configuration{MaxTemplates: 64, MaxSources: 4}})
}

func checkRecord(t *testing.T, r *Record) {
	if r.SamplingRate == 0 {
		t.Fatalf("record with sampling rate 0: %+v", *r)
	}
	if !r.Src.IsValid() && !r.Dst.IsValid() {
		t.Fatalf("record without addresses: %+v", *r)
	}
}

func FuzzDecodeNetFlow(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(payloadDir(f), "*.dat"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	d := fuzzDecoder()
	slow := fuzzDecoder() // goflow2's path only: the fast path must agree with it
	slow.slowOnly = true
	src := netip.MustParseAddrPort("192.0.2.1:2055")
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		var fast, ref []Record
		err := d.DecodeNetFlow(src, time.Unix(1700000000, 0), b, func(r *Record) { n++; checkRecord(t, r); fast = append(fast, *r) })
		slowErr := slow.DecodeNetFlow(src, time.Unix(1700000000, 0), b, func(r *Record) { ref = append(ref, *r) })
		if !slices.Equal(fast, ref) || (err == nil) != (slowErr == nil) {
			t.Fatalf("fast path: %d records, err %v; goflow2 path: %d records, err %v", len(fast), err, len(ref), slowErr)
		}
		// A v5 datagram cannot hold more than 30 records; v9/IPFIX records take at least one byte each.
		if n > len(b) {
			t.Fatalf("%d records from %d bytes", n, len(b))
		}
		if d.Templates(src.Addr()) > 64 {
			t.Fatal("template cap exceeded")
		}
	})
}

// sflowPayloads returns the UDP payloads of the sFlow sample captures.
func sflowPayloads(tb testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join(testsupport.Shared(tb, "testdata", "real-exports", "sflow-pcaps"), "*.pcap"))
	var out [][]byte
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			f.Close()
			continue
		}
		for {
			data, _, err := r.ReadPacketData()
			if err != nil {
				break
			}
			pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
			if u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.DstPort == 6343 {
				out = append(out, append([]byte(nil), u.Payload...))
			}
		}
		f.Close()
	}
	return out
}

func FuzzDecodeSFlow(f *testing.F) {
	for _, b := range sflowPayloads(f) {
		f.Add(b)
	}
	d := fuzzDecoder()
	src := netip.MustParseAddrPort("192.0.2.2:6343")
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		d.DecodeSFlow(src, time.Unix(1700000000, 0), b, func(r *Record) { n++; checkRecord(t, r) })
		if n > len(b)/8 {
			t.Fatalf("%d records from %d bytes", n, len(b))
		}
	})
}
