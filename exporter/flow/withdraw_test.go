package flow

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// TestTemplateOfNoBytes: a template whose records have no bytes is never
// stored. An IPFIX withdrawal (no fields, RFC 7011 §8.1) forgets the
// template it names; a v9 template of no fields learns nothing. A data set
// of either id then counts as of a missing template instead of hanging
// goflow2's decoder, which reads records of no bytes for ever (the input
// FuzzDecodeNetFlow found, testdata/fuzz/FuzzDecodeNetFlow/4b0c723109c22da3).
func TestTemplateOfNoBytes(t *testing.T) {
	d := NewDecoder(Options{})
	now := time.Now()
	count := func(src netip.AddrPort, b []byte) (int, error) {
		n := 0
		err := d.DecodeNetFlow(src, now, b, func(*Record) { n++ })
		return n, err
	}

	src := netip.MustParseAddrPort("198.51.100.7:4739")
	tpl, data := encodeIPFIX(5)
	if _, err := count(src, tpl); err != nil {
		t.Fatal(err)
	}
	if n, err := count(src, data); err != nil || n != 5 {
		t.Fatalf("before the withdrawal: %d records, %v; want 5", n, err)
	}
	var w bytes.Buffer // template set: template 256, no fields
	put(&w, uint16(10), uint16(16+8), uint32(1700000000), uint32(2), uint32(0), uint16(2), uint16(8), uint16(256), uint16(0))
	if _, err := count(src, w.Bytes()); err != nil {
		t.Fatalf("withdrawal: %v", err)
	}
	if got := d.Templates(src.Addr()); got != 0 {
		t.Errorf("after the withdrawal the exporter has %d templates, want 0", got)
	}
	if n, err := count(src, data); n != 0 || ErrorReason(err) != ReasonTemplateMissing {
		t.Errorf("data of a withdrawn template: %d records, reason %q; want 0, %q", n, ErrorReason(err), ReasonTemplateMissing)
	}

	src9 := netip.MustParseAddrPort("198.51.100.8:2055")
	var v bytes.Buffer // a template set with template 300 of no fields, then a data set of 300
	put(&v, uint16(9), uint16(2), uint32(1000), uint32(now.Unix()), uint32(1), uint32(0),
		uint16(0), uint16(8), uint16(300), uint16(0),
		uint16(300), uint16(4+40))
	v.Write(make([]byte, 40))
	done := make(chan struct{})
	var n int
	var err error
	go func() { n, err = count(src9, v.Bytes()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a data set of a template of no bytes did not decode within 10 s")
	}
	if n != 0 || ErrorReason(err) != ReasonTemplateMissing {
		t.Errorf("v9 template of no fields, then its data: %d records, reason %q; want 0, %q", n, ErrorReason(err), ReasonTemplateMissing)
	}
	if got := d.Templates(src9.Addr()); got != 0 {
		t.Errorf("v9 exporter has %d templates after a template of no fields, want 0", got)
	}
}
