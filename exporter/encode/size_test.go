package encode

import (
	"bytes"
	"testing"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
)

// With default options every datagram stays under 1400 bytes, no record is
// lost, and mostly-IPv6 batches are split earlier than RecordsPerPacket.
func TestDatagramsStayUnderMTU(t *testing.T) {
	recs := records(500, 8, 2)
	for _, p := range []flow.Protocol{flow.NetFlowV9, flow.IPFIX, flow.SFlowV5} {
		e := NewExporter(p, Options{SamplingRate: 8})
		ds := collect(e, testNow, recs)
		ts := netflow.CreateTemplateSystem()
		total := 0
		for _, d := range ds {
			if len(d) > 1400 {
				t.Errorf("%s: datagram of %d bytes", p, len(d))
			}
			switch p {
			case flow.SFlowV5:
				var sp sflow.Packet
				if err := sflow.DecodeMessageVersion(bytes.NewBuffer(d), &sp); err != nil {
					t.Fatal(err)
				}
				total += len(sp.Samples)
			default:
				var v9 netflow.NFv9Packet
				var fix netflow.IPFIXPacket
				if err := netflow.DecodeMessageVersion(bytes.NewBuffer(d), ts, &v9, &fix); err != nil {
					t.Fatal(err)
				}
				for _, s := range append(v9.FlowSets, fix.FlowSets...) {
					if ds, ok := s.(netflow.DataFlowSet); ok {
						total += len(ds.Records)
					}
				}
			}
		}
		check(t, p.String()+" records", total, len(recs))
		if len(ds) <= len(recs)/24 {
			t.Errorf("%s: %d datagrams for %d records: no size split", p, len(ds), len(recs))
		}
	}
}
