package replay

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

func sflowDir(tb testing.TB) string {
	tb.Helper()
	return testsupport.Shared(tb, "testdata", "real-exports", "sflow-pcaps")
}

// tcpdumpSamples reads tcpdump's -v decode beside a capture: for each flow
// sample, its sampling rate and the frame length of its raw packet header.
func tcpdumpSamples(t *testing.T, path string) (n int, bytes uint64) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sample := regexp.MustCompile(`flow sample \(\d+\), .* rate (\d+),`)
	frame := regexp.MustCompile(`protocol \w+ \(\d+\), length (\d+),`)
	var rate uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := sample.FindStringSubmatch(sc.Text()); m != nil {
			rate, _ = strconv.ParseUint(m[1], 10, 64)
			n++
		} else if m := frame.FindStringSubmatch(sc.Text()); m != nil && rate > 0 {
			l, _ := strconv.ParseUint(m[1], 10, 64)
			bytes += l * rate
			rate = 0
		}
	}
	return n, bytes
}

func TestSFlowCapturesMatchTcpdump(t *testing.T) {
	for _, name := range []string{"sflow-print-v6", "sflow_expanded", "sflow_multiple_counter_30_pdus", "sflow_print-segv"} {
		t.Run(name, func(t *testing.T) {
			wantN, wantBytes := tcpdumpSamples(t, filepath.Join(sflowDir(t), name+".out"))
			d := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()})
			var n int
			var bytes uint64
			var recs []flow.Record
			st, err := File(filepath.Join(sflowDir(t), name+".pcap"), d, Options{}, func(r *flow.Record) {
				n++
				bytes += r.Bytes
				recs = append(recs, *r)
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != wantN || bytes != wantBytes {
				t.Errorf("decoded %d samples, %d bytes; tcpdump: %d samples, %d bytes", n, bytes, wantN, wantBytes)
			}
			if st.Records != int64(n) || st.Datagrams == 0 || st.First.IsZero() || st.Last.Before(st.First) {
				t.Errorf("stats %+v", st)
			}
			for _, r := range recs {
				if !r.Src.IsValid() || !r.Dst.IsValid() || r.Packets != uint64(r.SamplingRate) || r.Start < st.First.UnixMilli() || r.Start > st.Last.UnixMilli() {
					t.Errorf("bad record %+v", r)
				}
			}
			switch name {
			case "sflow_print-segv": // an 8-byte sFlow datagram
				if st.Errors != 1 {
					t.Errorf("truncated datagram: %d errors", st.Errors)
				}
			case "sflow_multiple_counter_30_pdus": // five NetFlow v5 datagrams on the sFlow port
				if st.Errors != 5 {
					t.Errorf("NetFlow v5 on the sFlow port: %d errors, want 5", st.Errors)
				}
				var v5 int
				if _, err := File(filepath.Join(sflowDir(t), name+".pcap"), d, Options{Mode: Auto}, func(r *flow.Record) {
					if r.Protocol == flow.NetFlowV5 {
						v5++
					}
				}); err != nil || v5 == 0 {
					t.Errorf("auto mode: %d v5 records, %v", v5, err)
				}
			}
		})
	}
}
