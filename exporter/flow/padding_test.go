package flow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// v9WithCount rewrites the header count of a v9 datagram and appends pad bytes.
func v9WithCount(b []byte, count uint16, pad ...byte) []byte {
	c := append(append([]byte(nil), b...), pad...)
	binary.BigEndian.PutUint16(c[2:], count)
	return c
}

// TestV9RecordCountAndPaddingBothPaths: a v9 header whose count follows RFC
// 3954 (records, not flowsets) followed by 1–3 padding bytes or a zero set
// header must give every record, on the in-place path and on goflow2's path
// alike, whether the datagram holds data sets only or templates too.
func TestV9RecordCountAndPaddingBothPaths(t *testing.T) {
	tpl, data := encodeV9(13)
	both := append(append([]byte(nil), tpl...), data[20:]...) // template set + data set in one datagram
	type tc struct {
		b       []byte
		needTpl bool // data only: the template datagram goes first
	}
	cases := map[string]tc{}
	for _, pad := range [][]byte{nil, {0}, {0, 0}, {0, 0, 0}, {0xff, 0xff, 0xff}, {0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0}} {
		for _, count := range []uint16{1, 2, 13, 14, 300} {
			suffix := fmt.Sprintf("/count=%d/pad=%x", count, pad)
			cases["data"+suffix] = tc{v9WithCount(data, count, pad...), true}
			cases["tpl+data"+suffix] = tc{v9WithCount(both, count, pad...), false}
		}
	}
	src := netip.MustParseAddrPort("192.0.2.9:2055")
	recv := time.Unix(1700000000, 0)
	for name, c := range cases {
		var got [2][]Record
		var errs [2]error
		for i, slowOnly := range []bool{false, true} {
			d := NewDecoder(Options{Metrics: metrics.NewSet()})
			d.slowOnly = slowOnly
			if c.needTpl {
				if err := d.DecodeNetFlow(src, recv, tpl, func(*Record) {}); err != nil {
					t.Fatal(err)
				}
			}
			errs[i] = d.DecodeNetFlow(src, recv, c.b, func(r *Record) { got[i] = append(got[i], *r) })
		}
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("%s: errors fast %v, goflow2 %v", name, errs[0], errs[1])
		}
		if len(got[0]) != 13 || !slices.Equal(got[0], got[1]) {
			t.Errorf("%s: fast path %d records, goflow2 path %d records, want 13 alike", name, len(got[0]), len(got[1]))
		}
	}
}

// TestV9BadSetAfterDataStillFails: a set header with an impossible length
// after the data is malformed on both paths (not silently cut off as padding).
func TestV9BadSetAfterDataStillFails(t *testing.T) {
	tpl, data := encodeV9(3)
	bad := v9WithCount(data, 2, 0x01, 0x00, 0x00, 0x02) // set id 256, length 2
	for _, slowOnly := range []bool{false, true} {
		d := NewDecoder(Options{Metrics: metrics.NewSet()})
		d.slowOnly = slowOnly
		src := netip.MustParseAddrPort("192.0.2.9:2055")
		d.DecodeNetFlow(src, time.Unix(1700000000, 0), tpl, func(*Record) {})
		err := d.DecodeNetFlow(src, time.Unix(1700000000, 0), bad, func(*Record) {})
		if ErrorReason(err) != ReasonMalformed && ErrorReason(err) != ReasonTruncated {
			t.Errorf("slowOnly=%v: err %v, want malformed", slowOnly, err)
		}
	}
}

// TestTemplatesThenDataReadInPlace: a datagram holding a template set and
// then data sets (how exporters refresh templates) has only its template
// set decoded by goflow2; its data is read in place, so it costs a few
// allocations, where goflow2's decode of the data costs several per record.
// The records themselves are compared with goflow2's path by the fuzzer and
// TestV9RecordCountAndPaddingBothPaths.
func TestTemplatesThenDataReadInPlace(t *testing.T) {
	tpl, data := encodeV9(13)
	both := v9WithCount(append(append([]byte(nil), tpl...), data[20:]...), 2)
	src := netip.MustParseAddrPort("192.0.2.9:2055")
	recv := time.Unix(1700000000, 0)
	allocs := map[bool]float64{}
	for _, slowOnly := range []bool{false, true} {
		d := NewDecoder(Options{Metrics: metrics.NewSet()})
		d.slowOnly = slowOnly
		n := 0
		allocs[slowOnly] = testing.AllocsPerRun(20, func() {
			if err := d.DecodeNetFlow(src, recv, both, func(*Record) { n++ }); err != nil {
				t.Fatal(err)
			}
		})
		if n != 21*13 {
			t.Errorf("slowOnly=%v: %d records from 21 decodes of 13", slowOnly, n)
		}
	}
	if allocs[false]*3 > allocs[true] {
		t.Errorf("templates + data: %.0f allocations a datagram, goflow2 whole %.0f: the data was not read in place", allocs[false], allocs[true])
	}
	t.Logf("allocations a datagram: in place %.0f, goflow2 %.0f", allocs[false], allocs[true])
}
