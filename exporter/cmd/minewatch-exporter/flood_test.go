package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/proc"
)

const (
	floodMinerIP  = "10.20.3.21" // behind the real router
	floodHiddenIP = "10.20.3.99" // behind an exporter outside allowed_sources
	floodPool     = "198.51.100.7"
)

const floodLedger = `units:
  - id: zd-no1-middle
    name: 郑东新区第一中学
    sector: school
    lead: {name: 张老师, email: lead@no1.example.edu.cn}
    cidrs: [10.20.0.0/16]
`

// floodTemplates is a NetFlow v9 datagram announcing templates first..first+n-1
// (six fields each), as a spoofed source filling the template tables would send.
func floodTemplates(first, n int) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, 9)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint32(b, 1000)
	b = binary.BigEndian.AppendUint32(b, uint32(time.Now().Unix()))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(4+n*(4+6*4)))
	for i := 0; i < n; i++ {
		b = binary.BigEndian.AppendUint16(b, uint16(first+i))
		b = binary.BigEndian.AppendUint16(b, 6)
		for _, f := range [][2]uint16{{8, 4}, {12, 4}, {7, 2}, {11, 2}, {1, 4}, {2, 4}} {
			b = binary.BigEndian.AppendUint16(b, f[0])
			b = binary.BigEndian.AppendUint16(b, f[1])
		}
	}
	return b
}

// sendFrom sends datagrams from a socket bound to src (any 127/8 address is
// loopback, so thousands of distinct exporter addresses need no root).
func sendFrom(t *testing.T, src netip.Addr, dst *net.UDPAddr, datagrams ...[]byte) {
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: src.AsSlice()}, dst)
	if err != nil {
		t.Fatalf("bind %s: %v", src, err)
	}
	defer c.Close()
	for _, d := range datagrams {
		c.Write(d) //nolint:errcheck // UDP: loss shows as a missing miner
	}
}

var seriesSource = regexp.MustCompile(`^minewatch_flow_[a-z_]+\{[^}]*source="([^"]*)"`)

// flowSeries reads /metrics: per-source flow series, their distinct source
// values, and the value of every series named in want.
func flowSeries(t *testing.T, base string, want ...string) (series int, sources map[string]bool, vals map[string]float64) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sources, vals = map[string]bool{}, map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := seriesSource.FindStringSubmatch(l); m != nil {
			series++
			sources[m[1]] = true
		}
		for _, w := range want {
			if strings.HasPrefix(l, w+" ") {
				var v float64
				fmt.Sscan(strings.TrimPrefix(l, w+" "), &v)
				vals[w] += v
			}
		}
	}
	return series, sources, vals
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// getHost reads /api/hosts/ip (hostReport: snapshot_test.go) and its status.
func getHost(base, ip string) (*hostReport, int) {
	resp, err := http.Get(base + "/api/hosts/" + ip)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // drain
		return nil, resp.StatusCode
	}
	var r hostReport
	json.NewDecoder(resp.Body).Decode(&r) //nolint:errcheck // empty report fails the check
	return &r, resp.StatusCode
}

// TestFloodThenRealRouter runs the real exporter binary with the default flow
// limits and feeds it the attack over loopback: 64 spoofed sources ×
// 256 templates (the whole template total), then 4,300 spoofed sources (more
// than max_sources) sending templates and garbage, still going while a real
// NetFlow v9 router starts. The router's miner must be flagged, an exporter
// outside allowed_sources must be dropped, and the per-source series and the
// log lines must stay bounded.
func TestFloodThenRealRouter(t *testing.T) {
	dir := t.TempDir()
	bin := exporterBin // built once by TestMain
	nfPort, err := proc.FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	httpPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(floodLedger), 0o644)
	os.WriteFile(filepath.Join(dir, "pools.txt"), []byte(floodPool+":3333,XMR,bureau-2026-11\n"), 0o644)
	// Everything else at its default: 4096 sources, 256 templates a source,
	// 16384 in all, 256 source labels, 1 log line a second (burst 20).
	cfg := fmt.Sprintf(`listen:
  netflow: "127.0.0.1:%d"
  sflow: ""
  http: "127.0.0.1:%d"
ledger:
  files: [ledger.yaml]
intel:
  files: [pools.txt]
flow:
  allowed_sources: [127.0.0.0/9]
`, nfPort, httpPort)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
	logPath := filepath.Join(dir, "exporter.log")
	p, err := proc.Start("minewatch-exporter", bin, logPath, "--config.file", filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := proc.WaitHTTP(ctx, p, base+"/-/healthy"); err != nil {
		t.Fatal(err)
	}
	startLines := countLines(t, logPath)
	floodStart := time.Now()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: nfPort}

	// 64 × 256 templates: the whole template total.
	full := floodTemplates(256, 256)
	for i := 0; i < 64; i++ {
		sendFrom(t, netip.AddrFrom4([4]byte{127, 1, 0, byte(i + 1)}), dst, full)
	}
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, _, v := flowSeries(t, base, `minewatch_flow_templates_tracked`)
		if v[`minewatch_flow_templates_tracked`] == 16384 {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("64 × 256 templates did not fill the template total: %v", v)
		}
	}
	// 4,300 more sources, each with templates and garbage; the flood goes on
	// in the background while the router starts.
	spoofed := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 2, byte(i >> 8), byte(i)}) }
	round := func() {
		for i := 1; i <= 4300; i++ {
			sendFrom(t, spoofed(i), dst, floodTemplates(256, 8), []byte("not a flow export"))
		}
	}
	round()
	if series, sources, _ := flowSeries(t, base); len(sources) > 256+2 || series > 258*8 {
		t.Errorf("during the flood: %d per-source flow series over %d source values (cap 258 values)", series, len(sources))
	}
	floodDone := make(chan struct{})
	stopFlood := make(chan struct{})
	go func() {
		defer close(floodDone)
		for r := 0; r < 3; r++ {
			select {
			case <-stopFlood:
				return
			default:
			}
			round()
		}
	}()
	endFlood := sync.OnceFunc(func() { close(stopFlood); <-floodDone })
	defer endFlood()

	// The real router: a v9 exporter whose first datagram carries its
	// template with the miner's pool contact; it keeps exporting every second.
	router := netip.AddrFrom4([4]byte{127, 3, 0, 1})
	hidden := netip.AddrFrom4([4]byte{127, 200, 0, 1}) // outside allowed_sources
	exp := encode.NewExporter(flow.NetFlowV9, encode.Options{TemplateEvery: 5})
	other := encode.NewExporter(flow.NetFlowV9, encode.Options{TemplateEvery: 1})
	contact := func(src string) []flow.Record {
		end := time.Now().UnixMilli()
		return []flow.Record{{Start: end - 30_000, End: end, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(floodPool),
			SrcPort: 49152, DstPort: 3333, Proto: 6, TCPFlags: 0x18, Packets: 12, Bytes: 2400}}
	}
	deadline := time.Now().Add(60 * time.Second)
	var rep *hostReport
	for {
		var dgs, hiddenDgs [][]byte
		exp.Encode(time.Now(), contact(floodMinerIP), func(b []byte) { dgs = append(dgs, bytes.Clone(b)) })
		other.Encode(time.Now(), contact(floodHiddenIP), func(b []byte) { hiddenDgs = append(hiddenDgs, bytes.Clone(b)) })
		sendFrom(t, router, dst, dgs...)
		sendFrom(t, hidden, dst, hiddenDgs...)
		rep, _ = getHost(base, floodMinerIP)
		if rep != nil && rep.Mining {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			_, _, v := flowSeries(t, base, `minewatch_flow_records_total{source="127.3.0.1",protocol="netflow_v9"}`)
			t.Fatalf("miner behind the new router not flagged within 60s of the flood (report %+v, router records %v)\nlog:\n%s", rep, v, b)
		}
		time.Sleep(time.Second)
	}
	signals := map[string]bool{}
	for _, r := range rep.Reasons {
		signals[r.Signal] = true
	}
	if !signals["pool_contact"] {
		t.Errorf("miner flagged without a pool_contact reason: %+v", rep.Reasons)
	}
	endFlood()
	floodSecs := time.Since(floodStart).Seconds()

	if r, code := getHost(base, floodHiddenIP); r != nil || code != http.StatusNotFound {
		t.Errorf("host behind an exporter outside allowed_sources is tracked (HTTP %d, %+v)", code, r)
	}
	series, sources, vals := flowSeries(t, base,
		`minewatch_flow_sources_expired_total{reason="displaced"}`,
		`minewatch_flow_sources_tracked`,
		`minewatch_flow_templates_tracked`,
		`minewatch_flow_decode_errors_total{source="not_allowed",protocol="netflow_v9",reason="not_allowed"}`,
		`minewatch_flow_log_lines_suppressed_total`)
	lines := countLines(t, logPath) - startLines
	t.Logf("flood of %.0fs: %d log lines, %d per-source flow series over %d source values; %v", floodSecs, lines, series, len(sources), vals)
	// The flood must have reached the limits, or this test shows nothing.
	if vals[`minewatch_flow_sources_expired_total{reason="displaced"}`] == 0 {
		t.Error("no source was displaced: the flood did not fill the source table")
	}
	if n := vals[`minewatch_flow_sources_tracked`]; n > 4096 {
		t.Errorf("%v sources tracked, cap 4096", n)
	}
	if n := vals[`minewatch_flow_templates_tracked`]; n > 16384 {
		t.Errorf("%v templates held, cap 16384", n)
	}
	if vals[`minewatch_flow_decode_errors_total{source="not_allowed",protocol="netflow_v9",reason="not_allowed"}`] == 0 {
		t.Error("datagrams from outside allowed_sources not counted under source=\"not_allowed\"")
	}
	// 256 own label values plus "other" and "not_allowed"; a handful of
	// series each (packets, records, templates, errors by reason).
	if len(sources) > 256+2 {
		t.Errorf("%d source label values after ~4,400 sources, cap 258", len(sources))
	}
	if series > 258*8 {
		t.Errorf("%d per-source flow series, want at most %d", series, 258*8)
	}
	if !sources["127.3.0.1"] {
		t.Error("the real router has no series of its own")
	}
	// Log lines: the burst of 20 plus one a second, over all sources.
	if limit := 20 + int(floodSecs) + 5; lines > limit {
		b, _ := os.ReadFile(logPath)
		t.Errorf("%d log lines during a %.0fs flood, bound %d:\n%s", lines, floodSecs, limit, b)
	}
	if vals[`minewatch_flow_log_lines_suppressed_total`] == 0 {
		t.Error("no suppressed log line counted: the flood did not hit the log bound")
	}
}
