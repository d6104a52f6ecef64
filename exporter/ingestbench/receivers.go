package ingestbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
)

// Receiver is one collector under test. Each rate step starts a fresh one.
type Receiver interface {
	Name() string
	Supports(p flow.Protocol) bool
	// Start runs the collector listening on 127.0.0.1:port, working in dir.
	Start(ctx context.Context, p flow.Protocol, port int, dir string) (*Proc, error)
	// Finish stops it and says how many records (and bytes) it took in, from
	// its own counters or output.
	Finish(pr *Proc, sent Sent) (records, bytes float64, err error)
}

// Proc is a running collector.
type Proc struct {
	cmd     *exec.Cmd
	log     *os.File
	dir     string
	port    int
	proto   flow.Protocol
	http    string // metrics address, for those that have one
	started time.Time
	// Usage is read just before the collector is stopped.
	CPU     time.Duration // user+system time of its process group
	PeakRSS int64         // sum of the group's peak resident sizes, bytes
}

func startProc(ctx context.Context, dir, name string, args ...string) (*Proc, error) {
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = log, log, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Proc{cmd: cmd, log: log, dir: dir, started: time.Now()}, nil
}

// usage sums CPU time and peak RSS over the process group (nfacctd runs its
// plugins as child processes).
func (p *Proc) usage() {
	pgid := p.cmd.Process.Pid
	ents, _ := os.ReadDir("/proc")
	var ticks int64
	var rss int64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		if len(f) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgid {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			if m := vmHWM.FindSubmatch(st); m != nil {
				kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
				rss += kb << 10
			}
		}
	}
	p.CPU = time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
	p.PeakRSS = rss
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

// stop sends SIGTERM (SIGINT for pmacct, which flushes on it) and waits.
func (p *Proc) stop(sig syscall.Signal) {
	syscall.Kill(-p.cmd.Process.Pid, sig) //nolint:errcheck // may be gone
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }() //nolint:errcheck // exit status of a killed collector
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // last resort
		<-done
	}
	p.log.Close()
}

// waitHTTP waits until url answers 200.
func waitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", url, d)
}

// sumMetric adds the values of every sample of the named metrics whose
// labels contain all of the given fragments.
func sumMetric(url string, names []string, fragments ...string) (float64, error) {
	r, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	var sum float64
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		name := l
		if i := strings.IndexAny(l, "{ "); i >= 0 {
			name = l[:i]
		}
		match := false
		for _, n := range names {
			match = match || name == n
		}
		for _, f := range fragments {
			match = match && strings.Contains(l, f)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// Exporter is minewatch-exporter, run from its binary.
type Exporter struct {
	Bin      string
	HTTPPort func() (int, error)
}

func (Exporter) Name() string                  { return "minewatch-exporter" }
func (Exporter) Supports(p flow.Protocol) bool { return true }

func (e Exporter) Start(ctx context.Context, p flow.Protocol, port int, dir string) (*Proc, error) {
	hp, err := e.HTTPPort()
	if err != nil {
		return nil, err
	}
	nf, sf := fmt.Sprintf("127.0.0.1:%d", port), `""`
	if p == flow.SFlowV5 {
		nf, sf = `""`, fmt.Sprintf("127.0.0.1:%d", port)
	}
	cfg := fmt.Sprintf("listen:\n  netflow: %s\n  sflow: %s\n  http: \"127.0.0.1:%d\"\nledger:\n  files: [ledger.yaml]\nintel:\n  files: [pools.txt]\nlog:\n  level: warn\n", nf, sf, hp)
	files := map[string]string{
		"exporter.yml": cfg,
		"ledger.yaml":  "units:\n  - id: campus\n    name: 压测校园\n    sector: school\n    cidrs: [10.0.0.0/8]\n",
		"pools.txt":    "198.51.100.7:3333,XMR,bench\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	pr, err := startProc(ctx, dir, e.Bin, "--config.file="+filepath.Join(dir, "exporter.yml"))
	if err != nil {
		return nil, err
	}
	pr.http = fmt.Sprintf("http://127.0.0.1:%d", hp)
	if err := waitHTTP(pr.http+"/-/healthy", 20*time.Second); err != nil {
		pr.stop(syscall.SIGTERM)
		return nil, err
	}
	return pr, nil
}

func (Exporter) Finish(pr *Proc, _ Sent) (float64, float64, error) {
	n, err := sumMetric(pr.http+"/metrics", []string{"minewatch_flow_records_total"})
	pr.usage()
	pr.stop(syscall.SIGTERM)
	return n, -1, err
}

// Goflow2 is goflow2's own collector writing its protobuf output to /dev/null.
type Goflow2 struct {
	Bin      string
	HTTPPort func() (int, error)
}

func (Goflow2) Name() string                  { return "goflow2" }
func (Goflow2) Supports(p flow.Protocol) bool { return true }

func (g Goflow2) Start(ctx context.Context, p flow.Protocol, port int, dir string) (*Proc, error) {
	hp, err := g.HTTPPort()
	if err != nil {
		return nil, err
	}
	scheme := "netflow"
	if p == flow.SFlowV5 {
		scheme = "sflow"
	}
	pr, err := startProc(ctx, dir, g.Bin, "-listen", fmt.Sprintf("%s://127.0.0.1:%d", scheme, port),
		"-format", "bin", "-transport", "file", "-transport.file", os.DevNull, "-addr", fmt.Sprintf("127.0.0.1:%d", hp), "-loglevel", "warn")
	if err != nil {
		return nil, err
	}
	pr.http, pr.proto = fmt.Sprintf("http://127.0.0.1:%d", hp), p
	if err := waitHTTP(pr.http+"/metrics", 20*time.Second); err != nil {
		pr.stop(syscall.SIGTERM)
		return nil, err
	}
	return pr, nil
}

func (Goflow2) Finish(pr *Proc, _ Sent) (float64, float64, error) {
	var n float64
	var err error
	if pr.proto == flow.SFlowV5 {
		n, err = sumMetric(pr.http+"/metrics", []string{"goflow2_flow_process_sf_samples_records_total"})
	} else {
		n, err = sumMetric(pr.http+"/metrics", []string{"goflow2_flow_process_nf_flowset_records_total"}, `type="DataFlowSet"`)
		if pr.proto == flow.IPFIX {
			var m float64
			m, err = sumMetric(pr.http+"/metrics", []string{"goflow2_flow_process_nf_flowset_records_total"}, `type="DataFlowSet"`, `version="10"`)
			n = m
		}
	}
	pr.usage()
	pr.stop(syscall.SIGTERM)
	return n, -1, err
}

// Nfcapd is nfdump's collector (NetFlow and IPFIX; Debian's nfdump has no sfcapd).
type Nfcapd struct{ Bin, Nfdump string }

func (Nfcapd) Name() string                  { return "nfcapd" }
func (Nfcapd) Supports(p flow.Protocol) bool { return p != flow.SFlowV5 }

func (n Nfcapd) Start(ctx context.Context, p flow.Protocol, port int, dir string) (*Proc, error) {
	out := filepath.Join(dir, "flows")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	pr, err := startProc(ctx, dir, n.Bin, "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-w", out, "-t", "3600", "-B", strconv.Itoa(32<<20))
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // no readiness endpoint: give it a second to bind
	return pr, nil
}

var flowsLine = regexp.MustCompile(`(?m)^Flows: (\d+)$`)
var bytesLine = regexp.MustCompile(`(?m)^Bytes: (\d+)$`)

func (n Nfcapd) Finish(pr *Proc, _ Sent) (float64, float64, error) {
	pr.usage()
	pr.stop(syscall.SIGTERM) // flushes the current file
	out, err := exec.Command(n.Nfdump, "-R", filepath.Join(pr.dir, "flows"), "-I").CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("nfdump -I: %v: %s", err, out)
	}
	f, b := flowsLine.FindSubmatch(out), bytesLine.FindSubmatch(out)
	if f == nil || b == nil {
		return 0, 0, fmt.Errorf("nfdump -I printed no Flows/Bytes lines: %s", out)
	}
	flows, _ := strconv.ParseFloat(string(f[1]), 64)
	byts, _ := strconv.ParseFloat(string(b[1]), 64)
	return flows, byts, nil
}

// Pmacct is pmacct's nfacctd (NetFlow, IPFIX) or sfacctd (sFlow) with the
// print plugin aggregating by protocol into a CSV file written on exit. Its
// output has bytes, not records: records taken in are estimated as the
// sent records times the share of bytes that arrived.
type Pmacct struct{ Nfacctd, Sfacctd string }

func (Pmacct) Name() string                  { return "pmacct" }
func (Pmacct) Supports(p flow.Protocol) bool { return true }

func (m Pmacct) Start(ctx context.Context, p flow.Protocol, port int, dir string) (*Proc, error) {
	bin, kind := m.Nfacctd, "nfacctd"
	if p == flow.SFlowV5 {
		bin, kind = m.Sfacctd, "sfacctd"
	}
	conf := fmt.Sprintf(`daemonize: false
%[1]s_ip: 127.0.0.1
%[1]s_port: %[2]d
%[1]s_pipe_size: %[4]d
plugins: print[all]
aggregate[all]: proto
print_output_file[all]: %[3]s
print_output[all]: csv
print_refresh_time[all]: 3600
plugin_buffer_size[all]: 10240
plugin_pipe_size[all]: 10240000
`, kind, port, filepath.Join(dir, "out.csv"), 32<<20)
	path := filepath.Join(dir, kind+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	pr, err := startProc(ctx, dir, bin, "-f", path)
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	return pr, nil
}

func (Pmacct) Finish(pr *Proc, sent Sent) (float64, float64, error) {
	pr.usage()
	pr.stop(syscall.SIGINT)
	b, err := os.ReadFile(filepath.Join(pr.dir, "out.csv"))
	if err != nil {
		return 0, 0, fmt.Errorf("pmacct wrote no output: %w", err)
	}
	var byts float64
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Split(l, ",")
		if len(f) >= 3 {
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			byts += v
		}
	}
	if sent.Bytes == 0 {
		return 0, byts, nil
	}
	return float64(sent.Records) * byts / float64(sent.Bytes), byts, nil
}
