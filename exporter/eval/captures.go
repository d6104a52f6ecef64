package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/intel"
	"github.com/minewatch/minewatch/exporter/ledger"
	"github.com/minewatch/minewatch/exporter/pipeline"
	"github.com/minewatch/minewatch/exporter/score"
)

// Real captures. The simulator is the detector's own picture of mining;
// these are sessions that real miners and pools had (testdata/real-mining-pcaps
// in the shared material, from the peafowl project). softflowd, a real flow
// exporter, turns each into IPFIX exactly as it would on a router port, and
// the exports go through the exporter's own decoder and scorer, once with
// the pools in the intel and once with empty intel (behaviour alone).

// Capture is one real packet capture and what it holds.
type Capture struct {
	File   string   // name in the captures directory
	Mining bool     // the truth: a miner's sessions
	Pools  []string // the pool endpoints it talks to (the intel of the "with intel" run)
	What   string
}

// RealCaptures are the files of testdata/real-mining-pcaps (PROVENANCE.md there).
var RealCaptures = []Capture{
	{"stratum.pcap", true, []string{"94.23.199.191:3333", "116.211.167.195:3333"}, "Zcash Stratum to two pools on 3333, ~18 min"},
	{"zcash.pcap", true, []string{"178.32.196.217:9050"}, "CryptoNote-style login/job/submit on 9050, ~19 min"},
	{"ethereum.pcap", true, []string{"94.23.36.128:4444", "91.121.222.33:4444"}, "Ethereum stratum-proxy on 4444, 2 connections, ~20 min"},
	{"ssl.pcapng", false, nil, "ordinary TLS sessions (not mining)"},
	{"spotify.pcapng", false, nil, "ordinary streaming TCP (not mining)"},
}

// captureNets are the client networks of the captures: internal in the ledger.
const captureLedger = `units:
  - id: capture
    name: 真实抓包 real captures
    sector: institution
    cidrs: [192.168.0.0/16, 172.16.0.0/12, 127.0.0.0/8]
`

// SoftflowdArgs are the exporter settings: IPFIX, flow times from the
// capture (-a), 15 s inactive and 30 min active timeouts like the shipped
// scenarios' routers (and Cisco's default active timeout). softflowd
// expires flows on its own wall-clock timer, not on the capture's clock, and
// reads a 20-minute capture in well under a second: every session comes out
// as one record per direction, exported when softflowd stops, which is what
// a router with a 30 min active timeout exports for sessions this short.
var SoftflowdArgs = []string{"-v", "10", "-a", "-t", "tcp=15", "-t", "udp=15", "-t", "general=15", "-t", "maxlife=1800"}

// Exporter is a real flow exporter reading the captures: "softflowd" or
// "pmacctd" (pmacct's nfprobe plugin), and its binary.
type Exporter struct {
	Name string
	Bin  string
}

// PmacctdConfig is pmacctd's configuration for a capture: IPFIX from the
// nfprobe plugin with the same timeouts as softflowd's. pmacctd reads the
// file, flushes its flows and exits by itself.
const PmacctdConfig = `daemonize: false
pcap_savefile: %s
plugins: nfprobe
nfprobe_receiver: %s
nfprobe_version: 10
nfprobe_timeouts: tcp=15:udp=15:general=15:maxlife=1800
`

// CaptureRow is the outcome of one capture, with or without intel.
type CaptureRow struct {
	Exporter string  `json:"exporter"`
	Capture  string  `json:"capture"`
	Mining   bool    `json:"mining"`
	Intel    bool    `json:"with_intel"`
	Records  int     `json:"records"`
	Flagged  bool    `json:"flagged"`
	TTF      float64 `json:"time_to_flag_s"` // from the first record; -1: not flagged
	Score    float64 `json:"max_score"`
	Span     float64 `json:"capture_span_s"`
	Reasons  string  `json:"reasons,omitempty"` // of the highest-scoring host at its peak
	Verdict  string  `json:"verdict"`           // ok | missed | false_positive
	Datagram int     `json:"datagrams"`
}

// Captures exports each capture of dir with each exporter and scores it
// with and without intel. A capture missing from dir is an error: the
// figures must cover all of them.
func Captures(dir string, exporters []Exporter, cfg score.Config) ([]CaptureRow, error) {
	var rows []CaptureRow
	for _, e := range exporters {
		for _, c := range RealCaptures {
			path := filepath.Join(dir, c.File)
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("real capture: %w", err)
			}
			dgs, err := export(e, path)
			if err != nil {
				return nil, fmt.Errorf("%s of %s: %w", e.Name, c.File, err)
			}
			recs, err := decodeDatagrams(dgs)
			if err != nil {
				return nil, fmt.Errorf("%s of %s: %w", e.Name, c.File, err)
			}
			for _, withIntel := range []bool{false, true} {
				row, err := scoreCapture(c, recs, withIntel, cfg)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.File, err)
				}
				row.Exporter, row.Datagram = e.Name, len(dgs)
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

type datagram struct {
	at time.Time
	b  []byte
}

// export runs the exporter over one capture and collects its IPFIX
// datagrams on a loopback port of our own.
func export(e Exporter, capture string) ([]datagram, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetReadBuffer(8 << 20); err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		got  []datagram
		last time.Time
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			mu.Lock()
			last = time.Now()
			got = append(got, datagram{last, append([]byte(nil), buf[:n]...)})
			mu.Unlock()
		}
	}()
	// softflowd 1.1.0 cuts long paths (its control socket silently past 12
	// characters, -r files past some length): short names under /tmp.
	tmp, err := os.MkdirTemp("/tmp", "mwe")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	in := filepath.Join(tmp, "c"+filepath.Ext(capture))
	if err := copyFile(capture, in); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	switch e.Name {
	case "softflowd":
		// The control socket path must stay within 12 characters; the port is ours alone.
		ctl := fmt.Sprintf("/tmp/m%04d.c", conn.LocalAddr().(*net.UDPAddr).Port%10000)
		defer os.Remove(ctl)
		args := append([]string{"-r", in, "-n", conn.LocalAddr().String(), "-d", "-p", filepath.Join(tmp, "pid"), "-c", ctl}, SoftflowdArgs...)
		cmd = exec.CommandContext(ctx, e.Bin, args...)
	case "pmacctd":
		conf := filepath.Join(tmp, "pmacctd.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(PmacctdConfig, in, conn.LocalAddr())), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.CommandContext(ctx, e.Bin, "-f", conf)
	default:
		return nil, fmt.Errorf("unknown exporter %q (softflowd or pmacctd)", e.Name)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var werr error
	if e.Name == "softflowd" {
		// softflowd keeps running when the file ends and exports what it
		// still tracks on SIGTERM: let it read the file (small: well under a
		// second), then stop it.
		time.Sleep(time.Second)
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	// pmacctd flushes and exits at the end of the file by itself.
	werr = cmd.Wait()
	// Then wait until the exports stop coming.
	for {
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		quiet := time.Since(last) > 300*time.Millisecond
		mu.Unlock()
		if quiet {
			break
		}
	}
	conn.Close()
	<-done
	if len(got) == 0 {
		return nil, fmt.Errorf("%s exported nothing (%v): %s", e.Name, werr, strings.TrimSpace(out.String()))
	}
	return got, nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// decodeDatagrams runs the exporter's decoder over the datagrams as the
// live listener would (received now, from softflowd's address).
func decodeDatagrams(dgs []datagram) ([]flow.Record, error) {
	dec := flow.NewDecoder(flow.Options{Metrics: metrics.NewSet()}) // not the exporter's /metrics set
	src := netip.MustParseAddrPort("127.0.0.1:9995")
	var recs []flow.Record
	var errs []error
	for _, dg := range dgs {
		if err := dec.DecodeNetFlow(src, dg.at, dg.b, func(r *flow.Record) { recs = append(recs, *r) }); err != nil {
			errs = append(errs, err)
		}
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no flow record decoded from %d datagrams: %w", len(dgs), errors.Join(errs...))
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].End < recs[j].End })
	return recs, nil
}

// scoreCapture runs the records through a pipeline on their own clock.
func scoreCapture(c Capture, recs []flow.Record, withIntel bool, cfg score.Config) (CaptureRow, error) {
	row := CaptureRow{Capture: c.File, Mining: c.Mining, Intel: withIntel, Records: len(recs), TTF: -1}
	led, err := ledger.Parse("capture-ledger.yaml", []byte(captureLedger))
	if err != nil {
		return row, err
	}
	st := intel.NewStore(intel.Options{})
	var lists []*intel.List
	if withIntel {
		var b strings.Builder
		for _, p := range c.Pools {
			fmt.Fprintf(&b, "%s,unknown,real-capture\n", p)
		}
		l, err := intel.Parse("capture-pools.txt", []byte(b.String()))
		if err != nil {
			return row, err
		}
		lists = append(lists, l)
	}
	st.Set(intel.NewSet(lists, nil, nil))
	p, err := pipeline.New(pipeline.Options{Ledger: led, Intel: st, Detect: cfg})
	if err != nil {
		return row, err
	}
	first := recs[0].Start
	for i := range recs {
		first = min(first, recs[i].Start)
	}
	row.Span = float64(recs[len(recs)-1].End-first) / 1000
	const tick = 10_000
	next := first + tick
	look := func(now int64) {
		p.Engine().Watched(func(r *score.Report) {
			if r.Score > row.Score {
				row.Score = r.Score
				var why []string
				for _, x := range r.Reasons {
					why = append(why, fmt.Sprintf("%s%+.0f", x.Signal, x.Points))
				}
				row.Reasons = strings.Join(why, " ")
			}
			if r.Mining && !row.Flagged {
				row.Flagged, row.TTF = true, float64(now-first)/1000
			}
		})
	}
	for i := range recs {
		for recs[i].End >= next {
			p.Tick(next)
			look(next)
			next += tick
		}
		p.Process(&recs[i])
	}
	// Evaluate once more an evaluation step after the last record, as the
	// live exporter would before anything expires.
	p.Tick(next)
	look(next)
	switch {
	case c.Mining == row.Flagged:
		row.Verdict = "ok"
	case c.Mining:
		row.Verdict = "missed"
	default:
		row.Verdict = "false_positive"
	}
	return row, nil
}

// WriteCaptures prints the real-capture rows as a table.
func WriteCaptures(w io.Writer, rows []CaptureRow) error {
	fmt.Fprintln(w, "real captures (exporter's IPFIX → decoder → scorer; 真实抓包评估):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "exporter\tcapture\ttruth\tintel\tdatagrams\trecords\tspan\tflagged\tTTF\tmax score\tverdict\treasons")
	for _, r := range rows {
		truth := "ordinary"
		if r.Mining {
			truth = "mining"
		}
		in := "none"
		if r.Intel {
			in = "pools listed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%v\t%s\t%.0f\t%s\t%s\n", r.Exporter, r.Capture, truth, in, r.Datagram, r.Records, dur(r.Span),
			r.Flagged, dur(r.TTF), r.Score, r.Verdict, r.Reasons)
	}
	return tw.Flush()
}
