package flow

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/testsupport"
)

// runPmacctd replays the traffic capture through pmacctd with one probe plugin
// exporting to a loopback port of ours, and returns what it sent.
func runPmacctd(t *testing.T, plugin string, extra ...string) (int, []datagram) {
	pmacctd := testsupport.Require(t, "pmacctd")
	dir := t.TempDir()
	traffic := filepath.Join(dir, "traffic.pcap")
	writeTraffic(t, traffic, time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC))
	port, quiet, stop := catchExports(t)
	conf := []string{
		"daemonize: false",
		"pcap_savefile: " + traffic,
		"plugins: " + plugin + "[p]",
		fmt.Sprintf("%s_receiver[p]: 127.0.0.1:%d", plugin, port),
	}
	conf = append(conf, extra...)
	cfg := filepath.Join(dir, "pmacctd.conf")
	if err := os.WriteFile(cfg, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// pmacctd reads the file (after a 2 s pause), its plugin flushes on shutdown, then it exits.
	out, err := exec.CommandContext(ctx, pmacctd, "-f", cfg).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("pmacctd did not finish: %v\n%s", err, out)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !quiet(300*time.Millisecond) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	dgs := stop()
	if len(dgs) == 0 {
		t.Fatalf("pmacctd sent nothing\n%s", out)
	}
	return port, dgs
}

func TestPmacctSFlowExports(t *testing.T) {
	t.Parallel()
	testsupport.Require(t, "tshark")
	port, dgs := runPmacctd(t, "sfprobe", "sfprobe_sampling_rate[p]: 1")
	recs := decodeCaught(t, dgs, true)
	var bytes, pkts uint64
	for _, r := range recs {
		bytes += r.Bytes
		pkts += r.Packets
	}
	var wantPkts int
	for _, f := range trafficFlows {
		wantPkts += len(f.sizes)
	}
	if len(recs) != wantPkts || pkts != uint64(wantPkts) {
		t.Errorf("1:1 sFlow of %d packets gave %d records, %d packets", wantPkts, len(recs), pkts)
	}
	exports := filepath.Join(t.TempDir(), "exports.pcap")
	writeExports(t, exports, port, dgs)
	n, sums := tsharkTotals(t, exports, port, "sflow", "sflow_245.header.frame_length", "sflow.flow_sample.sampling_rate")
	if n != len(recs) || sums[0] != bytes {
		t.Errorf("tshark reads %d samples, %d frame bytes; we decoded %d records, %d bytes", n, sums[0], len(recs), bytes)
	}
	// Every sampled header parsed into the flows of the capture.
	seen := map[string]bool{}
	for _, f := range trafficFlows {
		seen[fmt.Sprintf("%s:%d>%s:%d", f.src, f.sport, f.dst, f.dport)] = false
	}
	for _, r := range recs {
		k := fmt.Sprintf("%s:%d>%s:%d", r.Src, r.SrcPort, r.Dst, r.DstPort)
		if _, ok := seen[k]; !ok {
			t.Errorf("record of an unknown flow %s", k)
		}
		seen[k] = true
	}
	for k, ok := range seen {
		if !ok {
			t.Errorf("flow %s missing", k)
		}
	}
	t.Logf("pmacctd sfprobe: %d datagrams, %d records, %d bytes (tshark: %d samples, %d bytes)", len(dgs), len(recs), bytes, n, sums[0])
}

func TestPmacctNetFlowExports(t *testing.T) {
	t.Parallel()
	testsupport.Require(t, "tshark")
	for _, version := range []string{"5", "9", "10"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel() // pmacctd pauses 2 s before reading a file
			port, dgs := runPmacctd(t, "nfprobe", "nfprobe_version[p]: "+version)
			recs := decodeCaught(t, dgs, false)
			var bytes, pkts uint64
			for _, r := range recs {
				bytes += r.Bytes
				pkts += r.Packets
			}
			var wantBytes, wantPkts uint64
			for _, f := range trafficFlows {
				for _, s := range f.sizes {
					wantBytes += uint64(s)
					wantPkts++
				}
			}
			if bytes != wantBytes || pkts != wantPkts || len(recs) < len(trafficFlows) {
				t.Errorf("decoded %d records, %d bytes, %d packets; capture: %d flows, %d bytes, %d packets",
					len(recs), bytes, pkts, len(trafficFlows), wantBytes, wantPkts)
			}
			exports := filepath.Join(t.TempDir(), "exports.pcap")
			writeExports(t, exports, port, dgs)
			n, sums := tsharkTotals(t, exports, port, "cflow", "cflow.octets", "cflow.packets")
			if n != len(recs) || sums[0] != bytes || sums[1] != pkts {
				t.Errorf("tshark reads %d records, %d bytes, %d packets; we decoded %d, %d, %d", n, sums[0], sums[1], len(recs), bytes, pkts)
			}
			t.Logf("pmacctd nfprobe v%s: %d datagrams, %d records, %d bytes, %d packets", version, len(dgs), len(recs), bytes, pkts)
		})
	}
}
