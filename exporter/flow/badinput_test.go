package flow

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// v9Template builds a NetFlow v9 datagram holding one template set with the given template ids
// (each: IPv4 src/dst, ports, protocol, bytes, packets).
func v9Templates(ids ...uint16) []byte {
	var set bytes.Buffer
	for _, id := range ids {
		binary.Write(&set, binary.BigEndian, []uint16{id, 7, ieSrcIPv4, 4, ieDstIPv4, 4, ieSrcPort, 2, ieDstPort, 2, ieProtocol, 1, ieOctetDelta, 4, iePacketDelta, 4})
	}
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint16{9, uint16(len(ids))})
	binary.Write(&b, binary.BigEndian, []uint32{1000, uint32(time.Now().Unix()), 1, 0})
	binary.Write(&b, binary.BigEndian, []uint16{0, uint16(4 + set.Len())})
	b.Write(set.Bytes())
	return b.Bytes()
}

func counterValue(t *testing.T, set *metrics.Set, name string) uint64 {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, name+" ") {
			var v float64
			if _, err := fmtSscan(strings.TrimPrefix(l, name+" "), &v); err != nil {
				t.Fatal(err)
			}
			return uint64(v)
		}
	}
	return 0
}

func TestBadInputCountedCappedAndRateLimited(t *testing.T) {
	set := metrics.NewSet()
	var logs bytes.Buffer
	d := NewDecoder(Options{Metrics: set, Configuration: Configuration{MaxTemplates: 10, MaxSources: 3}, MaxDatagram: 9000,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	src := netip.MustParseAddrPort("198.51.100.1:5000")
	now := time.Now()
	none := func(r *Record) { t.Errorf("bad input produced a record %+v", *r) }
	invalid, err := os.ReadFile(filepath.Join(payloadDir(t), "netflow5_test_invalid01.dat"))
	if err != nil {
		t.Fatal(err)
	}
	valid5, _ := os.ReadFile(filepath.Join(payloadDir(t), "netflow5.dat"))
	cases := []struct {
		name, reason string
		proto        Protocol
		payload      []byte
		sflow        bool
	}{
		{"empty", ReasonTruncated, 0, nil, false},
		{"one byte", ReasonTruncated, 0, []byte{0}, false},
		{"garbage", ReasonWrongVersion, 0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"v5 header only", ReasonTruncated, NetFlowV5, valid5[:24], false},
		{"v5 cut record", ReasonTruncated, NetFlowV5, valid5[:24+48+10], false},
		{"v5 claims 55582 records", ReasonMalformed, NetFlowV5, invalid, false},
		{"oversized", ReasonOversized, NetFlowV5, append(append([]byte{}, valid5...), make([]byte, 9000)...), false},
		{"v9 truncated header", ReasonTruncated, NetFlowV9, []byte{0, 9, 0, 1, 0, 0}, false},
		{"ipfix length beyond datagram", ReasonTruncated, IPFIX, []byte{0, 10, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 4}, false},
		{"sflow wrong version", ReasonWrongVersion, SFlowV5, append([]byte{0, 0, 0, 4}, make([]byte, 40)...), true},
		{"sflow truncated", ReasonTruncated, SFlowV5, []byte{0, 0, 0, 5, 0, 0, 0, 1}, true},
		{"sflow garbage", ReasonMalformed, SFlowV5, append([]byte{0, 0, 0, 5, 0, 0, 0, 9}, make([]byte, 40)...), true},
	}
	for _, c := range cases {
		for i := 0; i < 3; i++ { // repeated: counted each time, logged once
			var err error
			if c.sflow {
				err = d.DecodeSFlow(src, now, c.payload, none)
			} else {
				err = d.DecodeNetFlow(src, now, c.payload, none)
			}
			if ErrorReason(err) != c.reason {
				t.Errorf("%s: error %v, want reason %s", c.name, err, c.reason)
			}
		}
		name := `minewatch_flow_decode_errors_total{source="198.51.100.1",protocol="` + c.proto.String() + `",reason="` + c.reason + `"}`
		if v := counterValue(t, set, name); v < 3 {
			t.Errorf("%s: %s = %d, want >= 3", c.name, name, v)
		}
	}

	// Data before its template: template_missing, no record.
	data := []byte{0, 9, 0, 1, 0, 0, 3, 232, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 44, 0, 25, 10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 0, 81, 6, 0, 0, 0, 100, 0, 0, 0, 1}
	if err := d.DecodeNetFlow(src, now, data, none); ErrorReason(err) != ReasonTemplateMissing {
		t.Errorf("data without template: %v", err)
	}
	// Once the template arrives the same data decodes.
	if err := d.DecodeNetFlow(src, now, v9Templates(300), func(*Record) {}); err != nil {
		t.Fatal(err)
	}
	var got []Record
	if err := d.DecodeNetFlow(src, now, data, func(r *Record) { got = append(got, *r) }); err != nil || len(got) != 1 ||
		got[0].Bytes != 100 || got[0].DstPort != 81 || got[0].Src != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("data after template: %v %+v", err, got)
	}

	// Template flood: 500 new template ids from one source; only MaxTemplates kept.
	for i := 0; i < 50; i++ {
		ids := make([]uint16, 10)
		for j := range ids {
			ids[j] = uint16(1000 + i*10 + j)
		}
		d.DecodeNetFlow(src, now, v9Templates(ids...), func(*Record) {})
	}
	if n := d.Templates(src.Addr()); n != 10 {
		t.Errorf("templates held after a flood: %d, want the cap 10", n)
	}
	if v := counterValue(t, set, `minewatch_flow_decode_errors_total{source="198.51.100.1",protocol="netflow_v9",reason="template_limit"}`); v == 0 {
		t.Error("template flood not counted")
	}
	if v := counterValue(t, set, `minewatch_flow_templates{source="198.51.100.1"}`); v != 10 {
		t.Errorf("templates gauge %d", v)
	}

	// One template of 600 fields (a datagram can hold 16 000): refused, not stored.
	var big bytes.Buffer
	binary.Write(&big, binary.BigEndian, []uint16{9, 1})
	binary.Write(&big, binary.BigEndian, []uint32{1000, uint32(now.Unix()), 1, 7})
	binary.Write(&big, binary.BigEndian, []uint16{0, 4 + 4 + 600*4, 400, 600})
	for i := 0; i < 600; i++ {
		binary.Write(&big, binary.BigEndian, []uint16{ieOctetDelta, 4})
	}
	other := netip.MustParseAddrPort("198.51.100.2:5000")
	if err := d.DecodeNetFlow(other, now, big.Bytes(), none); ErrorReason(err) != ReasonTemplateLimit || d.Templates(other.Addr()) != 0 {
		t.Errorf("600-field template: %v, %d templates held", err, d.Templates(other.Addr()))
	}

	// Source flood: 100 exporters; only MaxSources kept, each newcomer
	// displacing the least recently heard source (counted).
	for i := 0; i < 100; i++ {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 2055)
		d.DecodeNetFlow(a, now, valid5, func(*Record) {})
	}
	if n := d.Sources(); n != 3 {
		t.Errorf("sources held: %d, want 3", n)
	}
	if v := counterValue(t, set, `minewatch_flow_sources_expired_total{reason="displaced"}`); v < 97 {
		t.Errorf("displaced sources counted %d, want >= 97", v)
	}

	// Logged once per source and reason despite the repeats.
	for _, c := range cases {
		if n := strings.Count(logs.String(), "reason="+c.reason+" "); n == 0 {
			t.Errorf("reason %s never logged", c.reason)
		}
	}
	// truncated happens under five protocols (unknown, v5, v9, ipfix, sflow): one line each.
	if n := strings.Count(logs.String(), "reason=truncated"); n != 5 {
		t.Errorf("truncated logged %d times, want 5", n)
	}
	lines := strings.Count(logs.String(), "\n")
	if lines > 20 {
		t.Errorf("%d log lines for ~140 bad datagrams: not rate-limited\n%s", lines, logs.String())
	}
}
