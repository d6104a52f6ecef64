package flow

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// fuzzDecoder is a new decoder with small caps, so the fuzzer also
// exercises the limits. Each input gets new decoders: a failure then depends
// on its input alone and replays from the file the fuzzer writes.
func fuzzDecoder() *Decoder {
	return NewDecoder(Options{Metrics: metrics.NewSet(), Configuration: Configuration{MaxTemplates: 64, MaxSources: 4}})
}

// framedMagic starts a fuzz input that holds several datagrams of one
// exporter (templates first, then data, as a router sends them): after it,
// each datagram is a 2-byte big-endian length and that many bytes. Any other
// input is one datagram.
const framedMagic = "MW1"

// datagrams splits a fuzz input (see framedMagic); a frame cut short is
// taken as it is, so every mutation is still decoded.
func datagrams(b []byte) [][]byte {
	if !bytes.HasPrefix(b, []byte(framedMagic)) {
		return [][]byte{b}
	}
	var out [][]byte
	for b = b[len(framedMagic):]; len(b) > 0; {
		if len(b) < 2 {
			return append(out, b)
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// framed joins datagrams into one fuzz input (the inverse of datagrams).
func framed(dgs ...[]byte) []byte {
	out := []byte(framedMagic)
	for _, d := range dgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(d)))
		out = append(out, d...)
	}
	return out
}

func checkRecord(t *testing.T, r *Record) {
	if r.SamplingRate == 0 {
		t.Fatalf("record with sampling rate 0: %+v", *r)
	}
	if !r.Src.IsValid() && !r.Dst.IsValid() {
		t.Fatalf("record without addresses: %+v", *r)
	}
}

// FuzzDecodeNetFlow: both decode paths must agree on every datagram of an
// input. Its seeds are the committed corpus (testdata/fuzz/FuzzDecodeNetFlow:
// each real vendor payload alone, and each vendor's template and data
// payloads in one framed input, see testdata/PROVENANCE.md) and the edge
// cases below, so a plain `go test` replays them all, and a failure found is
// reproducible from the one file the fuzzer writes there.
func FuzzDecodeNetFlow(f *testing.F) {
	tpl, data := encodeV9(13)
	f.Add(tpl)
	for _, pad := range [][]byte{nil, {0}, {0, 0, 0}, {0, 0, 0, 0, 0}} {
		// RFC 3954's count (records, not flowsets) and trailing padding.
		f.Add(framed(tpl, v9WithCount(data, 13, pad...)))
		f.Add(v9WithCount(append(append([]byte(nil), tpl...), data[20:]...), 14, pad...))
	}
	itpl, idata := encodeIPFIX(5)
	f.Add(framed(itpl, idata))
	src := netip.MustParseAddrPort("192.0.2.1:2055")
	recv := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := fuzzDecoder()
		slow := fuzzDecoder() // goflow2's path only: the fast path must agree with it
		slow.slowOnly = true
		loop := fuzzDecoder() // in place, fillRecord's loop rather than layouts
		loop.loopOnly = true
		for i, dg := range datagrams(b) {
			n := 0
			var fast, ref, looped []Record
			err := d.DecodeNetFlow(src, recv, dg, func(r *Record) { n++; checkRecord(t, r); fast = append(fast, *r) })
			slowErr := slow.DecodeNetFlow(src, recv, dg, func(r *Record) { ref = append(ref, *r) })
			if !slices.Equal(fast, ref) || (err == nil) != (slowErr == nil) {
				t.Fatalf("datagram %d: fast path: %d records, err %v; goflow2 path: %d records, err %v", i, len(fast), err, len(ref), slowErr)
			}
			loopErr := loop.DecodeNetFlow(src, recv, dg, func(r *Record) { looped = append(looped, *r) })
			if !slices.Equal(fast, looped) || (err == nil) != (loopErr == nil) {
				t.Fatalf("datagram %d: layouts: %d records, err %v; loop: %d records, err %v", i, len(fast), err, len(looped), loopErr)
			}
			// A v5 datagram cannot hold more than 30 records; v9/IPFIX records take at least one byte each.
			if n > len(dg) {
				t.Fatalf("datagram %d: %d records from %d bytes", i, n, len(dg))
			}
			if d.Templates(src.Addr()) > 64 {
				t.Fatal("template cap exceeded")
			}
		}
	})
}

// FuzzDecodeSFlow: no panic, no record without addresses or rate, and the
// in-place path gives what goflow2's decoder gives; seeds are the committed
// corpus (real sFlow datagrams, see testdata/PROVENANCE.md).
func FuzzDecodeSFlow(f *testing.F) {
	f.Add(encodeSFlow(3, 256))
	src := netip.MustParseAddrPort("192.0.2.2:6343")
	f.Fuzz(func(t *testing.T, b []byte) {
		d := fuzzDecoder()    // per input: sFlow keeps per-source state too
		slow := fuzzDecoder() // goflow2's decoder only: the in-place path must agree with it
		slow.slowOnly = true
		n := 0
		var fast, ref []Record
		err := d.DecodeSFlow(src, time.Unix(1700000000, 0), b, func(r *Record) { n++; checkRecord(t, r); fast = append(fast, *r) })
		slowErr := slow.DecodeSFlow(src, time.Unix(1700000000, 0), b, func(r *Record) { ref = append(ref, *r) })
		if !slices.Equal(fast, ref) || (err == nil) != (slowErr == nil) {
			t.Fatalf("in place: %d records, err %v; goflow2: %d records, err %v", len(fast), err, len(ref), slowErr)
		}
		if n > len(b)/8 {
			t.Fatalf("%d records from %d bytes", n, len(b))
		}
	})
}
