package flow

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
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

// FuzzDecodeNetFlow: both decode paths must agree on every input. Its seeds
// are the committed corpus (testdata/fuzz/FuzzDecodeNetFlow: the real vendor
// payloads, see testdata/PROVENANCE.md) and the v9 edge cases below, so a
// plain `go test` replays them all and any failure found is reproducible
// from the files the fuzzer writes there.
func FuzzDecodeNetFlow(f *testing.F) {
	tpl, data := encodeV9(13)
	f.Add(tpl)
	for _, pad := range [][]byte{nil, {0}, {0, 0, 0}, {0, 0, 0, 0, 0}} {
		// RFC 3954's count (records, not flowsets) and trailing padding.
		f.Add(v9WithCount(data, 13, pad...))
		f.Add(v9WithCount(append(append([]byte(nil), tpl...), data[20:]...), 14, pad...))
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

// FuzzDecodeSFlow: no panic, no record without addresses or rate; seeds are
// the committed corpus (real sFlow datagrams, see testdata/PROVENANCE.md).
func FuzzDecodeSFlow(f *testing.F) {
	f.Add(encodeSFlow(3, 256))
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
