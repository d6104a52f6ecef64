package encode

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

func uintOf(t *testing.T, v any) uint64 {
	t.Helper()
	b, ok := v.([]byte)
	if !ok || len(b) > 8 {
		t.Fatalf("field value %T %v", v, v)
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}

// templatedRoundTrip decodes every datagram with one goflow2 template system
// (as a collector would) and checks every field of every record.
func templatedRoundTrip(t *testing.T, p flow.Protocol) {
	const rate, per, every = 64, 10, 3
	boot := testNow.Add(-90 * time.Minute)
	recs := records(95, rate, 4)
	e := NewExporter(p, Options{SamplingRate: rate, RecordsPerPacket: per, SourceID: 77, Boot: boot, TemplateEvery: every})
	ds := collect(e, testNow, recs)
	check(t, "datagrams", len(ds), 10)
	ts := netflow.CreateTemplateSystem()
	i := 0
	for n, d := range ds {
		var v9 netflow.NFv9Packet
		var fix netflow.IPFIXPacket
		if err := netflow.DecodeMessageVersion(bytes.NewBuffer(d), ts, &v9, &fix); err != nil {
			t.Fatalf("datagram %d: %v", n, err)
		}
		sets, uptime := v9.FlowSets, v9.SystemUptime
		if p == flow.IPFIX {
			sets = fix.FlowSets
			check(t, "ipfix length", int(fix.Length), len(d))
			check(t, "ipfix sequence", fix.SequenceNumber, uint32(n*per))
			check(t, "observation domain", fix.ObservationDomainId, 77)
			check(t, "export time", int64(fix.ExportTime), testNow.Unix())
		} else {
			check(t, "v9 sequence", v9.SequenceNumber, uint32(n))
			check(t, "source id", v9.SourceId, 77)
			check(t, "uptime", uptime, uint32(testNow.Sub(boot).Milliseconds()))
			check(t, "unix secs", int64(v9.UnixSeconds), testNow.Unix())
		}
		templates, count := 0, 0
		for _, s := range sets {
			switch s := s.(type) {
			case netflow.TemplateFlowSet:
				templates++
				count += len(s.Records)
			case netflow.DataFlowSet:
				count += len(s.Records)
				for _, dr := range s.Records {
					checkRecord(t, p, recs[i], dr.Values, testNow.UnixMilli()-int64(uptime))
					i++
				}
			default:
				t.Fatalf("datagram %d: unexpected set %T", n, s)
			}
		}
		check(t, "template set present", templates == 1, n%every == 0)
		if p == flow.NetFlowV9 {
			check(t, "v9 header count", int(v9.Count), count)
		}
		if len(d)%4 != 0 {
			t.Errorf("datagram %d length %d not 4-aligned", n, len(d))
		}
	}
	check(t, "records decoded", i, len(recs))
}

func checkRecord(t *testing.T, p flow.Protocol, w flow.Record, vs []netflow.DataField, bootMs int64) {
	t.Helper()
	seen := map[uint16]bool{}
	for _, f := range vs {
		seen[f.Type] = true
		switch f.Type {
		case 8, 27:
			check(t, "src", addrFrom(f.Value.([]byte)), w.Src)
		case 12, 28:
			check(t, "dst", addrFrom(f.Value.([]byte)), w.Dst)
		case 7:
			check(t, "sport", uintOf(t, f.Value), uint64(w.SrcPort))
		case 11:
			check(t, "dport", uintOf(t, f.Value), uint64(w.DstPort))
		case 4:
			check(t, "proto", uintOf(t, f.Value), uint64(w.Proto))
		case 6:
			check(t, "flags", uintOf(t, f.Value), uint64(w.TCPFlags))
		case 2:
			check(t, "packets×rate", uintOf(t, f.Value)*uint64(w.SamplingRate), w.Packets)
		case 1:
			check(t, "bytes×rate", uintOf(t, f.Value)*uint64(w.SamplingRate), w.Bytes)
		case 34:
			check(t, "samplingInterval", uintOf(t, f.Value), uint64(w.SamplingRate))
		case 22: // v9 first switched: sysUptime-relative
			check(t, "start", bootMs+int64(uintOf(t, f.Value)), w.Start)
		case 21:
			check(t, "end", bootMs+int64(uintOf(t, f.Value)), w.End)
		case 152:
			check(t, "flowStartMilliseconds", int64(uintOf(t, f.Value)), w.Start)
		case 153:
			check(t, "flowEndMilliseconds", int64(uintOf(t, f.Value)), w.End)
		default:
			t.Errorf("unexpected field %d", f.Type)
		}
	}
	want := []uint16{7, 11, 4, 6, 2, 1, 34, 22, 21}
	if p == flow.IPFIX {
		want = []uint16{7, 11, 4, 6, 2, 1, 34, 152, 153}
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("field %d missing", id)
		}
	}
	if len(vs) != 11 {
		t.Errorf("record has %d fields, want 11", len(vs))
	}
}

func TestNetFlowV9RoundTrip(t *testing.T) { templatedRoundTrip(t, flow.NetFlowV9) }
func TestIPFIXRoundTrip(t *testing.T)     { templatedRoundTrip(t, flow.IPFIX) }

// A collector that starts listening after the first packet must learn the
// template within TemplateEvery packets.
func TestTemplateRefreshForLateCollector(t *testing.T) {
	e := NewExporter(flow.NetFlowV9, Options{RecordsPerPacket: 5, TemplateEvery: 4})
	ds := collect(e, testNow, records(40, 1, 0))
	ts := netflow.CreateTemplateSystem()
	decoded := 0
	for n, d := range ds[1:] {
		var v9 netflow.NFv9Packet
		err := netflow.DecodeMessageVersion(bytes.NewBuffer(d), ts, &v9, nil)
		if n+1 < 4 {
			if err == nil {
				t.Fatalf("packet %d decoded before any template was resent", n+1)
			}
			continue
		}
		if err != nil {
			t.Fatalf("packet %d after refresh: %v", n+1, err)
		}
		decoded++
	}
	check(t, "packets decoded after refresh", decoded, 4)
	check(t, "first packet sequence", binary.BigEndian.Uint32(ds[0][12:]), 0)
}
