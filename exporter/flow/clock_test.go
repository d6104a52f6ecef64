package flow

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/names"
	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// v9Times is one NetFlow v9 datagram (template and data) whose header says
// exportSec and uptime, with one record switched at first..last (uptime ms).
func v9Times(exportSec, uptime, first, last uint32) []byte {
	var body bytes.Buffer
	put(&body, uint16(0), uint16(4+4+4*len(benchFields)), uint16(256), uint16(len(benchFields)))
	for _, f := range benchFields {
		put(&body, f[0], f[1])
	}
	put(&body, uint16(256), uint16(4+4+4+2+2+1+1+4+4+4+4))
	put(&body, [4]byte{10, 0, 0, 7}, [4]byte{203, 0, 113, 9}, uint16(40000), uint16(3333),
		uint8(6), uint8(0x18), uint32(1000), uint32(10), first, last)
	var b bytes.Buffer
	put(&b, uint16(9), uint16(2), uptime, exportSec, uint32(1), uint32(0))
	b.Write(body.Bytes())
	return b.Bytes()
}

// ipfixUptimeOnly is one IPFIX datagram (template and data) whose record is
// timed by flowStart/EndSysUpTime (22/21) only, with no
// systemInitTimeMilliseconds option anywhere.
func ipfixUptimeOnly(exportSec, first, last uint32) []byte {
	var body bytes.Buffer
	put(&body, uint16(2), uint16(4+4+4*len(benchFields)), uint16(256), uint16(len(benchFields)))
	for _, f := range benchFields {
		put(&body, f[0], f[1])
	}
	put(&body, uint16(256), uint16(4+4+4+2+2+1+1+4+4+4+4))
	put(&body, [4]byte{10, 0, 0, 7}, [4]byte{203, 0, 113, 9}, uint16(40000), uint16(3333),
		uint8(6), uint8(0x18), uint32(1000), uint32(10), first, last)
	var b bytes.Buffer
	put(&b, uint16(10), uint16(16+body.Len()), exportSec, uint32(1), uint32(0))
	b.Write(body.Bytes())
	return b.Bytes()
}

// logLines collects the decoder's warnings.
type logLines struct{ bytes.Buffer }

func (l *logLines) count(substr string) int { return strings.Count(l.String(), substr) }

func newClockDecoder(t *testing.T, cfg Configuration, extra ...func(*Options)) (*Decoder, *metrics.Set, *logLines) {
	t.Helper()
	set, logs := metrics.NewSet(), &logLines{}
	opts := Options{Metrics: set, Configuration: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for _, f := range extra {
		f(&opts)
	}
	return NewDecoder(opts), set, logs
}

func metricValue(set *metrics.Set, series string) string {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

func decodeAll(t *testing.T, d *Decoder, src netip.AddrPort, recv time.Time, b []byte) []Record {
	t.Helper()
	var recs []Record
	if err := d.DecodeNetFlow(src, recv, b, func(r *Record) { recs = append(recs, *r) }); err != nil {
		t.Fatal(err)
	}
	return recs
}

// A router 30 min slow (no NTP): its records are moved onto the receive
// clock, by its own offset only; a router with a good clock beside it keeps
// its times. One line is logged when the state changes, not per datagram.
func TestClockSlowRouterCorrected(t *testing.T) {
	d, set, logs := newClockDecoder(t, Configuration{})
	slow, good := netip.MustParseAddrPort("192.0.2.60:2055"), netip.MustParseAddrPort("192.0.2.61:2055")
	const export = 1700000000
	recvSlow := time.Unix(export, 0).Add(30 * time.Minute)
	for i := range 3 {
		recs := decodeAll(t, d, slow, recvSlow.Add(time.Duration(i)*time.Second), v9Times(export+uint32(i), 60000+uint32(i)*1000, 50000+uint32(i)*1000, 59000+uint32(i)*1000))
		if len(recs) != 1 {
			t.Fatalf("%d records", len(recs))
		}
		// The record ended 1 s before its export, which arrived at recvSlow+i.
		if want := recvSlow.Add(time.Duration(i)*time.Second).UnixMilli() - 1000; recs[0].End != want || recs[0].End-recs[0].Start != 9000 {
			t.Errorf("slow router, datagram %d: record %s – %s, want end %s", i, time.UnixMilli(recs[0].Start).UTC(),
				time.UnixMilli(recs[0].End).UTC(), time.UnixMilli(want).UTC())
		}
	}
	recs := decodeAll(t, d, good, time.Unix(export, 0).Add(300*time.Millisecond), v9Times(export, 60000, 50000, 59000))
	if len(recs) != 1 || recs[0].End != export*1000-1000 {
		t.Errorf("router with a good clock: %+v, want its own end time", recs)
	}
	if v := metricValue(set, fmt.Sprintf(`%s{source="192.0.2.60",action="corrected"}`, names.FlowClockRecords)); v != "3" {
		t.Errorf("corrected records of the slow router: %q, want 3", v)
	}
	if v := metricValue(set, fmt.Sprintf(`%s{source="192.0.2.61",action="corrected"}`, names.FlowClockRecords)); v != "" {
		t.Errorf("corrected records of the good router: %q, want none", v)
	}
	if v := metricValue(set, fmt.Sprintf(`%s{source="192.0.2.60"}`, names.FlowClockOffset)); v != "1800" {
		t.Errorf("clock offset of the slow router: %q, want 1800", v)
	}
	if n := logs.count("outside flow.clock_tolerance"); n != 1 {
		t.Errorf("%d warnings for the slow router, want 1:\n%s", n, logs)
	}
	// The router's clock is set right: its records are left alone again, and that is logged once.
	for i := range 2 {
		recs := decodeAll(t, d, slow, recvSlow.Add(time.Duration(i)*time.Second), v9Times(uint32(recvSlow.Unix())+uint32(i), 60000, 50000, 59000))
		if len(recs) != 1 || recs[0].End != recvSlow.Add(time.Duration(i)*time.Second).UnixMilli()-1000 {
			t.Errorf("after the fix: %+v", recs)
		}
	}
	if n := logs.count("back within flow.clock_tolerance"); n != 1 {
		t.Errorf("%d 'back within' lines, want 1:\n%s", n, logs)
	}
}

// With clock_policy refuse, the records of a router outside the tolerance
// are dropped and counted; those of a good router are kept.
func TestClockRefusePolicy(t *testing.T) {
	d, set, _ := newClockDecoder(t, Configuration{ClockPolicy: ClockRefuse, ClockTolerance: 10 * time.Second})
	const export = 1700000000
	ahead := netip.MustParseAddrPort("192.0.2.62:2055")
	if recs := decodeAll(t, d, ahead, time.Unix(export, 0).Add(-3*24*time.Hour), v9Times(export, 60000, 50000, 59000)); len(recs) != 0 {
		t.Errorf("router 3 days ahead: %d records kept, want 0", len(recs))
	}
	if v := metricValue(set, fmt.Sprintf(`%s{source="192.0.2.62",action="refused_offset"}`, names.FlowClockRecords)); v != "1" {
		t.Errorf("refused records: %q", v)
	}
	// Within the tolerance (8 s of queueing) nothing is touched.
	if recs := decodeAll(t, d, netip.MustParseAddrPort("192.0.2.63:2055"), time.Unix(export+8, 0), v9Times(export, 60000, 50000, 59000)); len(recs) != 1 || recs[0].End != export*1000-1000 {
		t.Errorf("router within tolerance: %+v", recs)
	}
}

// NetFlow v9 times are export time − (uptime − switched) in 32-bit
// arithmetic: a switched time past the header's uptime put a record up to
// 24.8 days in the future. Such records are refused (counted, logged once).
func TestV9RecordInTheFutureRefused(t *testing.T) {
	d, set, logs := newClockDecoder(t, Configuration{})
	src := netip.MustParseAddrPort("192.0.2.64:2055")
	const export = 1700000000
	tenDays := uint32(10 * 24 * 3600 * 1000)
	for range 2 {
		recs := decodeAll(t, d, src, time.Unix(export, 0), v9Times(export, 60000, 60000+tenDays, 60000+tenDays+1000))
		for _, r := range recs {
			t.Errorf("record accepted at %s – %s, export time %s", time.UnixMilli(r.Start).UTC(), time.UnixMilli(r.End).UTC(), time.Unix(export, 0).UTC())
		}
	}
	if v := metricValue(set, fmt.Sprintf(`%s{source="192.0.2.64",action="refused_future"}`, names.FlowClockRecords)); v != "2" {
		t.Errorf("refused records: %q, want 2", v)
	}
	if n := logs.count("ends after the datagram"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
	// A record that ended within the header's second precision is kept.
	if recs := decodeAll(t, d, src, time.Unix(export, 0), v9Times(export, 60000, 59000, 60900)); len(recs) != 1 {
		t.Errorf("record ending 0.9 s after the uptime: %d kept, want 1", len(recs))
	}
}

// IPFIX records timed by uptimes alone, from an exporter that never sends
// systemInitTimeMilliseconds: counted, timed from arrival (keeping their
// duration), and warned about once.
func TestIPFIXUptimeWithoutInitTimedFromArrival(t *testing.T) {
	d, set, logs := newClockDecoder(t, Configuration{})
	src := netip.MustParseAddrPort("192.0.2.65:4739")
	const export = 1700000000
	recv := time.Unix(export, 0).Add(20 * time.Second) // within the tolerance
	for range 2 {
		recs := decodeAll(t, d, src, recv, ipfixUptimeOnly(export, 50000, 59000))
		if len(recs) != 1 || recs[0].End != recv.UnixMilli() || recs[0].Start != recv.UnixMilli()-9000 {
			t.Errorf("records %+v, want %d – %d", recs, recv.UnixMilli()-9000, recv.UnixMilli())
		}
	}
	if v := metricValue(set, fmt.Sprintf(`%s{source="192.0.2.65",action="arrival_time"}`, names.FlowClockRecords)); v != "2" {
		t.Errorf("records timed from arrival: %q, want 2", v)
	}
	if n := logs.count("no systemInitTimeMilliseconds"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
}

// Exporters that announce no sampling rate are flagged once in the log and
// in a gauge, with the rate the config gives them; one that announces its
// rate is not flagged.
func TestUnannouncedSamplingFlagged(t *testing.T) {
	configured := netip.MustParseAddrPort("192.0.2.66:2055")
	plain := netip.MustParseAddrPort("192.0.2.67:2055")
	announcing := netip.MustParseAddrPort("192.0.2.68:2055")
	d, set, logs := newClockDecoder(t, Configuration{}, func(o *Options) {
		o.DefaultSampling = 1
		o.Sampling = map[netip.Addr]uint32{configured.Addr(): 64}
	})
	recv := time.Unix(1700000000, 0)
	for range 3 {
		if r := decodeAll(t, d, configured, recv, encodeV5(2, 0)); r[0].SamplingRate != 64 {
			t.Errorf("configured source: rate %d, want 64", r[0].SamplingRate)
		}
		if r := decodeAll(t, d, plain, recv, encodeV5(2, 0)); r[0].SamplingRate != 1 {
			t.Errorf("plain source: rate %d, want 1", r[0].SamplingRate)
		}
		if r := decodeAll(t, d, announcing, recv, encodeV5(2, 1<<14|100)); r[0].SamplingRate != 100 {
			t.Errorf("announcing source: rate %d, want 100", r[0].SamplingRate)
		}
	}
	for src, want := range map[string]string{"192.0.2.66": "1", "192.0.2.67": "1", "192.0.2.68": ""} {
		if v := metricValue(set, fmt.Sprintf(`%s{source=%q}`, names.FlowSamplingUnannounced, src)); v != want {
			t.Errorf("%s: unannounced gauge %q, want %q", src, v, want)
		}
	}
	if n := logs.count("announces no sampling rate: using 1:64 from sampling.sources"); n != 1 {
		t.Errorf("configured source: %d lines, want 1:\n%s", n, logs)
	}
	if n := logs.count("announces no sampling rate: using 1:1 from sampling.default_rate"); n != 1 {
		t.Errorf("plain source: %d lines, want 1:\n%s", n, logs)
	}
	if n := logs.count("announces no sampling rate"); n != 2 {
		t.Errorf("%d lines in all, want 2:\n%s", n, logs)
	}
	// The plain source starts announcing: the flag goes down.
	decodeAll(t, d, plain, recv, encodeV5(2, 1<<14|10))
	if v := metricValue(set, fmt.Sprintf(`%s{source="192.0.2.67"}`, names.FlowSamplingUnannounced)); v != "0" {
		t.Errorf("after announcing: gauge %q, want 0", v)
	}
}

func TestClockConfigYAML(t *testing.T) {
	var c Configuration
	errs := decodeFlowYAML(t, &c, "clock_tolerance: 30s\nclock_policy: refuse\n")
	if len(errs) != 0 || c.ClockTolerance != 30*time.Second || c.ClockPolicy != ClockRefuse {
		t.Errorf("%+v %v", c, errs)
	}
	if errs := decodeFlowYAML(t, &c, "clock_policy: ignore\n"); len(errs) != 1 || !strings.Contains(errs[0], "correct or refuse") {
		t.Errorf("bad policy: %v", errs)
	}
	if def := DefaultConfiguration(); def.ClockTolerance != time.Minute || def.ClockPolicy != ClockCorrect {
		t.Errorf("defaults %v %q", def.ClockTolerance, def.ClockPolicy)
	}
}

// decodeFlowYAML reads a flow: section over c and returns its errors.
func decodeFlowYAML(t *testing.T, c *Configuration, text string) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	w := &yamlcheck.Walker{File: "c.yaml"}
	c.DecodeYAML(w, doc.Content[0], "flow")
	var out []string
	for _, e := range w.Errs {
		out = append(out, e.Error())
	}
	return out
}
