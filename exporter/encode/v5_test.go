package encode

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
)

func TestNetFlowV5RoundTrip(t *testing.T) {
	const rate = 100
	boot := testNow.Add(-3 * time.Hour)
	recs := records(70, rate, 7) // 10 IPv6 records, skipped
	e := NewExporter(flow.NetFlowV5, Options{SamplingRate: rate, RecordsPerPacket: 40, SourceID: 9, Boot: boot})
	ds := collect(e, testNow, recs)
	check(t, "skipped", e.Skipped(), 10)
	check(t, "datagrams (60 records, v5 max 30)", len(ds), 2)
	var want []flow.Record
	for _, r := range recs {
		if r.Src.Is4() {
			want = append(want, r)
		}
	}
	i := 0
	for n, d := range ds {
		var p netflowlegacy.PacketNetFlowV5
		if err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(d), &p); err != nil {
			t.Fatal(err)
		}
		check(t, "count", int(p.Count), 30)
		check(t, "flow sequence", p.FlowSequence, uint32(n*30))
		check(t, "engine id", p.EngineId, 9)
		check(t, "sampling mode", p.SamplingInterval>>14, 1)
		check(t, "sampling interval", p.SamplingInterval&0x3fff, rate)
		check(t, "unix secs", int64(p.UnixSecs), testNow.Unix())
		check(t, "uptime", p.SysUptime, uint32(testNow.Sub(boot).Milliseconds()))
		for _, got := range p.Records {
			w := want[i]
			i++
			ip := func(v netflowlegacy.IPAddress) netip.Addr {
				return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			}
			check(t, "src", ip(got.SrcAddr), w.Src)
			check(t, "dst", ip(got.DstAddr), w.Dst)
			check(t, "sport", got.SrcPort, w.SrcPort)
			check(t, "dport", got.DstPort, w.DstPort)
			check(t, "proto", got.Proto, w.Proto)
			check(t, "flags", got.TCPFlags, w.TCPFlags)
			check(t, "packets×rate", uint64(got.DPkts)*rate, w.Packets)
			check(t, "bytes×rate", uint64(got.DOctets)*rate, w.Bytes)
			// Absolute time = export time − uptime + first.
			abs := func(up uint32) int64 { return testNow.UnixMilli() - int64(p.SysUptime) + int64(up) }
			check(t, "start", abs(got.First), w.Start)
			check(t, "end", abs(got.Last), w.End)
		}
	}
	check(t, "records decoded", i, len(want))
}
