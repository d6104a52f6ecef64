package flow

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"gopkg.in/yaml.v3"

	"github.com/minewatch/minewatch/exporter/yamlcheck"
)

// v9Flows is a v9 datagram with one data set of template id (laid out as
// v9Templates lays it out), one record a destination port; with tpl the
// template set comes first in the same datagram, as softflowd sends it.
func v9Flows(id uint16, tpl bool, dports ...uint16) []byte {
	var body bytes.Buffer
	sets := 1
	if tpl {
		sets++
		t := v9Templates(id)
		body.Write(t[20:])
	}
	var data bytes.Buffer
	for _, p := range dports {
		data.Write([]byte{10, 0, 0, 1, 198, 51, 100, 7})
		binary.Write(&data, binary.BigEndian, []uint16{40000, p})
		data.WriteByte(6)
		binary.Write(&data, binary.BigEndian, []uint32{1500, 3})
	}
	for data.Len()%4 != 0 {
		data.WriteByte(0)
	}
	binary.Write(&body, binary.BigEndian, []uint16{id, uint16(4 + data.Len())})
	body.Write(data.Bytes())
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint16{9, uint16(sets)})
	binary.Write(&b, binary.BigEndian, []uint32{1000, uint32(time.Now().Unix()), 1, 0})
	b.Write(body.Bytes())
	return b.Bytes()
}

func addrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)}), 2055)
}

var sourceLabel = regexp.MustCompile(`source="([^"]*)"`)

// seriesBySource counts the set's series and the distinct source labels among them.
func seriesBySource(set *metrics.Set) (series int, sources map[string]int) {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	sources = map[string]int{}
	for _, l := range strings.Split(b.String(), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		series++
		if m := sourceLabel.FindStringSubmatch(l); m != nil {
			sources[m[1]]++
		}
	}
	return series, sources
}

// TestFloodDoesNotLockOutNewRouter replays the attack at the default
// limits: 64 spoofed sources × 256 templates fill the template total, then
// 4,300 spoofed sources (more than MaxSources) send templates and garbage.
// A router that starts afterwards must decode at once, while series and log
// lines stay bounded.
func TestFloodDoesNotLockOutNewRouter(t *testing.T) {
	set := metrics.NewSet()
	var logs bytes.Buffer
	d := NewDecoder(Options{Metrics: set, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	now := time.Now()
	none := func(*Record) {}
	ids := make([]uint16, 256)
	for i := range ids {
		ids[i] = uint16(256 + i)
	}
	full := v9Templates(ids...)
	for i := 0; i < 64; i++ {
		if err := d.DecodeNetFlow(addrN(i), now, full, none); err != nil {
			t.Fatalf("template source %d: %v", i, err)
		}
	}
	if got := d.templates.Load(); got != 16384 {
		t.Fatalf("templates after 64×256: %d, want the total cap 16384", got)
	}
	for i := 64; i < 64+4300; i++ {
		d.DecodeNetFlow(addrN(i), now, v9Templates(256, 257), none)
		d.DecodeNetFlow(addrN(i), now, []byte("garbage!"), none)
	}
	if n := d.Sources(); n > 4096 {
		t.Errorf("%d sources tracked, cap 4096", n)
	}
	if n := d.templates.Load(); n > 16384 {
		t.Errorf("%d templates held, cap 16384", n)
	}
	if v := counterValue(t, set, `minewatch_flow_sources_expired_total{reason="displaced"}`); v == 0 {
		t.Error("no displaced source counted")
	}

	router := netip.MustParseAddrPort("192.0.2.77:2055")
	var got []Record
	if err := d.DecodeNetFlow(router, now, v9Flows(300, true, 3333), func(r *Record) { got = append(got, *r) }); err != nil {
		t.Fatalf("new router after the flood: %v", err)
	}
	if len(got) != 1 || got[0].DstPort != 3333 || got[0].Exporter != router.Addr() {
		t.Fatalf("new router's records %+v", got)
	}
	// Proven, it keeps its state through a second flood of fresh addresses.
	for i := 5000; i < 10000; i++ {
		d.DecodeNetFlow(addrN(i), now, v9Templates(256, 257, 258), none)
	}
	got = nil
	if err := d.DecodeNetFlow(router, now, v9Flows(300, false, 3334), func(r *Record) { got = append(got, *r) }); err != nil || len(got) != 1 {
		t.Fatalf("router's data after a second flood (template kept?): %v, %d records", err, len(got))
	}
	if v := counterValue(t, set, `minewatch_flow_records_total{source="192.0.2.77",protocol="netflow_v9"}`); v != 2 {
		t.Errorf("router's own records series = %d, want 2", v)
	}

	series, sources := seriesBySource(set)
	if len(sources) > 256+2 {
		t.Errorf("%d source label values, cap 256 + other + not_allowed", len(sources))
	}
	if series > 3000 {
		t.Errorf("%d series after the flood", series)
	}
	lines := strings.Count(logs.String(), "\n")
	if lines > 20+5 { // the burst, plus the few the refill gives while the test runs
		t.Errorf("%d log lines for ~20,000 bad datagrams from ~9,300 sources", lines)
	}
	if v := counterValue(t, set, `minewatch_flow_log_lines_suppressed_total`); v == 0 {
		t.Error("suppressed log lines not counted")
	}
	t.Logf("after the floods: %d sources, %d templates, %d series, %d source labels, %d log lines",
		d.Sources(), d.templates.Load(), series, len(sources), lines)
}

func TestIdleSourcesAndTemplatesExpire(t *testing.T) {
	set := metrics.NewSet()
	d := NewDecoder(Options{Metrics: set, Configuration: Configuration{SourceIdle: 10 * time.Minute, TemplateIdle: 5 * time.Minute}})
	t0 := time.Unix(1_800_000_000, 0)
	router := netip.MustParseAddrPort("192.0.2.1:2055")
	quiet := netip.MustParseAddrPort("192.0.2.2:2055")
	none := func(*Record) {}
	// The router announces templates 300 and 301 but only ever uses 300.
	d.DecodeNetFlow(router, t0, v9Templates(300, 301), none)
	d.DecodeNetFlow(quiet, t0, v9Templates(300), none)
	for m := 1; m <= 12; m++ {
		n := 0
		if err := d.DecodeNetFlow(router, t0.Add(time.Duration(m)*time.Minute), v9Flows(300, false, 80), func(*Record) { n++ }); err != nil || n != 1 {
			t.Fatalf("minute %d: %v, %d records", m, err, n)
		}
	}
	if n := d.Templates(router.Addr()); n != 1 {
		t.Errorf("router holds %d templates, want 1 (the unused one expired)", n)
	}
	if d.Templates(quiet.Addr()) != 0 || d.Sources() != 1 {
		t.Errorf("quiet source still tracked: %d sources", d.Sources())
	}
	if v := counterValue(t, set, `minewatch_flow_sources_expired_total{reason="idle"}`); v != 1 {
		t.Errorf("idle sources expired = %d, want 1", v)
	}
	if v := counterValue(t, set, `minewatch_flow_templates_expired_total`); v != 2 {
		t.Errorf("templates expired = %d, want 2 (the router's unused 301, the quiet source's 300)", v)
	}
	var b bytes.Buffer
	set.WritePrometheus(&b)
	if strings.Contains(b.String(), `source="192.0.2.2"`) {
		t.Errorf("expired source's series still exported:\n%s", b.String())
	}
	if d.templates.Load() != 1 {
		t.Errorf("template total %d, want 1", d.templates.Load())
	}
	// Expire can be called on the wall clock too (nothing heard for an hour).
	d.Expire(t0.Add(2 * time.Hour))
	if d.Sources() != 0 || d.templates.Load() != 0 {
		t.Errorf("after an idle hour: %d sources, %d templates", d.Sources(), d.templates.Load())
	}
}

func TestAllowedSources(t *testing.T) {
	set := metrics.NewSet()
	d := NewDecoder(Options{Metrics: set, Configuration: Configuration{
		AllowedSources: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}})
	now := time.Now()
	for i := 0; i < 1000; i++ {
		err := d.DecodeNetFlow(addrN(i), now, v9Flows(300, true, 3333), func(r *Record) { t.Fatalf("record from a source not allowed: %+v", *r) })
		if ErrorReason(err) != ReasonNotAllowed {
			t.Fatalf("not allowed: %v", err)
		}
	}
	n := 0
	if err := d.DecodeNetFlow(netip.MustParseAddrPort("[::ffff:192.0.2.9]:9995"), now, v9Flows(300, true, 3333), func(*Record) { n++ }); err != nil || n != 1 {
		t.Fatalf("allowed source: %v, %d records", err, n)
	}
	if d.Sources() != 1 {
		t.Errorf("%d sources tracked, want 1", d.Sources())
	}
	if v := counterValue(t, set, `minewatch_flow_decode_errors_total{source="not_allowed",protocol="netflow_v9",reason="not_allowed"}`); v != 1000 {
		t.Errorf("not_allowed counted %d, want 1000", v)
	}
	if _, sources := seriesBySource(set); len(sources) != 2 {
		t.Errorf("source labels %v, want not_allowed and 192.0.2.9", sources)
	}
}

// TestSourceLabelsBounded: past MaxSourceLabels, sources count under
// source="other"; a source that delivers flows takes a fresh one's label.
func TestSourceLabelsBounded(t *testing.T) {
	set := metrics.NewSet()
	d := NewDecoder(Options{Metrics: set, Configuration: Configuration{MaxSourceLabels: 8}})
	now := time.Now()
	for i := 0; i < 100; i++ {
		d.DecodeNetFlow(addrN(i), now, []byte{0, 7, 0, 0}, func(*Record) {})
	}
	_, sources := seriesBySource(set)
	if len(sources) != 9 || sources[sourceOther] == 0 {
		t.Fatalf("source labels %v, want 8 own and other", sources)
	}
	late := addrN(99) // counted under other so far
	n := 0
	d.DecodeNetFlow(late, now, v9Flows(300, true, 3333), func(*Record) { n++ })
	_, sources = seriesBySource(set)
	if n != 1 || len(sources) != 9 || sources[late.Addr().String()] == 0 {
		t.Errorf("proven source without its own label: %d records, labels %v", n, sources)
	}
}

func TestConfigurationYAML(t *testing.T) {
	parse := func(text string) (Configuration, []error) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatal(err)
		}
		w := &yamlcheck.Walker{File: "c.yaml"}
		var c Configuration
		c.DecodeYAML(w, doc.Content[0], "flow")
		return c, w.Errs
	}
	c, errs := parse("allowed_sources: [10.0.0.0/8, 192.0.2.1, 2001:db8::/32]\nmax_sources: 100\nmax_templates_per_source: 32\n" +
		"max_templates: 1000\nsource_idle: 30m\ntemplate_idle: 2h\nmax_source_labels: 50\nlog_lines_per_second: 0.5\nlog_burst: 5\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := Configuration{AllowedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("2001:db8::/32")}, MaxSources: 100, MaxTemplates: 32, MaxTotalTemplates: 1000,
		SourceIdle: 30 * time.Minute, TemplateIdle: 2 * time.Hour, MaxSourceLabels: 50, LogPerSecond: 0.5, LogBurst: 5}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("parsed %+v\nwant %+v", c, want)
	}
	if !c.Allowed(netip.MustParseAddr("::ffff:10.1.2.3")) || c.Allowed(netip.MustParseAddr("192.0.2.2")) {
		t.Error("Allowed does not follow the list")
	}
	_, errs = parse("allowed_sources: [10.0.0.0/33, bogus]\nmax_sources: 0\nsource_idle: 10\nlog_lines_per_second: -1\nmax_flows: 3\n")
	if len(errs) != 6 {
		t.Errorf("%d errors, want 6: %v", len(errs), errs)
	}
	for _, e := range errs {
		if ye, ok := e.(*yamlcheck.Error); !ok || ye.Line == 0 || !strings.HasPrefix(ye.Field, "flow.") {
			t.Errorf("error without line or field: %v", e)
		}
	}
}

// TestConcurrentChurn displaces, expires and relabels sources from several
// readers at once (run with -race): the counts must stay consistent.
func TestConcurrentChurn(t *testing.T) {
	set := metrics.NewSet()
	d := NewDecoder(Options{Metrics: set, Configuration: Configuration{MaxSources: 16, MaxTemplates: 8,
		MaxTotalTemplates: 40, MaxSourceLabels: 4, SourceIdle: 10 * time.Second, TemplateIdle: 10 * time.Second}})
	t0 := time.Unix(1_800_000_000, 0)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
				src := addrN(g*1000 + i%50)
				d.DecodeNetFlow(src, now, v9Templates(300, 301, 302), func(*Record) {})
				d.DecodeNetFlow(src, now, v9Flows(300, i%3 == 0, 80), func(*Record) {})
				d.DecodeNetFlow(src, now, []byte{0, 1}, func(*Record) {})
			}
		}()
	}
	wg.Wait()
	held := 0
	d.mu.RLock()
	for _, s := range d.sources {
		held += s.templates.count()
	}
	tracked := len(d.sources)
	labels := d.labels
	d.mu.RUnlock()
	if int64(held) != d.templates.Load() || held > 40 || tracked > 16 || labels > 4 {
		t.Errorf("held %d templates, total says %d (cap 40); %d sources (cap 16); %d labels (cap 4)", held, d.templates.Load(), tracked, labels)
	}
	if _, sources := seriesBySource(set); len(sources) > 4+1 {
		t.Errorf("source labels %v", sources)
	}
}

// A router named in the sampling overrides is proven from its first
// datagram: a flood of fresh addresses does not displace it.
func TestConfiguredRouterIsProven(t *testing.T) {
	router := netip.MustParseAddrPort("192.0.2.5:2055")
	d := NewDecoder(Options{Metrics: metrics.NewSet(), Sampling: map[netip.Addr]uint32{router.Addr(): 100},
		Configuration: Configuration{MaxSources: 10}})
	now := time.Now()
	d.DecodeNetFlow(router, now, v9Templates(300), func(*Record) {})
	for i := 0; i < 100; i++ {
		d.DecodeNetFlow(addrN(i), now, v9Templates(300), func(*Record) {})
	}
	var got []Record
	if err := d.DecodeNetFlow(router, now, v9Flows(300, false, 80), func(r *Record) { got = append(got, *r) }); err != nil || len(got) != 1 || got[0].SamplingRate != 100 {
		t.Errorf("configured router after a flood: %v, %+v", err, got)
	}
}

// TestRecentSources: the lock-free cache of recent sources (Decoder.recent)
// answers as the table does. A forgotten source is not used again from the
// cache (its address starts afresh, without its templates), and two routers
// sharing a cache slot each keep their own templates.
func TestRecentSources(t *testing.T) {
	d := NewDecoder(Options{Metrics: metrics.NewSet(), Configuration: Configuration{SourceIdle: 10 * time.Minute, TemplateIdle: 10 * time.Minute}})
	t0 := time.Unix(1_800_000_000, 0)
	a := netip.MustParseAddrPort("192.0.2.1:2055")
	var b netip.AddrPort // another router in a's slot
	for i := 2; i < 1<<16; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}), 2055)
		if recentSlot(c.Addr()) == recentSlot(a.Addr()) {
			b = c
			break
		}
	}
	if !b.IsValid() {
		t.Fatal("test premise: no address shares a's slot")
	}
	records := func(src netip.AddrPort, at time.Time, dg []byte) (int, string) {
		n := 0
		err := d.DecodeNetFlow(src, at, dg, func(*Record) { n++ })
		return n, ErrorReason(err)
	}
	d.DecodeNetFlow(a, t0, v9Templates(300), func(*Record) {}) //nolint:errcheck // checked below
	d.DecodeNetFlow(b, t0, v9Templates(301), func(*Record) {}) //nolint:errcheck // checked below
	for i := range 20 {
		at := t0.Add(time.Duration(i) * time.Second)
		if n, reason := records(a, at, v9Flows(300, false, 80)); n != 1 || reason != "" {
			t.Fatalf("round %d: a's records %d, error %q", i, n, reason)
		}
		if n, reason := records(b, at, v9Flows(300, false, 80)); n != 0 || reason != ReasonTemplateMissing {
			t.Fatalf("round %d: b (template 301 only) decoded %d records of template 300, error %q", i, n, reason)
		}
		if n, reason := records(b, at, v9Flows(301, false, 80)); n != 1 || reason != "" {
			t.Fatalf("round %d: b's records %d, error %q", i, n, reason)
		}
	}
	// a, the latest in the slot, is forgotten (idle), then heard from
	// again: a new source with no templates.
	if n, _ := records(a, t0.Add(time.Minute), v9Flows(300, false, 80)); n != 1 || d.recent[recentSlot(a.Addr())].Load() == nil {
		t.Fatalf("a's records %d; not in the cache", n)
	}
	later := t0.Add(time.Hour)
	d.Expire(later)
	if d.Sources() != 0 {
		t.Fatalf("%d sources after an idle hour", d.Sources())
	}
	if n, reason := records(a, later, v9Flows(300, false, 80)); n != 0 || reason != ReasonTemplateMissing {
		t.Fatalf("a after it was forgotten: %d records, error %q (its old templates were used)", n, reason)
	}
	d.mu.RLock()
	s := d.sources[a.Addr()]
	d.mu.RUnlock()
	if s == nil || s.gone.Load() || d.recent[recentSlot(a.Addr())].Load() != s {
		t.Fatalf("a's source %p (gone %v) in the table, %p in the cache", s, s != nil && s.gone.Load(), d.recent[recentSlot(a.Addr())].Load())
	}
}

// Two routers sending from the same link-local address on two links are two
// exporters (the listener gives each source its zone, as net does): each
// keeps its own templates. The allowed prefixes and sampling overrides,
// which have no zone, still apply to both.
func TestLinkLocalSourcesByZone(t *testing.T) {
	a := netip.MustParseAddrPort("[fe80::1%eth0]:2055")
	b := netip.MustParseAddrPort("[fe80::1%eth1]:2055")
	d := NewDecoder(Options{Metrics: metrics.NewSet(), Sampling: map[netip.Addr]uint32{netip.MustParseAddr("fe80::1"): 100},
		Configuration: Configuration{AllowedSources: []netip.Prefix{netip.MustParsePrefix("fe80::/64")}}})
	if !d.opts.Allowed(a.Addr()) {
		t.Fatalf("%v not allowed by fe80::/64", a)
	}
	now := time.Now()
	var got []Record
	emit := func(r *Record) { got = append(got, *r) }
	if err := d.DecodeNetFlow(a, now, v9Templates(300), emit); err != nil {
		t.Fatal(err)
	}
	if err := d.DecodeNetFlow(b, now, v9Flows(300, false, 80), emit); err == nil && len(got) > 0 {
		t.Errorf("eth1's router decoded with eth0's template: %+v", got)
	}
	if n := d.Templates(b.Addr()); n != 0 {
		t.Errorf("eth1's router has %d templates, want 0", n)
	}
	got = nil
	if err := d.DecodeNetFlow(a, now, v9Flows(300, false, 80), emit); err != nil || len(got) != 1 || got[0].SamplingRate != 100 {
		t.Errorf("eth0's router: %v, %+v (want one record at the configured 1:100)", err, got)
	}
}
