package main_test

// These tests run the real minewatch-exporter binary, built once by TestMain,
// as an operator would: config file, signals, HTTP on loopback.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

var exporterBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "minewatch-exporter-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exporterBin = filepath.Join(dir, "minewatch-exporter")
	if out, err := exec.Command("go", "build", "-o", exporterBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testLedger = `units:
  - id: no1
    name: 第一中学
    sector: school
    lead: {name: 张老师, email: lead@no1.example.edu.cn}
    cidrs: [10.20.0.0/16]
assets:
  - {ip: 10.20.3.21, unit: no1, name: 实验楼301 GPU工作站, kind: gpu-workstation, location: 实验楼301, department: 信息中心, owner: 李老师}
`

type syncBuffer = testsupport.SyncBuffer

// exporter is one running minewatch-exporter process.
type exporter struct {
	t       *testing.T
	cmd     *exec.Cmd
	log     *syncBuffer
	base    string // http://127.0.0.1:port
	nfPort  int
	done    chan struct{}
	waitErr error
	client  *http.Client
	user    string // basic auth for get, when set
	pass    string
}

// startExporter writes config.yaml (cfg, with %d for the HTTP then the
// NetFlow port) into dir and runs the binary with it plus args, waiting until
// it says it started.
func startExporter(t *testing.T, dir, cfg string, args ...string) *exporter {
	t.Helper()
	cfgPath, httpPort, nfPort := writeConfigIn(t, dir, cfg)
	e := &exporter{t: t, log: &syncBuffer{}, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), nfPort: nfPort,
		done: make(chan struct{}), client: &http.Client{Timeout: 10 * time.Second}}
	e.cmd = exec.Command(exporterBin, append([]string{"--config.file=" + cfgPath}, args...)...)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.waitErr = e.cmd.Wait(); close(e.done) }()
	t.Cleanup(e.kill)
	e.waitLog("minewatch-exporter started", 30*time.Second)
	return e
}

// writeConfigIn writes dir/config.yaml from cfg (with %d for the HTTP then
// the NetFlow port, free ones) and returns its path and the ports.
func writeConfigIn(t *testing.T, dir, cfg string) (path string, httpPort, nfPort int) {
	t.Helper()
	httpPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if nfPort, err = proc.FreeUDPPort(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(cfg, httpPort, nfPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, httpPort, nfPort
}

// waitLog waits until the log holds s; it fails if the process ends first.
func (e *exporter) waitLog(s string, limit time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(e.log.String(), s) {
		select {
		case <-e.done:
			e.t.Fatalf("exporter exited (%v) before logging %q:\n%s", e.waitErr, s, e.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("exporter did not log %q within %s:\n%s", s, limit, e.log.String())
		}
	}
}

func (e *exporter) signal(sig syscall.Signal) {
	e.t.Helper()
	if err := e.cmd.Process.Signal(sig); err != nil {
		e.t.Fatal(err)
	}
}

// stop sends sig and waits for the process to end.
func (e *exporter) stop(sig syscall.Signal) {
	e.t.Helper()
	e.signal(sig)
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		e.t.Fatalf("exporter did not stop on %v", sig)
	}
}

func (e *exporter) kill() {
	select {
	case <-e.done:
	default:
		e.cmd.Process.Kill()
		<-e.done
	}
}

// get fetches a path, returning status and body.
func (e *exporter) get(path string, mod ...func(*http.Request)) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.user != "" {
		req.SetBasicAuth(e.user, e.pass)
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricLine returns the sample line of /metrics starting with prefix, "" if none.
func (e *exporter) metricLine(prefix string) string {
	e.t.Helper()
	_, body := e.get("/metrics")
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// waitMetric waits until /metrics has a line starting with prefix.
func (e *exporter) waitMetric(prefix string) string {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if l := e.metricLine(prefix); l != "" {
			return l
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s in /metrics within 30s", prefix)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func runBinary(args ...string) (string, error) {
	out, err := exec.Command(exporterBin, args...).CombinedOutput()
	return string(out), err
}
