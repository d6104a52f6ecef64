package sim

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minewatch/minewatch/exporter/encode"
)

// TestPcapAgreesWithTshark writes the tiny scenario's exports into a pcap and
// checks with tshark, independently of our encoders, the record count,
// protocol version and sampling rate of every exporter.
func TestPcapAgreesWithTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("tshark not installed (Debian package tshark)")
		}
		t.Fatal("tshark is required in CI: apt-get install tshark")
	}
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
}
