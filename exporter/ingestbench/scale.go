package ingestbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minewatch/minewatch/exporter/flow"
	"github.com/minewatch/minewatch/exporter/proc"
)

// Scale is the exporter's state after meeting many distinct hosts.
type Scale struct {
	HostsSent    int     `json:"hosts_sent"`
	Suspects     int     `json:"hosts_talking_to_the_pool"`
	HostsTracked float64 `json:"hosts_tracked"`
	StateBytes   float64 `json:"state_bytes"`
	BytesPerHost float64 `json:"state_bytes_per_host"`
	PeakRSS      int64   `json:"peak_rss_bytes"`
	RSSPerHost   float64 `json:"peak_rss_per_host"`
	HostSeries   int     `json:"per_host_series"` // samples with an ip label in /metrics: what is pushed to VictoriaMetrics
	TotalSeries  int     `json:"series"`
}

// RunScale sends one record from each of `hosts` distinct internal hosts (one
// in a thousand talking to the pool) to a fresh exporter and reads its state
// gauges, its peak memory and the series it exposes.
func RunScale(ctx context.Context, ex Exporter, hosts int, workdir string) (*Scale, error) {
	const minerEach = 1000
	t := Build(flow.NetFlowV9, Options{Hosts: hosts, Records: hosts, Remotes: 100_000, Sequential: true, MinerEach: minerEach})
	dir, err := os.MkdirTemp(workdir, "scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	port, err := proc.FreeUDPPort()
	if err != nil {
		return nil, err
	}
	pr, err := ex.Start(ctx, flow.NetFlowV9, port, dir)
	if err != nil {
		return nil, err
	}
	// Well below the loss-free rate, so that every host arrives.
	const rate = 200_000.0
	dur := time.Duration(float64(t.TotalRecs)/rate*float64(time.Second)) + 200*time.Millisecond
	if _, err := Send(ctx, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, t, rate, dur); err != nil {
		pr.Stop()
		return nil, err
	}
	time.Sleep(12 * time.Second) // two evaluations, so the gauges are current
	sc := &Scale{HostsSent: hosts, Suspects: (hosts + minerEach - 1) / minerEach}
	text, err := scrape(pr.http + "/metrics")
	pr.usage()
	pr.Stop()
	if err != nil {
		return nil, err
	}
	sc.HostsTracked = sumMetric(text, "minewatch_state_hosts")
	sc.StateBytes = sumMetric(text, "minewatch_state_bytes")
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		sc.TotalSeries++
		if strings.Contains(l, `ip="`) {
			sc.HostSeries++
		}
	}
	sc.PeakRSS = pr.PeakRSS
	if sc.HostsTracked > 0 {
		sc.BytesPerHost = sc.StateBytes / sc.HostsTracked
		sc.RSSPerHost = float64(sc.PeakRSS) / sc.HostsTracked
	}
	return sc, nil
}

// Profile runs the exporter at rate records/s of t for dur and saves a CPU
// profile of the middle of the run and the allocation profile after it, as
// .pprof files and as `go tool pprof -top` text, into out.
func Profile(ctx context.Context, ex Exporter, t *Traffic, rate float64, dur time.Duration, workdir, out string) error {
	dir, err := os.MkdirTemp(workdir, "profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := proc.FreeUDPPort()
	if err != nil {
		return err
	}
	pr, err := ex.Start(ctx, t.Protocol, port, dir)
	if err != nil {
		return err
	}
	defer pr.Stop()
	done := make(chan error, 1)
	go func() {
		_, err := Send(ctx, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, t, rate, dur)
		done <- err
	}()
	time.Sleep(time.Second)
	secs := int((dur - 2*time.Second).Seconds())
	cpu, err := scrape(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", pr.http, secs))
	if err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	allocs, err := scrape(pr.http + "/debug/pprof/allocs")
	if err != nil {
		return err
	}
	for name, data := range map[string]string{"cpu.pprof": cpu, "allocs.pprof": allocs} {
		path := filepath.Join(out, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return err
		}
		args := []string{"tool", "pprof", "-top", "-nodecount=25"}
		if name == "allocs.pprof" {
			args = append(args, "-sample_index=alloc_space")
		}
		txt, err := exec.Command("go", append(args, ex.Bin, path)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof: %v: %s", err, txt)
		}
		if err := os.WriteFile(strings.TrimSuffix(path, ".pprof")+".txt", txt, 0o644); err != nil {
			return err
		}
	}
	return nil
}
