package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func TestSamplingScalesAndConfigOverrides(t *testing.T) {
	fromConfig := netip.MustParseAddrPort("192.0.2.50:2055")
	plain := netip.MustParseAddrPort("192.0.2.51:2055")
	d := NewDecoder(Options{Metrics: metrics.NewSet(), DefaultSampling: 4, Sampling: map[netip.Addr]uint32{fromConfig.Addr(): 100}})
	collect := func(src netip.AddrPort, sflow bool, b []byte) (recs []Record) {
		f := d.DecodeNetFlow
		if sflow {
			f = d.DecodeSFlow
		}
		if err := f(src, time.Unix(1700000000, 0), b, func(r *Record) { recs = append(recs, *r) }); err != nil {
			t.Fatal(err)
		}
		return recs
	}
	// v5 saying 1:10 in its header: the packet's rate, unless the config overrides it.
	if r := collect(plain, false, encodeV5(3, 10))[2]; r.SamplingRate != 10 || r.Packets != 12*10 || r.Bytes != 1002*10 {
		t.Errorf("v5 1:10: %+v", r)
	}
	if r := collect(fromConfig, false, encodeV5(3, 10))[2]; r.SamplingRate != 100 || r.Packets != 1200 || r.Bytes != 100200 {
		t.Errorf("v5 overridden 1:100: %+v", r)
	}
	// v5 saying nothing: the default rate.
	if r := collect(plain, false, encodeV5(3, 0))[0]; r.SamplingRate != 4 || r.Packets != 40 {
		t.Errorf("v5 default 1:4: %+v", r)
	}
	// sFlow: one sample = rate packets and frame length (here 100+i bytes plus the 4-byte FCS) × rate bytes.
	recs := collect(plain, true, encodeSFlow(5, 512))
	if len(recs) != 5 {
		t.Fatalf("%d sFlow records", len(recs))
	}
	r := recs[4]
	if r.SamplingRate != 512 || r.Packets != 512 || r.Bytes != (100+4+4)*512 || r.Src != netip.MustParseAddr("10.0.0.4") ||
		r.Dst != netip.MustParseAddr("203.0.113.4") || r.SrcPort != 40004 || r.DstPort != 3333 || r.Proto != 6 || r.TCPFlags != 0x18 ||
		r.Start != 1700000000000 {
		t.Errorf("sFlow record %+v", r)
	}
	// v9 and IPFIX from the benchmark encoders: times from uptime / absolute ms.
	tpl, data := encodeV9(2)
	collect(plain, false, tpl)
	if r := collect(plain, false, data)[1]; r.Start != 1700000000000-10000 || r.End != 1700000000000-1000 || r.Bytes != 1001*4 {
		t.Errorf("v9 record %+v", r)
	}
	tpl, data = encodeIPFIX(2)
	collect(plain, false, tpl)
	if r := collect(plain, false, data)[1]; r.Start != 1699999990000 || r.End != 1699999999000 || r.Packets != 11*4 {
		t.Errorf("IPFIX record %+v", r)
	}
}
