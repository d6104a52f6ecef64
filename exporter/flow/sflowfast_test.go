package flow

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// sflowRealPayloads reads the UDP payloads of the real sFlow captures
// (shared/testdata/real-exports/sflow-pcaps), all of them: sFlow, the
// NetFlow v5 packets one capture sent to the sFlow port, the truncated one.
func sflowRealPayloads(t *testing.T) (names []string, payloads [][]byte) {
	dir := testsupport.Shared(t, "testdata", "real-exports", "sflow-pcaps")
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap"))
	if err != nil || len(files) < 4 {
		t.Fatalf("sFlow captures missing in %s: %v (%d files)", dir, err, len(files))
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			data, _, err := r.ReadPacketData()
			if err != nil {
				break
			}
			pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
			if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
				names = append(names, filepath.Base(f)+"#"+strconv.Itoa(i))
				payloads = append(payloads, append([]byte(nil), udp.Payload...))
			}
		}
		fh.Close()
	}
	return names, payloads
}

// TestSFlowInPlaceAgreesOnRealCaptures decodes every payload of the real
// sFlow captures in place and with goflow2's decoder only: the records and
// the errors must be the same, and most payloads must take the in-place path.
func TestSFlowInPlaceAgreesOnRealCaptures(t *testing.T) {
	names, payloads := sflowRealPayloads(t)
	fast, slow := fuzzDecoder(), fuzzDecoder()
	slow.slowOnly = true
	src := netip.MustParseAddrPort("192.0.2.7:6343")
	recv := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	inPlace, records := 0, 0
	for i, b := range payloads {
		var f, s []Record
		errF := fast.DecodeSFlow(src, recv, b, func(r *Record) { f = append(f, *r) })
		errS := slow.DecodeSFlow(src, recv, b, func(r *Record) { s = append(s, *r) })
		if !slices.Equal(f, s) || (errF == nil) != (errS == nil) {
			t.Errorf("%s: in place %d records, err %v; goflow2 %d records, err %v", names[i], len(f), errF, len(s), errS)
		}
		if len(b) >= 28 && checkSFlowCounts(b) == nil && sflowKnown(b) {
			inPlace++
		}
		records += len(f)
	}
	t.Logf("%d payloads, %d read in place, %d records alike", len(payloads), inPlace, records)
	if inPlace < len(payloads)/2 || records == 0 {
		t.Errorf("only %d of %d payloads read in place, %d records", inPlace, len(payloads), records)
	}
}

// sflowKnown reports whether the in-place path reads b.
func sflowKnown(b []byte) bool {
	_, ok := sflowSamples(b, nil)
	return ok
}

// TestSFlowInPlaceAllocs: a datagram of many flow samples (more than any
// fixed buffer would hold: 40) is decoded without allocating.
func TestSFlowInPlaceAllocs(t *testing.T) {
	d := NewDecoder(Options{Metrics: metrics.NewSet()})
	b := encodeSFlow(40, 512)
	src := netip.MustParseAddrPort("192.0.2.3:6343")
	n := 0
	allocs := testing.AllocsPerRun(20, func() {
		if err := d.DecodeSFlow(src, time.Unix(1700000000, 0), b, func(*Record) { n++ }); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || n != 21*40 {
		t.Errorf("%.1f allocations per datagram, %d records from 21 decodes of 40", allocs, n)
	}
}
