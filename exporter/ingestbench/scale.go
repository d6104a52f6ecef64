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

// ScaleCase is one shape of network for the state-scale run.
type ScaleCase struct {
	Name            string `json:"name"`
	Hosts           int    `json:"hosts"`
	SessionsPerHost int    `json:"sessions_per_host"` // distinct remote endpoints per host (1: one record per host)
}

// ScaleCases are 10k, 100k, … hosts up to maxHosts (one record each, one
// host in a thousand talking to the pool), then, with sessions, the two
// shapes that stress a host's session table: one host talking to 10,000
// remote endpoints and 10,000 hosts with 50 each.
func ScaleCases(maxHosts int, sessions bool) []ScaleCase {
	var out []ScaleCase
	for n := 10_000; n < maxHosts; n *= 10 {
		out = append(out, ScaleCase{Name: hostsName(n) + " hosts", Hosts: n, SessionsPerHost: 1})
	}
	if maxHosts > 0 {
		out = append(out, ScaleCase{Name: hostsName(maxHosts) + " hosts", Hosts: maxHosts, SessionsPerHost: 1})
	}
	if sessions {
		out = append(out, ScaleCase{Name: "1 host × 10k endpoints", Hosts: 1, SessionsPerHost: 10_000},
			ScaleCase{Name: "10k hosts × 50 sessions", Hosts: 10_000, SessionsPerHost: 50})
	}
	return out
}

// options shape the case's traffic: every host reached, each with its
// SessionsPerHost endpoints, one host in a thousand talking to the pool
// (suspects counts them).
func (c ScaleCase) options() (o Options, suspects int) {
	const minerEach = 1000
	sph := max(c.SessionsPerHost, 1)
	o = Options{Hosts: c.Hosts, Records: c.Hosts * sph, Remotes: 100_000, Sequential: true, MinerEach: minerEach, SessionsPerHost: sph}
	if sph > 1 {
		o.Remotes = c.Hosts * sph // every session its own endpoint
	}
	if c.Hosts == 1 {
		o.MinerEach = -1 // a lone host talking to the pool would be a miner, not a busy host
		return o, 0
	}
	return o, (c.Hosts + minerEach - 1) / minerEach
}

func hostsName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// The scale run's pacing: well below the loss-free rate, so that every
// record arrives; the cost pass lasts one evaluation period of the exporter
// (server.tickEvery), so it always holds exactly one evaluation.
const (
	scaleRate     = 100_000.0
	scaleCostPass = 5 * time.Second
	scaleSettle   = 6 * time.Second // one more evaluation, so the gauges and series are current
)

// ScaleTime estimates how long the cases take.
func ScaleTime(cases []ScaleCase) time.Duration {
	var d time.Duration
	for _, c := range cases {
		recs := c.Hosts * max(c.SessionsPerHost, 1)
		d += time.Duration(float64(recs)/scaleRate*float64(time.Second)) + scaleCostPass + scaleSettle + 2*time.Second
	}
	return d
}

// Scale is the exporter's state after meeting a network of a given shape.
type Scale struct {
	ScaleCase
	RecordsSent  int64   `json:"records_sent"`
	RecordsLost  float64 `json:"records_lost"` // sent minus minewatch_flow_records_total
	Suspects     int     `json:"hosts_talking_to_the_pool"`
	HostsTracked float64 `json:"hosts_tracked"`
	StateBytes   float64 `json:"state_bytes"`
	BytesPerHost float64 `json:"state_bytes_per_host"`
	IdleRSS      int64   `json:"idle_rss_bytes"` // after start, before any record
	PeakRSS      int64   `json:"peak_rss_bytes"`
	RSSPerHost   float64 `json:"rss_per_host"` // (peak − idle) / hosts tracked
	// CPUPerRecord is the exporter's CPU time over the cost pass (every
	// record again, state warm, one evaluation included) per record, ns.
	CPUPerRecord float64 `json:"cpu_ns_per_record"`
	HostSeries   int     `json:"per_host_series"` // samples with an ip label in /metrics: what is pushed to VictoriaMetrics
	TotalSeries  int     `json:"series"`
}

// RunScale feeds a fresh exporter the case's records (building its state),
// then the same records again for scaleCostPass while counting its CPU, and
// reads its state gauges, its memory and the series it exposes.
func RunScale(ctx context.Context, ex Exporter, c ScaleCase, workdir string) (*Scale, error) {
	o, suspects := c.options()
	sc := &Scale{ScaleCase: c, Suspects: suspects}
	t := Build(flow.NetFlowV9, o)
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
	defer pr.Stop()
	if err := waitUDP(ctx, port); err != nil {
		return nil, err
	}
	sc.IdleRSS = pr.rss()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	build := time.Duration(float64(t.TotalRecs)/scaleRate*float64(time.Second)) + 200*time.Millisecond
	s1, err := Send(ctx, dst, t, scaleRate, build)
	if err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)
	cpu0, _ := pr.groupUsage()
	s2, err := Send(ctx, dst, t, scaleRate, scaleCostPass)
	cpu1, _ := pr.groupUsage()
	if err != nil {
		return nil, err
	}
	if s2.Records > 0 {
		sc.CPUPerRecord = float64((cpu1 - cpu0).Nanoseconds()) / float64(s2.Records)
	}
	sc.RecordsSent = s1.Records + s2.Records
	time.Sleep(scaleSettle)
	text, err := scrape(pr.http + "/metrics")
	pr.usage()
	if err != nil {
		return nil, err
	}
	sc.RecordsLost = max(0, float64(sc.RecordsSent)-sumMetric(text, "minewatch_flow_records_total"))
	sc.HostsTracked = sumMetric(text, "minewatch_state_hosts")
	sc.StateBytes = sumMetric(text, "minewatch_state_bytes")
	sc.HostSeries, sc.TotalSeries = countSeries(text)
	sc.PeakRSS = pr.PeakRSS
	if sc.HostsTracked > 0 {
		sc.BytesPerHost = sc.StateBytes / sc.HostsTracked
		sc.RSSPerHost = float64(sc.PeakRSS-sc.IdleRSS) / sc.HostsTracked
	}
	return sc, nil
}

// countSeries counts the samples of a Prometheus text exposition, and those
// of them about one host (an ip label).
func countSeries(text string) (perHost, total int) {
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		total++
		if strings.Contains(l, `ip="`) {
			perHost++
		}
	}
	return perHost, total
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
	if err := waitUDP(ctx, port); err != nil {
		return err
	}
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
