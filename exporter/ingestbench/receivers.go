package ingestbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	"github.com/minewatch/minewatch/exporter/proc"
)

// Receiver is one collector under test. Each rate step starts a fresh one.
type Receiver interface {
	Name() string
	Supports(p flow.Protocol) bool
	// Start runs the collector listening on 127.0.0.1:port, working in dir.
	Start(ctx context.Context, p flow.Protocol, port int, dir string) (*Proc, error)
	// Finish stops it and says how many records it took in, from its own
	// counters or output.
	Finish(pr *Proc, sent Sent) (records float64, err error)
}

// Proc is a running collector.
type Proc struct {
	*proc.Proc
	dir     string
	proto   flow.Protocol
	http    string // metrics address, for those that have one
	started time.Time
	// Usage is read just before the collector is stopped.
	CPU     time.Duration // user+system time of its process group
	PeakRSS int64         // sum of the group's peak resident sizes, bytes
}

func startProc(dir, bin string, p flow.Protocol, args ...string) (*Proc, error) {
	var dp *proc.Proc
	err := onReceiverCPUs(func() (err error) {
		dp, err = proc.Start(filepath.Base(bin), bin, filepath.Join(dir, filepath.Base(bin)+".log"), args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Proc{Proc: dp, dir: dir, proto: p, started: time.Now()}, nil
}

// waitHTTP waits until url answers, stopping the collector if it does not.
func (p *Proc) waitHTTP(ctx context.Context, url string) error {
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := proc.WaitHTTP(wctx, p.Proc, url); err != nil {
		p.Stop()
		return err
	}
	return nil
}

// usage reads the process group's CPU time and peak memory into p, just
// before it is stopped.
func (p *Proc) usage() { p.CPU, p.PeakRSS = p.groupUsage() }

// groupUsage sums user+system CPU time and peak RSS over the process group
// (nfacctd runs its plugins as child processes).
func (p *Proc) groupUsage() (cpu time.Duration, peakRSS int64) {
	pgid := p.Pid()
	ents, _ := os.ReadDir("/proc")
	var ticks int64
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
				peakRSS += kb << 10
			}
		}
	}
	return time.Duration(ticks) * time.Second / 100, peakRSS // USER_HZ is 100 on Linux
}

// rss is the group's current resident size, bytes.
func (p *Proc) rss() int64 {
	var sum int64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g != p.Pid() {
			continue
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			if m := vmRSS.FindSubmatch(st); m != nil {
				kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
				sum += kb << 10
			}
		}
	}
	return sum
}

var vmRSS = regexp.MustCompile(`VmRSS:\s+(\d+) kB`)

// waitUDP waits until some process has a UDP socket bound to port on
// loopback or any address (/proc/net/udp, udp6): a collector that answers
// on HTTP may not have bound its flow socket yet (goflow2 serves /metrics
// first), and one with no readiness endpoint (nfcapd, pmacct) is ready then.
func waitUDP(ctx context.Context, port int) error {
	want := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
			b, _ := os.ReadFile(f)
			for _, l := range strings.Split(string(b), "\n") {
				if fs := strings.Fields(l); len(fs) > 1 && strings.HasSuffix(fs[1]+" ", want) {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing bound UDP port %d within 20 s", port)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

// scrape reads a Prometheus text exposition.
func scrape(url string) (string, error) {
	r, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	return string(b), err
}

// sumMetric adds the values of every sample of the named metric whose
// labels contain all of the given fragments.
func sumMetric(text, name string, fragments ...string) float64 {
	var sum float64
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, name) || len(l) == len(name) || (l[len(name)] != '{' && l[len(name)] != ' ') {
			continue
		}
		match := true
		for _, f := range fragments {
			match = match && strings.Contains(l, f)
		}
		if v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64); match && err == nil {
			sum += v
		}
	}
	return sum
}

// scrapeAndStop reads the named counter, then the usage, then stops.
func (p *Proc) scrapeAndStop(name string, fragments ...string) (float64, error) {
	text, err := scrape(p.http + "/metrics")
	p.usage()
	p.Stop()
	return sumMetric(text, name, fragments...), err
}

// The exporter's asset ledger and pool list under test (and in the state
// benchmark): the whole of 10.0.0.0/8 one campus, the traffic's pool listed.
const (
	benchLedger = "units:\n  - id: campus\n    name: 压测校园\n    sector: school\n    cidrs: [10.0.0.0/8]\n"
	benchPools  = "198.51.100.7:3333,XMR,bench\n"
)

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
	// pprof on: the scale run captures CPU and allocation profiles (scale.go).
	cfg := fmt.Sprintf("listen:\n  netflow: %s\n  sflow: %s\n  http: \"127.0.0.1:%d\"\n  pprof: true\nledger:\n  files: [ledger.yaml]\nintel:\n  files: [pools.txt]\nlog:\n  level: warn\n", nf, sf, hp)
	files := map[string]string{"exporter.yml": cfg, "ledger.yaml": benchLedger, "pools.txt": benchPools}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	pr, err := startProc(dir, e.Bin, p, "--config.file="+filepath.Join(dir, "exporter.yml"))
	if err != nil {
		return nil, err
	}
	pr.http = fmt.Sprintf("http://127.0.0.1:%d", hp)
	return pr, pr.waitHTTP(ctx, pr.http+"/-/healthy")
}

func (Exporter) Finish(pr *Proc, _ Sent) (float64, error) {
	return pr.scrapeAndStop("minewatch_flow_records_total")
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
	pr, err := startProc(dir, g.Bin, p, "-listen", fmt.Sprintf("%s://127.0.0.1:%d", scheme, port),
		"-format", "bin", "-transport", "file", "-transport.file", os.DevNull, "-addr", fmt.Sprintf("127.0.0.1:%d", hp), "-loglevel", "warn")
	if err != nil {
		return nil, err
	}
	pr.http = fmt.Sprintf("http://127.0.0.1:%d", hp)
	return pr, pr.waitHTTP(ctx, pr.http+"/metrics")
}

func (Goflow2) Finish(pr *Proc, _ Sent) (float64, error) {
	text, err := scrape(pr.http + "/metrics")
	pr.usage()
	pr.Stop()
	return goflow2Records(pr.proto, text), err
}

// goflow2Records reads the records goflow2 took in from its /metrics text.
// For sFlow the records are flow samples (one sampled packet each):
// …_sf_samples_total{type="FlowSample"}. …_sf_samples_records_total counts the
// records inside samples (packet header, extended data), and counter samples
// are no flows.
func goflow2Records(p flow.Protocol, text string) float64 {
	if p == flow.SFlowV5 {
		return sumMetric(text, "goflow2_flow_process_sf_samples_total", `type="FlowSample"`)
	}
	return sumMetric(text, "goflow2_flow_process_nf_flowset_records_total", `type="DataFlowSet"`)
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
	pr, err := startProc(dir, n.Bin, p, "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-w", out, "-t", "3600", "-B", strconv.Itoa(32<<20))
	if err != nil {
		return nil, err
	}
	return pr, nil // no readiness endpoint: step waits for the bound socket
}

var flowsLine = regexp.MustCompile(`(?m)^Flows: (\d+)$`)

func (n Nfcapd) Finish(pr *Proc, _ Sent) (float64, error) {
	pr.usage()
	pr.Stop() // flushes the current file
	out, err := exec.Command(n.Nfdump, "-R", filepath.Join(pr.dir, "flows"), "-I").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("nfdump -I: %v: %s", err, out)
	}
	f := flowsLine.FindSubmatch(out)
	if f == nil {
		return 0, fmt.Errorf("nfdump -I printed no Flows line: %s", out)
	}
	return strconv.ParseFloat(string(f[1]), 64)
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
	return startProc(dir, bin, p, "-f", path) // step waits for the bound socket
}

func (Pmacct) Finish(pr *Proc, sent Sent) (float64, error) {
	pr.usage()
	pr.StopWith(syscall.SIGINT)
	b, err := os.ReadFile(filepath.Join(pr.dir, "out.csv"))
	if err != nil {
		return 0, fmt.Errorf("pmacct wrote no output: %w", err)
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
		return 0, nil
	}
	return float64(sent.Records) * byts / float64(sent.Bytes), nil
}
