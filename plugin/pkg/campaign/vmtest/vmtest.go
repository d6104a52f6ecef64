// Package vmtest starts a real VictoriaMetrics (Debian's victoria-metrics)
// for tests, on 127.0.0.1 and a free port, and seeds it with samples.
package vmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minewatch/minewatch/exporter/proc"
	"github.com/minewatch/minewatch/exporter/testsupport"
)

// VM is a running VictoriaMetrics single node.
type VM struct {
	URL string
	cmd *exec.Cmd
}

// Binary finds victoria-metrics through testsupport.Require (skipped without
// it, failed under CI).
func Binary(t testing.TB) string {
	t.Helper()
	return testsupport.Require(t, "victoria-metrics")
}

func freePort(t testing.TB) int {
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Start runs victoria-metrics until the test ends.
func Start(t testing.TB) *VM {
	t.Helper()
	bin := Binary(t)
	port := freePort(t)
	cmd := exec.Command(bin,
		"-storageDataPath="+t.TempDir(),
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", port),
		"-retentionPeriod=100y",
		"-search.disableCache",
		"-search.latencyOffset=0",
		"-loggerLevel=ERROR",
	)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	vm := &VM{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(vm.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return vm
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("victoria-metrics did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Import posts Prometheus text lines (with millisecond timestamps) to
// /api/v1/import/prometheus.
func (vm *VM) Import(t testing.TB, lines []string) {
	t.Helper()
	const chunk = 50000
	for i := 0; i < len(lines); i += chunk {
		j := min(i+chunk, len(lines))
		body := strings.Join(lines[i:j], "\n") + "\n"
		resp, err := http.Post(vm.URL+"/api/v1/import/prometheus", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("import: %s: %s", resp.Status, b)
		}
	}
}

// Flush makes imported samples searchable.
func (vm *VM) Flush(t testing.TB) {
	t.Helper()
	resp, err := http.Get(vm.URL + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Sample is one series of an instant query's answer.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant query at the current time (/api/v1/query) and
// returns its series; an error answer, or one that is not a vector, fails
// the test.
func (vm *VM) Query(t testing.TB, query string) []Sample {
	t.Helper()
	resp, err := http.Get(vm.URL + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" || r.Data.ResultType != "vector" {
		t.Fatalf("query %s: %s %v: %s", query, resp.Status, err, body)
	}
	out := make([]Sample, len(r.Data.Result))
	for i, s := range r.Data.Result {
		text, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", query, s.Value[1], err)
		}
		out[i] = Sample{Metric: s.Metric, Value: v}
	}
	return out
}
