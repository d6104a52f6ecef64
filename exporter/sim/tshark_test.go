package sim

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/replay"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// TestPcapAgreesWithTshark writes the tiny scenario's exports into a pcap and
// checks with tshark, independently of our encoders, the record count,
// protocol version and sampling rate of every exporter.
func TestPcapAgreesWithTshark(t *testing.T) {
	tshark := testsupport.Require(t, "tshark")
	s, err := Load("testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Generate(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := encode.NewPcapWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := Export(s, res, WritePcap(pc))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, err := exec.Command(tshark, "-r", path, "-d", "udp.port==2055,cflow", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "ip.src", "-e", "cflow.version", "-e", "cflow.srcaddr", "-e", "cflow.sampling_interval", "-e", "cflow.samplerate",
		"-e", "sflow_245.numsamples", "-e", "sflow.flow_sample.sampling_rate").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	type seen struct {
		records, datagrams int
		versions, rates    map[string]bool
	}
	by := map[string]*seen{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		f[0], _, _ = strings.Cut(f[0], ",") // sFlow: later ip.src are the sampled packets'
		x := by[f[0]]
		if x == nil {
			x = &seen{versions: map[string]bool{}, rates: map[string]bool{}}
			by[f[0]] = x
		}
		x.datagrams++
		if f[1] != "" {
			x.versions[f[1]] = true
			if f[2] != "" {
				x.records += len(strings.Split(f[2], ","))
			}
			for _, r := range strings.Split(f[3]+","+f[4], ",") {
				if r != "" {
					x.rates[r] = true
				}
			}
		} else {
			x.versions["sflow5"] = true
			n, _ := strconv.Atoi(f[5])
			x.records += n
			for _, r := range strings.Split(f[6], ",") {
				x.rates[r] = true
			}
		}
	}
	wantVersion := map[string]string{"netflow_v5": "5", "netflow_v9": "9", "ipfix": "10", "sflow_v5": "sflow5"}
	for i, st := range stats {
		addr := s.Exporters[i].Address
		x := by[addr]
		if x == nil {
			t.Fatalf("%s: tshark saw no datagrams from %s", st.ID, addr)
		}
		if st.Records == 0 {
			t.Errorf("%s: wrote no records", st.ID)
		}
		if x.records != st.Records || x.datagrams != st.Datagrams {
			t.Errorf("%s: tshark read %d records in %d datagrams; flowgen wrote %d in %d", st.ID, x.records, x.datagrams, st.Records, st.Datagrams)
		}
		if !x.versions[wantVersion[st.Protocol.String()]] || len(x.versions) != 1 {
			t.Errorf("%s: versions %v, want %s", st.ID, x.versions, wantVersion[st.Protocol.String()])
		}
		if st.Sampling > 1 && !x.rates[strconv.Itoa(int(st.Sampling))] {
			t.Errorf("%s: tshark sampling fields %v, want %d", st.ID, x.rates, st.Sampling)
		}
		t.Logf("%s %s 1:%d: %d records in %d datagrams (tshark agrees: %d/%d) sampling %v", st.ID, st.Protocol, st.Sampling, st.Records, st.Datagrams, x.records, x.datagrams, x.rates)
	}

	// The same capture through the exporter's own decoder gives back the
	// simulator's records: count, packets and bytes per exporter (sampled
	// counts come back scaled by the rate the packets carry, so within the
	// rounding of one packet per record) and the sampling rate.
	type sum struct {
		n                int
		pkts, bytes      uint64
		rates            map[uint32]bool
		pktSlack, bSlack uint64
	}
	want, got := map[netip.Addr]*sum{}, map[netip.Addr]*sum{}
	add := func(m map[netip.Addr]*sum, r *flow.Record) {
		x := m[r.Exporter]
		if x == nil {
			x = &sum{rates: map[uint32]bool{}}
			m[r.Exporter] = x
		}
		x.n++
		x.pkts += r.Packets
		x.bytes += r.Bytes
		x.rates[r.SamplingRate] = true
		if r.SamplingRate > 1 {
			x.pktSlack += uint64(r.SamplingRate)
			x.bSlack += uint64(r.SamplingRate) * 1500
		}
	}
	var r flow.Record
	for i := range res.Records {
		res.Record(i, &r)
		add(want, &r)
	}
	if _, err := replay.File(path, flow.NewDecoder(flow.Options{}), replay.Options{}, func(r *flow.Record) { add(got, r) }); err != nil {
		t.Fatal(err)
	}
	for addr, w := range want {
		g := got[addr]
		if g == nil {
			t.Errorf("decoder: no records from %s", addr)
			continue
		}
		if g.n != w.n || len(g.rates) != 1 || !g.rates[firstKey(w.rates)] {
			t.Errorf("decoder: %s gave %d records at rates %v, simulator %d at %v", addr, g.n, g.rates, w.n, w.rates)
		}
		if diff(g.pkts, w.pkts) > w.pktSlack || diff(g.bytes, w.bytes) > w.bSlack {
			t.Errorf("decoder: %s packets %d bytes %d, simulator %d and %d", addr, g.pkts, g.bytes, w.pkts, w.bytes)
		}
		t.Logf("decoder %s: %d records, %d packets, %d bytes; simulator %d, %d, %d", addr, g.n, g.pkts, g.bytes, w.n, w.pkts, w.bytes)
	}
}

func firstKey(m map[uint32]bool) uint32 {
	for k := range m {
		return k
	}
	return 0
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
