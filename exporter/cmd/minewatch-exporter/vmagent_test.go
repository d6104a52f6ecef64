package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// The documented deployment: exporter → vmagent (disk buffer) → VictoriaMetrics.
// VictoriaMetrics is stopped for three minutes while the exporter keeps
// pushing; once it is back, every push made meanwhile is in it, in order.
//
// The exporter's own metrics_push_total rises by one per push and each push
// carries the value before it, so the series must hold every whole number
// from its first value to its last: a missing push is a missing number, with
// no assumption about timing.
func TestVictoriaMetricsOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-minute outage")
	}
	vmBin := testsupport.Require(t, "victoria-metrics", "victoria-metrics-prod")
	agentBin := testsupport.Require(t, "vmagent", "vmagent-prod")
	dir := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"vm1", "vm2", "vmagent"} {
				b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
				t.Logf("%s.log:\n%s", name, b)
			}
		}
	})
	vmPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	agentPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	vmURL := fmt.Sprintf("http://127.0.0.1:%d", vmPort)
	agentURL := fmt.Sprintf("http://127.0.0.1:%d", agentPort)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	startVM := func(name string) *proc.Proc {
		p, err := proc.Start(name, vmBin, filepath.Join(dir, name+".log"), "-storageDataPath="+filepath.Join(dir, "vm"),
			fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", vmPort), "-retentionPeriod=1", "-search.latencyOffset=0s")
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.WaitHTTP(ctx, p, vmURL+"/health"); err != nil {
			p.Stop()
			t.Fatal(err)
		}
		return p
	}
	vm := startVM("vm1")
	defer func() { vm.Stop() }()
	agent, err := proc.Start("vmagent", agentBin, filepath.Join(dir, "vmagent.log"),
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", agentPort),
		"-remoteWrite.url="+vmURL+"/api/v1/write",
		"-remoteWrite.tmpDataPath="+filepath.Join(dir, "vmagent-buffer"),
		"-remoteWrite.maxDiskUsagePerURL=1GB")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop()
	if err := proc.WaitHTTP(ctx, agent, agentURL+"/health"); err != nil {
		t.Fatal(err)
	}

	os.WriteFile(filepath.Join(dir, "ledger.yaml"), []byte(testLedger), 0o644)
	e := startExporter(t, dir, `listen:
  http: "127.0.0.1:%d"
  netflow: "127.0.0.1:%d"
  sflow: ""
ledger:
  files: [ledger.yaml]
push:
  url: `+agentURL+`/api/v1/import/prometheus
  interval: 2s
`)
	pushes := `metrics_push_total{url="` + agentURL + `/api/v1/import/prometheus"}`
	begin := time.Now()

	// Some pushes reach VictoriaMetrics directly through vmagent.
	waitFor(t, "first pushes in VictoriaMetrics", time.Minute, func() bool {
		http.Get(vmURL + "/internal/force_flush")
		return len(exportSamples(t, vmURL, pushes, begin)) >= 5
	})

	stopping := time.Now()
	vm.Stop()
	down := time.Now()
	t.Logf("VictoriaMetrics stopped in %s", down.Sub(stopping).Round(time.Millisecond))
	pendingMax := 0.0
	for time.Since(down) < outage {
		time.Sleep(5 * time.Second)
		pendingMax = max(pendingMax, agentPending(t, agentURL))
	}
	up := time.Now()
	pushedDuringOutage := e.metricValue(pushes)
	vm = startVM("vm2")
	if pendingMax <= 0 {
		t.Errorf("vmagent never reported buffered data while VictoriaMetrics was down")
	}
	t.Logf("outage %s: up to %.0f bytes buffered on disk by vmagent", up.Sub(down).Round(time.Second), pendingMax)

	// vmagent retries with back-off (blocks that failed while in flight are
	// retried by their worker, up to a minute apart, beside the disk queue):
	// wait until the series is whole, or report the holes.
	var samples []sample
	whole := func() bool {
		if len(samples) == 0 || samples[len(samples)-1].v < pushedDuringOutage {
			return false
		}
		for i := 1; i < len(samples); i++ {
			if samples[i].v != samples[i-1].v+1 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		http.Get(vmURL + "/internal/force_flush")
		samples = exportSamples(t, vmURL, pushes, begin)
		if whole() && agentPending(t, agentURL) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	e.stop(syscall.SIGTERM)

	inOutage := 0
	for i, s := range samples {
		if i > 0 && s.v != samples[i-1].v+1 {
			t.Errorf("gap: push %v at %s follows push %v at %s", s.v, s.t.Format(time.TimeOnly), samples[i-1].v, samples[i-1].t.Format(time.TimeOnly))
		}
		if s.t.After(down) && s.t.Before(up) {
			inOutage++
		}
	}
	if len(samples) == 0 || samples[len(samples)-1].v < pushedDuringOutage {
		t.Fatalf("pushes up to %v not delivered", pushedDuringOutage)
	}
	// Samples keep the time vmagent received them, not the delivery time.
	if want := int(up.Sub(down)/(2*time.Second)) - 2; inOutage < want {
		t.Errorf("%d samples stamped inside the %s outage, want one per 2 s push (at least %d)", inOutage, up.Sub(down).Round(time.Second), want)
	}
	t.Logf("%d pushes in VictoriaMetrics (%v..%v), %d of them made while it was down", len(samples), samples[0].v, samples[len(samples)-1].v, inOutage)
}

// outage is how long VictoriaMetrics stays down.
var outage = 3 * time.Minute

type sample struct {
	t time.Time
	v float64
}

// exportSamples returns the raw samples of one series since from, in time order.
func exportSamples(t *testing.T, vmURL, selector string, from time.Time) []sample {
	t.Helper()
	q := url.Values{"match[]": {selector}, "start": {strconv.FormatInt(from.Add(-time.Minute).Unix(), 10)}}
	resp, err := http.Get(vmURL + "/api/v1/export?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	n := 0
	for sc.Scan() {
		var line struct {
			Values     []float64
			Timestamps []int64
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export: %v: %s", err, sc.Bytes())
		}
		for i := range line.Values {
			out = append(out, sample{time.UnixMilli(line.Timestamps[i]), line.Values[i]})
		}
		n++
	}
	if n > 1 {
		t.Fatalf("export of %s: %d series, want 1", selector, n)
	}
	return out
}

// agentPending is the bytes vmagent holds for remote storage that did not
// take them yet.
func agentPending(t *testing.T, agentURL string) float64 {
	t.Helper()
	resp, err := http.Get(agentURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sum := 0.0
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "vmagent_remotewrite_pending_data_bytes") {
			v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			sum += v
		}
	}
	return sum
}
