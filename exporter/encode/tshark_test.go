package encode

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// tsharkFields writes the datagrams of p for recs into a pcap and returns
// every occurrence of each requested field, as tshark dissects them.
func tsharkFields(t *testing.T, p flow.Protocol, rate uint32, recs []flow.Record, decodeAs string, dport uint16, fields ...string) [][]string {
	t.Helper()
	bin := testsupport.Require(t, "tshark")
	path := filepath.Join(t.TempDir(), "x.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := NewPcapWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("10.0.0.1:50000")
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dport)
	e := NewExporter(p, Options{SamplingRate: rate, AgentAddr: src.Addr()})
	ts := testNow
	e.Encode(testNow, recs, func(d []byte) {
		if err := pw.Write(ts, src, dst, d); err != nil {
			t.Fatal(err)
		}
		ts = ts.Add(time.Millisecond)
	})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	args := []string{"-r", path, "-d", decodeAs, "-T", "fields", "-E", "occurrence=a", "-E", "separator=/t"}
	fields = append(fields, "_ws.malformed")
	for _, fl := range fields {
		args = append(args, "-e", fl)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	cols := make([][]string, len(fields))
	for _, line := range strings.Split(strings.TrimRight(string(outb), "\n"), "\n") {
		for i, c := range strings.Split(line, "\t") {
			if c != "" && i < len(cols) {
				cols[i] = append(cols[i], strings.Split(c, ",")...)
			}
		}
	}
	if m := cols[len(cols)-1]; len(m) > 0 {
		t.Fatalf("tshark marks %d packets malformed", len(m))
	}
	return cols[:len(cols)-1]
}

func sumOf(t *testing.T, vs []string) uint64 {
	var s uint64
	for _, v := range vs {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("tshark value %q: %v", v, err)
		}
		s += n
	}
	return s
}

func TestTsharkReadsNetFlow(t *testing.T) {
	const rate = 10
	for _, p := range []flow.Protocol{flow.NetFlowV5, flow.NetFlowV9, flow.IPFIX} {
		t.Run(p.String(), func(t *testing.T) {
			recs := records(100, rate, 5)
			cols := tsharkFields(t, p, rate, recs, "udp.port==2055,cflow", 2055,
				"cflow.srcaddr", "cflow.srcaddrv6", "cflow.octets")
			var want4, want6 []string
			var bytes4, bytesAll uint64
			for _, r := range recs {
				bytesAll += r.Bytes / rate
				if r.Src.Is4() {
					want4 = append(want4, r.Src.String())
					bytes4 += r.Bytes / rate
				} else {
					want6 = append(want6, r.Src.String())
				}
			}
			check(t, "IPv4 sources", strings.Join(cols[0], " "), strings.Join(want4, " "))
			if p == flow.NetFlowV5 {
				check(t, "IPv6 sources in v5", len(cols[1]), 0)
				check(t, "octets", sumOf(t, cols[2]), bytes4)
				return
			}
			got6 := make([]string, len(cols[1]))
			for i, s := range cols[1] {
				got6[i] = netip.MustParseAddr(s).String()
			}
			check(t, "IPv6 sources", strings.Join(got6, " "), strings.Join(want6, " "))
			check(t, "records", len(cols[2]), len(recs))
			check(t, "octets", sumOf(t, cols[2]), bytesAll)
		})
	}
}

func TestTsharkReadsSFlow(t *testing.T) {
	const rate = 256
	recs := records(60, rate, 4)
	cols := tsharkFields(t, flow.SFlowV5, rate, recs, "udp.port==6343,sflow", 6343,
		"sflow.flow_sample.sampling_rate", "sflow_245.header.frame_length", "sflow.flow_sample.sample_pool", "tcp.srcport", "udp.srcport")
	check(t, "samples", len(cols[0]), len(recs))
	check(t, "sampling rate", sumOf(t, cols[0]), uint64(rate*len(recs)))
	var frames uint64
	var ports []string
	for _, r := range recs {
		frames += r.Bytes / r.Packets
		ports = append(ports, strconv.Itoa(int(r.SrcPort)))
	}
	check(t, "frame bytes", sumOf(t, cols[1]), frames)
	check(t, "last sample pool", cols[2][len(cols[2])-1], strconv.Itoa(rate*len(recs)))
	// Inner headers: every record's source port, either as TCP or UDP
	// (udp.srcport also lists the outer export datagram's port).
	got := append(slices.Clone(cols[3]), cols[4]...)
	for _, p := range ports {
		if !slices.Contains(got, p) {
			t.Errorf("source port %s not in sampled headers", p)
		}
	}
}
