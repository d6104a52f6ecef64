package flow

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// TestLayoutAgreesWithLoopOnRealPayloads decodes every vendor's payloads
// with the templates' layouts and with fillRecord's loop on the same
// in-place path: every field of every record must be the same.
func TestLayoutAgreesWithLoopOnRealPayloads(t *testing.T) {
	lay, d := decodeRealPayloads(t)
	loop, _ := decodeRealPayloadsWith(t, func(d *Decoder) { d.loopOnly = true })
	total := 0
	for name, f := range lay {
		s := loop[name]
		if !slices.Equal(f.records, s.records) || len(f.errs) != len(s.errs) {
			t.Errorf("%s: layout %d records %v, loop %d records %v", name, len(f.records), f.errs, len(s.records), s.errs)
			continue
		}
		total += len(f.records)
	}
	// The comparison is worth something only if layouts were used.
	layouts, templates := 0, 0
	d.mu.RLock()
	for _, s := range d.sources {
		s.templates.mu.RLock()
		for _, e := range s.templates.m {
			templates++
			if e.fast != nil && e.fast.lay != nil {
				layouts++
			}
		}
		s.templates.mu.RUnlock()
	}
	d.mu.RUnlock()
	if total == 0 || layouts == 0 {
		t.Fatalf("%d records, %d of %d templates with a layout", total, layouts, templates)
	}
	t.Logf("%d payloads, %d records alike; %d of %d templates held read by layout", len(lay), total, layouts, templates)
}

// TestLayoutFieldForField compares layout.fill with fillRecord on random
// records of templates made of every kind read, at every width an exporter
// may use (reduced-size encoding included), in random orders.
func TestLayoutFieldForField(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 12))
	kinds := []uint8{kOctets, kPackets, kAltOctets, kAltPackets, kProto, kFlags, kSrcPort, kDstPort, kSrcAddr, kDstAddr,
		kUpStart, kUpEnd, kRate, kPktInterval, kPktSpace}
	starts := []uint8{kStartSec, kStartMs, kStartNTP, kStartDelta}
	ends := []uint8{kEndSec, kEndMs, kEndNTP, kEndDelta}
	widths := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16}
	withLayout, flows := 0, 0
	// The default rate stands for "no rate of its own" (emitter.record).
	d := NewDecoder(Options{Metrics: metrics.NewSet(), DefaultSampling: 7_777_777})
	s := d.source(netip.MustParseAddr("192.0.2.7"), time.Now().UnixNano())
	clk := clockFix{recvMs: 1_700_000_100_000, latest: math.MaxInt64, proto: IPFIX}
	for tpl := 0; tpl < 3000; tpl++ {
		// A template: a random subset of kinds, each once (or, now and
		// then, twice: no layout), random widths, unread gaps between.
		var fields []compiledField
		off := rng.IntN(6)
		// At most one field of the start times, one of the end times.
		ks := append([]uint8{starts[rng.IntN(4)], ends[rng.IntN(4)]}, kinds...)
		for _, k := range ks {
			if rng.IntN(3) == 0 {
				continue
			}
			w := widths[rng.IntN(len(widths))]
			if rng.IntN(2) == 0 { // the usual widths more often
				w = map[uint8]int{kProto: 1, kFlags: 1, kSrcPort: 2, kDstPort: 2, kSrcAddr: 4, kDstAddr: 16, kStartNTP: 8, kEndNTP: 8}[k]
				if w == 0 {
					w = []int{4, 8}[rng.IntN(2)]
				}
			}
			fields = append(fields, compiledField{off: off, len: w, kind: k})
			off += w + rng.IntN(3)
		}
		if len(fields) > 1 && rng.IntN(10) == 0 {
			dup := fields[rng.IntN(len(fields))]
			dup.off = off
			fields = append(fields, dup)
			off += dup.len
		}
		rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
		recLen := off
		lay := newLayout(fields, recLen)
		if lay == nil {
			continue
		}
		withLayout++
		for range 20 {
			const at = 20 // after a v9 header, as records are
			b := make([]byte, at+recLen)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			for i := at; i < len(b); i++ { // zeros and small values, as real records have
				switch rng.IntN(4) {
				case 0:
					b[i] = 0
				case 1:
					b[i] &= 3
				}
			}
			exportMs, sysInit := int64(1_700_000_000_000), int64(1_699_000_000_000)+int64(rng.IntN(1<<30))
			hasInit := rng.IntN(2) == 0
			if rng.IntN(8) == 0 {
				sysInit = 0
			}
			st := newStamp(exportMs, sysInit, hasInit)
			// Both through an emitter whose clock keeps every record and
			// whose default rate stands out: a record's own rate (or its
			// absence), upOnly and upDur all show in what is emitted.
			var want Record
			wantN, wantOut := 0, Record{}
			we := emitter{d: d, s: s, proto: IPFIX, clk: clk, st: st, rec: &want,
				emit: func(r *Record) { wantN++; wantOut = *r }}
			we.record(fillRecord(&want, b[at:], fields, &st))
			// got holds the previous record's values (the decoder does not
			// clear it between records): fill must write every field but
			// Exporter and Protocol.
			got := Record{Start: 1, End: 2, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("2001:db8::1"),
				SrcPort: 3, DstPort: 4, Proto: 5, TCPFlags: 6, Packets: 7, Bytes: 8, SamplingRate: 9}
			gotN, gotOut := 0, Record{}
			ge := emitter{d: d, s: s, proto: IPFIX, clk: clk, st: st, rec: &got,
				emit: func(r *Record) { gotN++; gotOut = *r }}
			lay.fill(b, at, at+recLen, &ge)
			if want.Src.IsValid() || want.Dst.IsValid() {
				flows++
			}
			if wantN != gotN || wantOut != gotOut || we.clk.counts != ge.clk.counts || we.clk.rated != ge.clk.rated || we.n != ge.n {
				t.Fatalf("template %+v:\nloop   %d %+v %+v\nlayout %d %+v %+v", fields, wantN, wantOut, we.clk, gotN, gotOut, ge.clk)
			}
		}
	}
	if flows < 10000 {
		t.Fatalf("only %d records with an address", flows)
	}
	if withLayout < 1000 {
		t.Fatalf("only %d templates with a layout", withLayout)
	}
}

// TestNoLayoutForRepeatedValues: a value given by two fields (which one wins
// is fillRecord's rule) has no layout.
func TestNoLayoutForRepeatedValues(t *testing.T) {
	for _, pair := range [][2]uint8{{kSrcAddr, kSrcAddr}, {kStartSec, kStartMs}, {kEndNTP, kEndDelta}, {kAltOctets, kAltOctets}, {kOctets, kOctets}} {
		fields := []compiledField{{off: 0, len: 4, kind: pair[0]}, {off: 4, len: 4, kind: pair[1]}}
		if newLayout(fields, 8) != nil {
			t.Errorf("kinds %v: layout, want none", pair)
		}
	}
	if newLayout([]compiledField{{off: 0, len: 4, kind: kStartSec}, {off: 4, len: 4, kind: kEndMs}}, 8) == nil {
		t.Error("start seconds and end milliseconds: no layout")
	}
}

// TestTemplateRefresh: a template announced again unchanged before data is
// only stamped; one announced changed is learnt (and its records read by the
// new layout); the records are those goflow2's path gives.
func TestTemplateRefresh(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.77:2055")
	recv := time.Unix(1700000000, 0)
	tpl, data := encodeV9(3)
	refresh := func(tpl, data []byte) []byte { // the template set before the data set, one datagram
		b := append(append([]byte(nil), tpl...), data[20:]...)
		binary.BigEndian.PutUint16(b[2:], 2)
		return b
	}
	// The same template with the packet count 8 bytes wide instead of 4.
	var wide bytes.Buffer
	wide.Write(tpl[:24])
	put(&wide, uint16(256), uint16(len(benchFields)))
	for _, f := range benchFields {
		if f[0] == iePacketDelta {
			f[1] = 8
		}
		put(&wide, f[0], f[1])
	}
	var wideData bytes.Buffer
	wideData.Write(data[:24])
	for i := range 3 {
		var r bytes.Buffer
		benchRecord(&r, i)
		rb := r.Bytes()
		wideData.Write(rb[:18])
		put(&wideData, uint64(10+i)*1000) // packets, now 8 bytes
		wideData.Write(rb[22:])
	}
	wd := wideData.Bytes()
	binary.BigEndian.PutUint16(wd[22:], uint16(len(wd)-20))

	var decs [2]*Decoder
	var got [2][][]Record
	for i := range decs {
		decs[i] = NewDecoder(Options{Metrics: metrics.NewSet()})
		decs[i].slowOnly = i == 1
		for _, dg := range [][]byte{tpl, refresh(tpl, data), refresh(wide.Bytes(), wd), refresh(wide.Bytes(), wd)} {
			var recs []Record
			if err := decs[i].DecodeNetFlow(src, recv, dg, func(r *Record) { recs = append(recs, *r) }); err != nil {
				t.Fatal(err)
			}
			got[i] = append(got[i], recs)
		}
	}
	for j := range got[0] {
		if !slices.Equal(got[0][j], got[1][j]) {
			t.Errorf("datagram %d: in place %+v, goflow2 %+v", j, got[0][j], got[1][j])
		}
	}
	if len(got[0][3]) != 3 || got[0][3][2].Packets != 12_000 || got[0][1][2].Packets != 12 {
		t.Errorf("records after the refreshes: %+v", got[0])
	}

	// refreshed itself: true for the template as stored, false for a change.
	st := decs[0].sources[src.Addr()].templates
	end := leadingTemplates(refresh(wide.Bytes(), wd), 20, NetFlowV9)
	if !st.refreshed(refresh(wide.Bytes(), wd), 20, end, 9, 0, 5) {
		t.Error("the stored template announced again: not refreshed")
	}
	if e := st.m[templateKey(9, 0, 256)]; e.used.Load() != 5 {
		t.Errorf("refreshed template stamped %d, want 5", e.used.Load())
	}
	if st.refreshed(refresh(tpl, data), 20, end, 9, 0, 5) {
		t.Error("a changed template: refreshed")
	}
	if st.refreshed(refresh(wide.Bytes(), wd), 20, end, 9, 1, 5) {
		t.Error("a template of another domain: refreshed")
	}
	if _, ok := st.m[templateKey(9, 0, 256)].tpl.(netflow.TemplateRecord); !ok {
		t.Error("stored template is not a data template")
	}
}

// TestLayoutTimingShortcuts: the usual templates take fill's shortcuts
// (NetFlow v9's uptimes with the header's clocks, IPFIX's milliseconds),
// anything else layout.times; TestLayoutFieldForField checks that each
// gives the loop's values.
func TestLayoutTimingShortcuts(t *testing.T) {
	ms := []compiledField{{off: 0, len: 4, kind: kSrcAddr}, {off: 4, len: 8, kind: kStartMs}, {off: 12, len: 8, kind: kEndMs}}
	up := []compiledField{{off: 0, len: 4, kind: kSrcAddr}, {off: 4, len: 4, kind: kUpStart}, {off: 8, len: 4, kind: kUpEnd}}
	ntp := []compiledField{{off: 0, len: 4, kind: kSrcAddr}, {off: 4, len: 8, kind: kStartNTP}}
	upAndSec := append(up[:3:3], compiledField{off: 12, len: 4, kind: kEndSec})
	known := newStamp(1_700_000_000_000, 1_699_000_000_000, true)
	unknown := newStamp(1_700_000_000_000, 0, false)
	for _, c := range []struct {
		name   string
		fields []compiledField
		st     stamp
		want   int
	}{
		{"ipfix milliseconds", ms, known, timedAbsolute},
		{"no time fields", ms[:1:1], unknown, timedAbsolute},
		{"v9 uptimes", up, known, timedByUp},
		{"uptimes, boot time unknown", up, unknown, timedOtherwise},
		{"uptimes and seconds", upAndSec, known, timedOtherwise},
		{"ntp", ntp, known, timedOtherwise},
	} {
		l := newLayout(c.fields, 24)
		if l == nil {
			t.Fatalf("%s: no layout", c.name)
		}
		if got := l.timing(&c.st); got != c.want {
			t.Errorf("%s: timing %d, want %d", c.name, got, c.want)
		}
	}
}
